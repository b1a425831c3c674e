/**
 * The update bus over Redis pub/sub (REDIS_URL): what aggregators publish, every API
 * replica receives. Same interface and message types as the in-process bus.
 *
 * - Two connections, as Redis requires: a subscriber connection is in subscribe mode
 *   and can do nothing else.
 * - One SUBSCRIBE per tenant channel however many local handlers it has (reference
 *   counted), so a replica receives only the tenants it has subscribers for; a handler's
 *   `onActive` runs once Redis has confirmed the SUBSCRIBE (after a reconnect: the
 *   re-SUBSCRIBE), so its owner knows from when on it misses nothing.
 * - Every received message is validated (channels.ts + the window contracts); a bad
 *   one is logged, counted and dropped.
 * - Delivery is at-most-once. Where loss is possible the bus says so (`subscribeGaps`):
 *   `lost`/`restored` around a subscriber reconnect (ioredis re-subscribes by itself,
 *   `autoResubscribe`; `restored` is sent once that took effect), and `dropped` when a
 *   publish failed — published to the tenant's channel as soon as Redis is back, so
 *   every replica learns about it.
 * - Publishing never waits for a reconnect: while Redis is down updates are dropped
 *   (and marked as such) instead of stalling the aggregator's flush.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { windowUpdateSchema, type Progress, type WindowUpdate } from '../contracts/window.ts';
import type { Logger } from '../observability/logger.ts';
import type { BusGap, Unsubscribe, UpdateBus } from './bus.ts';
import { createChannelMap, progressMessageSchema, tenantMessageSchema, type TenantMessage } from './channels.ts';
import { createBusMetrics, type BusMetrics } from './metrics.ts';

export interface RedisBusOptions {
  redisUrl: string;
  /** Channel names start with it; default `tilecast`. Separate deployments (or test runs) sharing a Redis use different prefixes. */
  channelPrefix?: string;
  logger: Logger;
  metrics?: BusMetrics;
  /** Clock for `dropped` markers when nothing was published yet; default Date.now. */
  clock?: () => number;
}

/** Window updates per published message: bounds message size after a large flush. */
const MAX_UPDATES_PER_MESSAGE = 500;
/** A publish that takes longer fails (and is marked dropped) rather than stalling the flush. */
const PUBLISH_TIMEOUT_MS = 2_000;
// Reconnect quickly and keep trying: a replica without Redis serves stale tiles.
const retryStrategy = (attempt: number): number => Math.min(100 * attempt, 1_000);

type Decoded = { tenantId: string; updates: WindowUpdate[]; dropped: number | null };

