/**
 * The per-tenant rate limiter this process uses for GraphQL requests and websocket
 * subscribe messages: shared by every replica through Redis when REDIS_URL is set
 * (falling back to the in-process bucket while Redis cannot answer), the in-process bucket
 * otherwise. Every decision is counted in `tilecast_rate_limit_decisions_total{store,outcome}`:
 * `store="local"` with REDIS_URL set means Redis was unavailable for that decision.
 */
import { createRateLimiter, type TenantRateLimiter } from '../auth/rate-limit.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { createRedisRateLimiter, type RateLimitStore } from '../realtime/redis-rate-limit.ts';

export function createTenantRateLimiter(o: { config: Config; clock: () => number; logger: Logger; metrics: Pick<Metrics, 'rateLimitDecisions'> }): TenantRateLimiter & { close(): Promise<void> } {
  const { perSecond, burst } = o.config.server.rateLimit;
  const local = createRateLimiter({ perSecond, burst, clock: o.clock });
  const count = (store: RateLimitStore, admitted: boolean) => o.metrics.rateLimitDecisions.inc({ store, outcome: admitted ? 'admitted' : 'limited' });
  if (o.config.redisUrl) {
    return createRedisRateLimiter({ redisUrl: o.config.redisUrl, keyPrefix: o.config.realtime.channelPrefix, perSecond, burst, local, logger: o.logger, onDecision: count });
  }
  return {
    take(tenantId) {
      const decision = local.take(tenantId);
      count('local', decision.ok);
      return decision;
    },
    close: () => Promise.resolve(),
  };
}
