/** The backfill's deployment-wide lease in Redis: one holder at a time, given back on release, taken over once it expires. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisLease } from '../../src/realtime/redis-lease.ts';
import { testRedisUrl } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS_URL = testRedisUrl();
const prefix = `test-backfill-lease-${process.pid}-${Date.now()}`;
const leases: ReturnType<typeof createRedisLease>[] = [];
const lease = (ttlMs: number, onLost?: () => void) => {
  const l = createRedisLease({ redisUrl: REDIS_URL, prefix, ttlMs, onLost });
  leases.push(l);
  return l;
};
afterAll(async () => {
  for (const l of leases) await l.close();
});

describe('backfill lease (Redis)', () => {
  it('has one holder at a time and passes on release', async () => {
    const a = lease(5_000);
    const b = lease(5_000);
    expect(await a.acquire()).toBe(true);
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(a.held()).toBe(true);
    await a.release();
    expect(a.held()).toBe(false);
    expect(await b.acquire()).toBe(true);
    expect(await a.acquire()).toBe(false);
    await b.release();
  });

  it('stays held while renewed; a holder whose key is gone learns it lost the lease, and another takes it', async () => {
    let lost = false;
    const a = lease(300, () => (lost = true));
    const b = lease(300);
    expect(await a.acquire()).toBe(true);
    await new Promise((r) => setTimeout(r, 900));
    expect(await b.acquire()).toBe(false); // renewed every 100 ms: never expired
    // The key vanishes (expired while the holder was paused, or deleted): the next renewal fails.
    const raw = new Redis(REDIS_URL);
    await raw.del(`${prefix}:backfill:lease`);
    raw.disconnect();
    await waitFor(() => lost, { timeoutMs: 2_000, what: 'the holder to notice' });
    expect(a.held()).toBe(false);
    expect(await b.acquire()).toBe(true);
    await b.release();
  });
});
