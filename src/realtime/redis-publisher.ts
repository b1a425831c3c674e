/**
 * Publishing on the Redis bus. It never waits for a reconnect: while Redis is down
 * updates are dropped (and counted as such) instead of stalling the aggregator's flush.
 * A tenant whose updates could not be published gets a `dropped` marker on its channel
 * as soon as Redis is back (before anything newer), so every replica learns about it.
 */
import type { Redis } from 'ioredis';
import type { Progress, WindowUpdate } from '../contracts/window.ts';
import type { ChannelMap } from './channels.ts';
import type { BusMetrics } from './metrics.ts';
import { encodeDropped, encodeProgress, encodeWindows } from './redis-codec.ts';

export function createPublisher(o: { pub: Redis; channels: ChannelMap; metrics: BusMetrics; warn: (msg: string) => void; clock: () => number }) {
  const { pub, channels, metrics, warn } = o;
  /** processedThrough of the newest progress this bus published: updates published after it come from flushes started at or after it. */
  let lastProgressAt = o.clock();
  /** Tenants whose updates could not be published → since when. */
  const dropped = new Map<string, number>();

  function markDropped(tenantId: string, count: number, outcome: 'failed' | 'dropped_disconnected'): void {
    metrics.published.inc({ channel: 'windows', outcome }, count);
    dropped.set(tenantId, Math.min(dropped.get(tenantId) ?? Infinity, lastProgressAt));
  }

  async function publishDropMarkers(): Promise<void> {
    if (dropped.size === 0 || pub.status !== 'ready') return;
    const pending = [...dropped];
    const pipeline = pub.pipeline();
    for (const [tenantId, since] of pending) pipeline.publish(channels.windows(tenantId), encodeDropped(since));
    const results = await pipeline.exec().catch(() => null);
    pending.forEach(([tenantId, since], i) => {
      const ok = results !== null && results[i]?.[0] == null;
      if (ok && dropped.get(tenantId) === since) dropped.delete(tenantId);
    });
  }
  pub.on('ready', () => void publishDropMarkers());

  return {
    async publishWindows(updates: readonly WindowUpdate[]): Promise<void> {
      if (updates.length === 0) return;
      const byTenant = new Map<string, WindowUpdate[]>();
      for (const u of updates) {
        const list = byTenant.get(u.tenantId);
        if (list) list.push(u);
        else byTenant.set(u.tenantId, [u]);
      }
      if (pub.status !== 'ready') {
        for (const [tenantId, list] of byTenant) markDropped(tenantId, list.length, 'dropped_disconnected');
        return;
      }
      await publishDropMarkers();
      const pipeline = pub.pipeline();
      const sent: { tenantId: string; count: number }[] = [];
      for (const [tenantId, list] of byTenant) {
        for (const { message, count } of encodeWindows(list)) {
          pipeline.publish(channels.windows(tenantId), message);
          sent.push({ tenantId, count });
        }
      }
      const results = await pipeline.exec().catch((err: unknown) => {
        warn(`redis publish failed: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      });
      sent.forEach(({ tenantId, count }, i) => {
        const ok = results !== null && results[i]?.[0] == null;
        if (ok) metrics.published.inc({ channel: 'windows', outcome: 'ok' }, count);
        else markDropped(tenantId, count, 'failed');
      });
    },

    async publishProgress(p: Progress): Promise<void> {
      lastProgressAt = p.processedThrough;
      if (pub.status !== 'ready') {
        metrics.published.inc({ channel: 'progress', outcome: 'dropped_disconnected' });
        return;
      }
      try {
        await pub.publish(channels.progress, encodeProgress(p));
        metrics.published.inc({ channel: 'progress', outcome: 'ok' });
      } catch (err) {
        // A lost tick only delays freshness until the next one.
        metrics.published.inc({ channel: 'progress', outcome: 'failed' });
        warn(`redis progress publish failed: ${String(err)}`);
      }
    },
  };
}
