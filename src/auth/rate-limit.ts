/**
 * Request rate per tenant: a token bucket per tenant, in memory. Pure apart from the
 * injected clock. It is per process: with N API replicas behind a load balancer a
 * tenant gets up to N × the rate (a shared limit would live in Redis).
 */
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
    take(tenantId: string): { ok: true } | { ok: false; retryAfterMs: number } {
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
