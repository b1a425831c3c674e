/**
 * The bus's two Redis connections and how they come back. Redis requires two: a
 * subscriber connection is in subscribe mode and can do nothing else. Both reconnect
 * quickly and keep trying (a replica without Redis serves stale tiles); the publisher
 * fails fast instead of queueing while Redis is away.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.ts';

/** A publish that takes longer fails (and is marked dropped) rather than stalling the flush. */
const PUBLISH_TIMEOUT_MS = 2_000;
const retryStrategy = (attempt: number): number => Math.min(100 * attempt, 1_000);

export function openBusConnections(o: { redisUrl: string; prefix: string; warn: (msg: string) => void }): { pub: Redis; sub: Redis } {
  // Connection names show up in CLIENT LIST: `tilecast-pub:<prefix>`, `tilecast-sub:<prefix>`.
  // The publisher fails fast: no offline queue, and a command in flight when the
  // connection drops is rejected at once (maxRetriesPerRequest 0) instead of resent later.
  // disableClientInfo: ioredis otherwise sends CLIENT SETINFO on connect without waiting, so a
  // SUBSCRIBE queued before the connection was up can slip in between and the second SETINFO
  // then fails in subscriber mode ("only subscriber commands may be used"): the connection
  // is dropped before it was ever ready, so nothing is re-subscribed and the bus stays deaf.
  const base: RedisOptions = { retryStrategy, lazyConnect: false, disableClientInfo: true };
  const pub = new Redis(o.redisUrl, { ...base, connectionName: `tilecast-pub:${o.prefix}`, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: PUBLISH_TIMEOUT_MS });
  const sub = new Redis(o.redisUrl, { ...base, connectionName: `tilecast-sub:${o.prefix}`, autoResubscribe: true, maxRetriesPerRequest: null });
  for (const [name, conn] of [['publisher', pub], ['subscriber', sub]] as const) {
    conn.on('error', (err: Error) => o.warn(`redis ${name}: ${err.message}`));
  }
  return { pub, sub };
}

/**
 * Follows the subscriber connection through reconnects:
 * - `lost` once when a ready connection closes (failed reconnect attempts are not reported again);
 * - `ready` on every (re)connect, for the caller to subscribe again to what it holds;
 * - `restored` after a reconnect, once ioredis's own re-SUBSCRIBEs (`autoResubscribe`) took effect.
 */
export function watchSubscriber(sub: Redis, on: { lost(): void; ready(): void; restored(): void; warn(msg: string): void }): { isReady(): boolean } {
  let ready = false;
  let lost = false;
  sub.on('close', () => {
    if (!ready) return; // a failed reconnect attempt: already reported
    ready = false;
    lost = true;
    on.lost();
  });
  sub.on('ready', () => {
    ready = true;
    on.ready();
    if (!lost) return;
    lost = false;
    // 'ready' is emitted after ioredis has re-sent SUBSCRIBE/PSUBSCRIBE for every
    // channel it had (autoResubscribe). A PING queued behind them is answered once they
    // are in effect: from then on nothing published is missed.
    sub
      .ping()
      .then(() => on.restored())
      .catch((err: unknown) => on.warn(`redis subscriber ping after reconnect failed: ${String(err)}`));
  });
  return { isReady: () => ready };
}

/** At most one warning per 10 s (with how many were suppressed): a broken publisher or a Redis outage must not flood the log. */
export function throttledWarn(logger: Logger, everyMs = 10_000): (msg: string) => void {
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