export function createRedisBus(o: RedisBusOptions): UpdateBus {
  const { logger } = o;
  const metrics = o.metrics ?? createBusMetrics();
  const clock = o.clock ?? Date.now;
  const prefix = o.channelPrefix ?? 'tilecast';
  const channels = createChannelMap(prefix);
  // Connection names show up in CLIENT LIST: `tilecast-pub:<prefix>`, `tilecast-sub:<prefix>`.
  // The publisher fails fast: no offline queue, and a command in flight when the
  // connection drops is rejected at once (maxRetriesPerRequest 0) instead of resent later.
  // disableClientInfo: ioredis otherwise sends CLIENT SETINFO on connect without waiting, so a
  // SUBSCRIBE queued before the connection was up can slip in between and the second SETINFO
  // then fails in subscriber mode ("only subscriber commands may be used"): the connection
  // is dropped before it was ever ready, so nothing is re-subscribed and the bus stays deaf.
  const base: RedisOptions = { retryStrategy, lazyConnect: false, disableClientInfo: true };
  const pub = new Redis(o.redisUrl, { ...base, connectionName: `tilecast-pub:${prefix}`, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: PUBLISH_TIMEOUT_MS });
  const sub = new Redis(o.redisUrl, { ...base, connectionName: `tilecast-sub:${prefix}`, autoResubscribe: true, maxRetriesPerRequest: null });

  /** Per tenant channel: its handlers, whether Redis confirmed the SUBSCRIBE, and who waits for that. */
  interface TenantSub {
    handlers: Set<(u: WindowUpdate) => void>;
    active: boolean;
    waiting: Set<() => void>;
  }
  const tenantSubs = new Map<string, TenantSub>();
  const progressHandlers = new Set<(p: Progress) => void>();
  const gapHandlers = new Set<(g: BusGap) => void>();

  const warn = throttledWarn(logger);
  for (const [name, conn] of [['publisher', pub], ['subscriber', sub]] as const) {
    conn.on('error', (err: Error) => warn(`redis ${name}: ${err.message}`));
  }

  function call<T>(handlers: Iterable<(x: T) => void>, value: T): void {
    for (const h of handlers) {
      try {
        h(value);
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'bus handler failed');
      }
    }
  }

  // ---- receiving -------------------------------------------------------------------

  function decode(channel: string, raw: string): Decoded | null {
    const tenantId = channels.tenantOf(channel);
    let message: TenantMessage;
    try {
      if (tenantId === null) throw new Error('not a tenant channel');
      message = tenantMessageSchema.parse(JSON.parse(raw));
    } catch (err) {
      metrics.received.inc({ channel: 'windows', outcome: 'invalid' });
      warn(`invalid message on ${channel}: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
      return null;
    }
    if (message.type === 'dropped') return { tenantId, updates: [], dropped: message.since };
    const updates: WindowUpdate[] = [];
    for (const item of message.updates) {
      const parsed = windowUpdateSchema.safeParse(item);
      // A tenant's channel carries only that tenant's windows: anything else would leak.
      if (parsed.success && parsed.data.tenantId === tenantId) {
        updates.push(parsed.data);
        metrics.received.inc({ channel: 'windows', outcome: 'ok' });
      } else {
        metrics.received.inc({ channel: 'windows', outcome: 'invalid' });
        warn(`invalid window update on ${channel}: ${parsed.success ? 'tenant does not match the channel' : parsed.error.issues[0]?.message}`);
      }
    }
    return { tenantId, updates, dropped: null };
  }

  sub.on('message', (channel: string, raw: string) => {
    if (channel === channels.progress) {
      const parsed = safeJson(raw, (v) => progressMessageSchema.safeParse(v));
      metrics.received.inc({ channel: 'progress', outcome: parsed ? 'ok' : 'invalid' });
      if (parsed) call(progressHandlers, parsed);
      else warn(`invalid progress message: ${raw.slice(0, 200)}`);
      return;
    }
    const d = decode(channel, raw);
    if (!d) return;
    if (d.dropped !== null) {
      metrics.gaps.inc({ kind: 'dropped' });
      call(gapHandlers, { kind: 'dropped', tenantId: d.tenantId, since: d.dropped });
    }
    const handlers = tenantSubs.get(d.tenantId)?.handlers;
    if (handlers) for (const u of d.updates) call(handlers, u);
  });

  /** Marks the tenants' subscriptions active once `subscribed` (their SUBSCRIBE) resolves, and tells who waits. */
  function confirm(tenantIds: readonly string[], subscribed: Promise<unknown>): void {
    const entries = tenantIds.map((id) => [id, tenantSubs.get(id)] as const);
    subscribed.then(
      () => {
        for (const [id, t] of entries) {
          if (!t || tenantSubs.get(id) !== t || !subReady) continue; // unsubscribed meanwhile, or lost again
          t.active = true;
          const waiting = [...t.waiting];
          t.waiting.clear();
          for (const f of waiting) call([f], undefined);
        }
      },
      (err: unknown) => warn(`redis subscribe failed: ${String(err)}`),
    );
  }

  // ---- reconnects ------------------------------------------------------------------

  let subReady = false;
  let subLost = false;
  sub.on('close', () => {
    if (!subReady) return; // a failed reconnect attempt: already reported
    subReady = false;
    subLost = true;
    for (const t of tenantSubs.values()) t.active = false;
    metrics.gaps.inc({ kind: 'lost' });
    logger.warn('redis subscriber connection lost; live updates paused');
    call(gapHandlers, { kind: 'lost' });
  });
  sub.on('ready', () => {
    subReady = true;
    // Subscribe again to every channel we hold handlers for. A SUBSCRIBE queued while the
    // connection was still being set up can be lost (seen through a TCP proxy: the
    // connection came up with no channel at all), and autoResubscribe only restores what
    // Redis had confirmed. Subscribing to a channel twice is a no-op in Redis.
    const tenants = [...tenantSubs.keys()];
    const held = tenants.map((tenantId) => channels.windows(tenantId));
    if (progressHandlers.size > 0) held.push(channels.progress);
    if (held.length > 0) confirm(tenants, sub.subscribe(...held));
    if (!subLost) return;
    subLost = false;
    // 'ready' is emitted after ioredis has re-sent SUBSCRIBE/PSUBSCRIBE for every
    // channel it had (autoResubscribe). A PING queued behind them is answered once they
    // are in effect: from then on nothing published is missed.
    sub
      .ping()
      .then(() => {
        metrics.gaps.inc({ kind: 'restored' });
        logger.info({ channels: tenantSubs.size }, 'redis subscriber reconnected and resubscribed');
        call(gapHandlers, { kind: 'restored' });
      })
      .catch((err: unknown) => warn(`redis subscriber ping after reconnect failed: ${String(err)}`));
  });

  // ---- publishing ------------------------------------------------------------------

  /** processedThrough of the newest progress this bus published: updates published after it come from flushes started at or after it. */
  let lastProgressAt = clock();
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
    for (const [tenantId, since] of pending) pipeline.publish(channels.windows(tenantId), JSON.stringify({ type: 'dropped', since } satisfies TenantMessage));
    const results = await pipeline.exec().catch(() => null);
    pending.forEach(([tenantId, since], i) => {
      const ok = results !== null && results[i]?.[0] == null;
      if (ok && dropped.get(tenantId) === since) dropped.delete(tenantId);
    });
  }
  pub.on('ready', () => void publishDropMarkers());

  async function publishWindows(updates: readonly WindowUpdate[]): Promise<void> {
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
      for (let i = 0; i < list.length; i += MAX_UPDATES_PER_MESSAGE) {
        const chunk = list.slice(i, i + MAX_UPDATES_PER_MESSAGE);
        pipeline.publish(channels.windows(tenantId), JSON.stringify({ type: 'windows', updates: chunk } satisfies TenantMessage));
        sent.push({ tenantId, count: chunk.length });
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
  }

  // ---- subscriptions (reference counted) -------------------------------------------

  const redisCall = (what: string, p: Promise<unknown>) => void p.catch((err: unknown) => warn(`redis ${what} failed: ${String(err)}`));

  function onlyOnce(f: () => void): Unsubscribe {
    let done = false;
    return () => {
      if (!done) {
        done = true;
        f();
      }
    };
  }

  return {
    publishWindows,
    async publishProgress(p) {
      lastProgressAt = p.processedThrough;
      if (pub.status !== 'ready') {
        metrics.published.inc({ channel: 'progress', outcome: 'dropped_disconnected' });
        return;
      }
      try {
        await pub.publish(channels.progress, JSON.stringify(p));
        metrics.published.inc({ channel: 'progress', outcome: 'ok' });
      } catch (err) {
        // A lost tick only delays freshness until the next one.
        metrics.published.inc({ channel: 'progress', outcome: 'failed' });
        warn(`redis progress publish failed: ${String(err)}`);
      }
    },
    subscribeWindows(tenantId, handler, onActive) {
      let t = tenantSubs.get(tenantId);
      if (!t) {
        tenantSubs.set(tenantId, (t = { handlers: new Set(), active: false, waiting: new Set() }));
        confirm([tenantId], sub.subscribe(channels.windows(tenantId)));
      }
      const mine = t;
      mine.handlers.add(handler);
      if (onActive && mine.active) onActive();
      else if (onActive) mine.waiting.add(onActive);
      return onlyOnce(() => {
        mine.handlers.delete(handler);
        if (onActive) mine.waiting.delete(onActive);
        if (mine.handlers.size === 0 && tenantSubs.get(tenantId) === mine) {
          tenantSubs.delete(tenantId);
          redisCall('unsubscribe', sub.unsubscribe(channels.windows(tenantId)));
        }
      });
    },
    subscribeProgress(handler) {
      if (progressHandlers.size === 0) redisCall('subscribe', sub.subscribe(channels.progress));
      progressHandlers.add(handler);
      return onlyOnce(() => {
        progressHandlers.delete(handler);
        if (progressHandlers.size === 0) redisCall('unsubscribe', sub.unsubscribe(channels.progress));
      });
    },
    subscribeGaps(handler) {
      gapHandlers.add(handler);
      return () => gapHandlers.delete(handler);
    },
    async close() {
      tenantSubs.clear();
      progressHandlers.clear();
      gapHandlers.clear();
      sub.disconnect();
      await pub.quit().catch(() => pub.disconnect());
    },
  };
}

function safeJson<T>(raw: string, parse: (v: unknown) => { success: true; data: T } | { success: false }): T | null {
  try {
    const r = parse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** At most one warning per 10 s (with how many were suppressed): a broken publisher or a Redis outage must not flood the log. */
function throttledWarn(logger: Logger, everyMs = 10_000) {
  let last = 0;
  let suppressed = 0;
  return (msg: string) => {
    const now = Date.now();
    if (now - last < everyMs) {
      suppressed += 1;
      return;
    }
    logger.warn({ suppressed }, msg);
    last = now;
    suppressed = 0;
  };
}
