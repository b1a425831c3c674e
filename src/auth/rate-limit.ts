/**
 * Request rate per tenant: a token bucket per tenant, in memory. Pure apart from the
 * injected clock. It is per process: with REDIS_URL the replicas share one bucket per
 * tenant instead (src/realtime/redis-rate-limit.ts, same options and answers), and this
 * one decides only while Redis cannot.
 */

/** A rate decision: admitted, or refused with when to try again. */
export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

/** Takes one token from a tenant's bucket: in memory (below) or shared through Redis. */
export interface TenantRateLimiter {
  take(tenantId: string): Admission | Promise<Admission>;
}

export interface RateLimitOptions {
  /** Sustained requests per second per tenant. */
  perSecond: number;
  /** Requests a tenant may send at once after being idle. */
  burst: number;
  clock: () => number;
  /** Buckets kept before idle (full) ones are dropped; default 10,000. */
  maxTenants?: number;
}

export function createRateLimiter(o: RateLimitOptions) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxTenants = o.maxTenants ?? 10_000;

  function refill(b: { tokens: number; at: number }, now: number): void {
    b.tokens = Math.min(o.burst, b.tokens + ((now - b.at) / 1000) * o.perSecond);
    b.at = now;
  }

  return {
    /** Takes one token; `retryAfterMs` > 0 means refused and when to try again. */
    take(tenantId: string): Admission {
      const now = o.clock();
      let b = buckets.get(tenantId);
      if (!b) {
        if (buckets.size >= maxTenants) {
          for (const [k, v] of buckets) {
            refill(v, now);
            if (v.tokens >= o.burst) buckets.delete(k); // a full bucket carries no state worth keeping
          }
        }
        buckets.set(tenantId, (b = { tokens: o.burst, at: now }));
      }
      refill(b, now);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / o.perSecond) * 1000) };
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
