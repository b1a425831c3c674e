/**
 * The backfill's deployment-wide lease in Redis (src/aggregate/backfill/lease.ts says why):
 * one key set with NX and a TTL holding a random token, renewed by its holder every third
 * of the TTL (compare the token, then PEXPIRE, in one script) and deleted on release
 * (compare, then DEL). A holder that dies stops renewing: the key expires.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Lease } from '../contracts/lease.ts';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export function createRedisLease(o: { redisUrl: string; prefix: string; ttlMs?: number; onLost?: () => void }): Lease {
  const ttlMs = o.ttlMs ?? 30_000;
  const key = `${o.prefix}:backfill:lease`;
  const token = randomUUID();
  const redis = new Redis(o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `tilecast-backfill:${o.prefix}` });
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | null = null;
  let holding = false;
  const lost = () => {
    holding = false;
    if (timer) clearInterval(timer);
    timer = null;
    o.onLost?.();
  };
  return {
    async acquire() {
      if (holding) return true;
      const ok = await redis.set(key, token, 'PX', ttlMs, 'NX');
      if (ok !== 'OK') return false;
      holding = true;
      timer = setInterval(() => {
        redis.eval(RENEW, 1, key, token, String(ttlMs)).then((r) => (r === 1 ? undefined : lost()), lost);
      }, Math.floor(ttlMs / 3));
      timer.unref();
      return true;
    },
    held: () => holding,
    async release() {
      if (timer) clearInterval(timer);
      timer = null;
      if (!holding) return;
      holding = false;
      await redis.eval(RELEASE, 1, key, token);
    },
    async close() {
      await this.release().catch(() => undefined);
      redis.disconnect();
    },
  };
}
