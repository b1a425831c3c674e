/**
 * The update bus for this process: Redis pub/sub when REDIS_URL is set (API replicas
 * and workers share it), the in-process bus otherwise (embedded default). Both carry
 * the same typed messages through the same `UpdateBus` interface.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.ts';
import { createInProcessBus, type UpdateBus } from './bus.ts';
import { createBusMetrics } from './metrics.ts';
import { createRedisBus } from './redis-bus.ts';

export type { BusGap, Unsubscribe, UpdateBus } from './bus.ts';

export function createUpdateBus(o: {
  redisUrl?: string;
  /** Redis channel prefix; default `tilecast`. */
  channelPrefix?: string;
  logger: Logger;
  /** The app's metrics (only its registry is used); bus metrics are private without it. */
  metrics?: { registry: Registry };
}): UpdateBus {
  if (!o.redisUrl) return createInProcessBus();
  return createRedisBus({ redisUrl: o.redisUrl, channelPrefix: o.channelPrefix, logger: o.logger, metrics: createBusMetrics(o.metrics?.registry) });
}
