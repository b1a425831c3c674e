/**
 * The update bus over Redis pub/sub (REDIS_URL): what aggregators publish, every API
 * replica receives. Same interface and message types as the in-process bus. Its parts:
 *
 * - redis-connections.ts: the publisher and subscriber connections, and the subscriber's
 *   reconnects (`lost`, `ready`, `restored`).
 * - redis-subscriptions.ts: local handlers, one reference-counted SUBSCRIBE per tenant
 *   channel, `onActive` once Redis confirmed it; dispatch of received messages.
 * - redis-publisher.ts: publishing without waiting for a reconnect; `dropped` markers.
 * - redis-codec.ts: messages in and out; every received one is validated (a bad one is
 *   logged, counted and dropped).
 *
 * Delivery is at-most-once. Where loss is possible the bus says so (`subscribeGaps`):
 * `lost`/`restored` around a subscriber reconnect (ioredis re-subscribes by itself,
 * `autoResubscribe`; `restored` is sent once that took effect), and `dropped` when a
 * publish failed — published to the tenant's channel as soon as Redis is back, so every
 * replica learns about it.
 */
import type { Logger } from '../observability/logger.ts';
import type { UpdateBus } from './bus.ts';
import { createChannelMap } from './channels.ts';
import { createBusMetrics, type BusMetrics } from './metrics.ts';
import { createMessageDecoder } from './redis-codec.ts';
import { openBusConnections, throttledWarn, watchSubscriber } from './redis-connections.ts';
import { createPublisher } from './redis-publisher.ts';
import { createSubscriptions } from './redis-subscriptions.ts';

export interface RedisBusOptions {
  redisUrl: string;
  /** Channel names start with it; default `tilecast`. Separate deployments (or test runs) sharing a Redis use different prefixes. */
  channelPrefix?: string;
  logger: Logger;
  metrics?: BusMetrics;
  /** Clock for `dropped` markers when nothing was published yet; default Date.now. */
  clock?: () => number;
}

export function createRedisBus(o: RedisBusOptions): UpdateBus {
  const { logger } = o;
  const metrics = o.metrics ?? createBusMetrics();
  const prefix = o.channelPrefix ?? 'tilecast';
  const channels = createChannelMap(prefix);
  const warn = throttledWarn(logger);
  const { pub, sub } = openBusConnections({ redisUrl: o.redisUrl, prefix, warn });

  const decoder = createMessageDecoder({ channels, metrics, warn });
  const subscriptions = createSubscriptions({ sub, channels, decoder, logger, metrics, warn, isReceiving: () => subscriber.isReady() });
  const subscriber = watchSubscriber(sub, {
    lost: () => subscriptions.lost(),
    ready: () => subscriptions.resubscribe(),
    restored: () => subscriptions.restored(),
    warn,
  });
  const publisher = createPublisher({ pub, channels, metrics, warn, clock: o.clock ?? Date.now });

  return {
    publishWindows: publisher.publishWindows,
    publishProgress: publisher.publishProgress,
    subscribeWindows: subscriptions.windows,
    subscribeProgress: subscriptions.progress,
    subscribeGaps: subscriptions.gaps,
    async close() {
      subscriptions.clear();
      sub.disconnect();
      await pub.quit().catch(() => pub.disconnect());
    },
  };
}
