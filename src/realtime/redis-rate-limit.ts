/**
 * The per-tenant request rate shared by every API replica (REDIS_URL): one token bucket
 * per tenant in Redis, so N replicas admit a tenant's rate once, not N times.
 *
 * - One Lua script per decision (refill, take, store, expire) runs atomically in Redis,
 *   with Redis' own clock (`TIME`): replicas' clocks never disagree about refills. The
 *   bucket is the in-process one's (src/auth/rate-limit.ts): same options, same answers.
 *   A bucket expires once it would be full again, so idle tenants hold no keys.
 * - Redis unavailable (down, reconnecting, slower than `timeoutMs`): the decision falls
 *   back to this replica's in-process bucket — the limit then holds per replica, as
 *   without Redis, rather than failing requests or dropping the limit altogether. Each
 *   decision reports which store made it (`onDecision`, a metric in the app), and the
 *   fallback is logged (throttled).
 *
 * Lives in src/realtime/ because ioredis is kept here (eslint layer rules); it implements
 * auth's `TenantRateLimiter` and is handed to the guards by the composition root.
 */
import { Redis } from 'ioredis';
import type { Admission, TenantRateLimiter } from '../auth/rate-limit.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * KEYS[1] the tenant's bucket (hash: tokens `t`, last refill `at` in ms); ARGV[1] tokens per
 * second, ARGV[2] burst. Returns {1, 0} when admitted, {0, ms until a token} when not.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(stored[1])
local at = tonumber(stored[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local admitted = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  admitted = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {admitted, wait}
`;

export type RateLimitStore = 'redis' | 'local';

export interface RedisRateLimiterOptions {
  redisUrl: string;
  /** Keys are `<keyPrefix>:ratelimit:<tenant>` (REDIS_CHANNEL_PREFIX: deployments sharing a Redis stay apart). */
  keyPrefix: string;
  perSecond: number;
  burst: number;
  /** Decides while Redis cannot: this replica's in-process bucket with the same options. */
  local: TenantRateLimiter;
  logger: Logger;
  /** A decision slower than this falls back to `local`; default 100 ms. */
  timeoutMs?: number;
  /** Called once per decision with the store that made it. */
  onDecision?: (store: RateLimitStore, admitted: boolean) => void;
}

type TakeReply = [number, number];

export function createRedisRateLimiter(o: RedisRateLimiterOptions): TenantRateLimiter & { close(): Promise<void> } {
  // Fails fast while disconnected (no offline queue, no resend): the fallback decides instead.
  const redis = new Redis(o.redisUrl, {
    connectionName: `tilecast-ratelimit:${o.keyPrefix}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.timeoutMs ?? 100,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
  });
  redis.defineCommand('tilecastTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  const take = (redis as unknown as { tilecastTakeToken(key: string, perSecond: number, burst: number): Promise<TakeReply> }).tilecastTakeToken.bind(redis);

  let lastWarn = 0;
  const warn = (message: string) => {
    const now = Date.now();
    if (now - lastWarn < 10_000) return;
    lastWarn = now;
    o.logger.warn({ err: message }, 'rate limit: Redis unavailable, limiting per replica until it is back');
  };
  redis.on('error', (err: Error) => warn(err.message));

  return {
    async take(tenantId: string): Promise<Admission> {
      try {
        const [admitted, waitMs] = await take(`${o.keyPrefix}:ratelimit:${tenantId}`, o.perSecond, o.burst);
        o.onDecision?.('redis', admitted === 1);
        return admitted === 1 ? { ok: true } : { ok: false, retryAfterMs: Math.max(1, waitMs) };
      } catch (err) {
        warn(err instanceof Error ? err.message : String(err));
        const decision = await o.local.take(tenantId);
        o.onDecision?.('local', decision.ok);
        return decision;
      }
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
