/**
 * The Redis bus's local subscribers, reference counted: one SUBSCRIBE per tenant channel
 * however many local handlers it has, so a replica receives only the tenants it has
 * subscribers for. A handler's `onActive` runs once Redis has confirmed the SUBSCRIBE
 * (after a reconnect: the re-SUBSCRIBE), so its owner knows from when on it misses nothing.
 * Received messages are dispatched here to the handlers of their channel.
 */
import type { Redis } from 'ioredis';
import type { Progress, WindowUpdate } from '../contracts/window.ts';
import type { Logger } from '../observability/logger.ts';
import type { BusGap, Unsubscribe } from './bus.ts';
import type { ChannelMap } from './channels.ts';
import type { BusMetrics } from './metrics.ts';
import type { MessageDecoder } from './redis-codec.ts';

/** Per tenant channel: its handlers, whether Redis confirmed the SUBSCRIBE, and who waits for that. */
interface TenantSubscription {
  handlers: Set<(u: WindowUpdate) => void>;
  active: boolean;
  waiting: Set<() => void>;
}

export function createSubscriptions(o: {
  sub: Redis;
  channels: ChannelMap;
  decoder: MessageDecoder;
  logger: Logger;
  metrics: BusMetrics;
  warn: (msg: string) => void;
  /** Whether the subscriber connection is up: a SUBSCRIBE confirmed after it was lost again activates nothing. */
  isReceiving: () => boolean;
}) {
  const { sub, channels, logger, metrics, warn } = o;
  const tenantSubs = new Map<string, TenantSubscription>();
  const progressHandlers = new Set<(p: Progress) => void>();
  const gapHandlers = new Set<(g: BusGap) => void>();

  const call = <T>(handlers: Iterable<(x: T) => void>, value: T): void => callEach(logger, handlers, value);
  const redisCall = (what: string, p: Promise<unknown>) => void p.catch((err: unknown) => warn(`redis ${what} failed: ${String(err)}`));

  /** Marks the tenants' subscriptions active once `subscribed` (their SUBSCRIBE) resolves, and tells who waits. */
  function confirm(tenantIds: readonly string[], subscribed: Promise<unknown>): void {
    const entries = tenantIds.map((id) => [id, tenantSubs.get(id)] as const);
    subscribed.then(
      () => {
        for (const [id, t] of entries) {
          if (!t || tenantSubs.get(id) !== t || !o.isReceiving()) continue; // unsubscribed meanwhile, or lost again
          t.active = true;
          const waiting = [...t.waiting];
          t.waiting.clear();
          for (const f of waiting) call([f], undefined);
        }
      },
      (err: unknown) => warn(`redis subscribe failed: ${String(err)}`),
    );
  }

  sub.on('message', (channel: string, raw: string) => {
    if (channel === channels.progress) {
      const p = o.decoder.progress(raw);
      if (p) call(progressHandlers, p);
      return;
    }
    const d = o.decoder.tenant(channel, raw);
    if (!d) return;
    if (d.dropped !== null) {
      metrics.gaps.inc({ kind: 'dropped' });
      call(gapHandlers, { kind: 'dropped', tenantId: d.tenantId, since: d.dropped });
    }
    const handlers = tenantSubs.get(d.tenantId)?.handlers;
    if (handlers) for (const u of d.updates) call(handlers, u);
  });

  return {
    /** The subscriber connection closed: nothing arrives until it is restored. */
    lost(): void {
      for (const t of tenantSubs.values()) t.active = false;
      metrics.gaps.inc({ kind: 'lost' });
      logger.warn('redis subscriber connection lost; live updates paused');
      call(gapHandlers, { kind: 'lost' });
    },
    /**
     * The subscriber connection is (again) up: subscribe again to every channel held. A
     * SUBSCRIBE queued while the connection was still being set up can be lost (seen
     * through a TCP proxy: the connection came up with no channel at all), and
     * autoResubscribe only restores what Redis had confirmed. Subscribing to a channel
     * twice is a no-op in Redis.
     */
    resubscribe(): void {
      const tenants = [...tenantSubs.keys()];
      const held = tenants.map((tenantId) => channels.windows(tenantId));
      if (progressHandlers.size > 0) held.push(channels.progress);
      if (held.length > 0) confirm(tenants, sub.subscribe(...held));
    },
    /** Receiving again after `lost`, every channel re-subscribed. */
    restored(): void {
      metrics.gaps.inc({ kind: 'restored' });
      logger.info({ channels: tenantSubs.size }, 'redis subscriber reconnected and resubscribed');
      call(gapHandlers, { kind: 'restored' });
    },
    windows(tenantId: string, handler: (u: WindowUpdate) => void, onActive?: () => void): Unsubscribe {
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
    progress(handler: (p: Progress) => void): Unsubscribe {
      if (progressHandlers.size === 0) redisCall('subscribe', sub.subscribe(channels.progress));
      progressHandlers.add(handler);
      return onlyOnce(() => {
        progressHandlers.delete(handler);
        if (progressHandlers.size === 0) redisCall('unsubscribe', sub.unsubscribe(channels.progress));
      });
    },
    gaps(handler: (g: BusGap) => void): Unsubscribe {
      gapHandlers.add(handler);
      return () => gapHandlers.delete(handler);
    },
    clear(): void {
      tenantSubs.clear();
      progressHandlers.clear();
      gapHandlers.clear();
    },
  };
}

/** Calls every handler; one that throws is logged and does not keep the value from the others. */
function callEach<T>(logger: Logger, handlers: Iterable<(x: T) => void>, value: T): void {
  for (const h of handlers) {
    try {
      h(value);
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'bus handler failed');
    }
  }
}

function onlyOnce(f: () => void): Unsubscribe {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}
