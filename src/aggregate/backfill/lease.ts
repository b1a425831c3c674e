/**
 * One backfill at a time per deployment: a lease the runner holds while it walks the log.
 *
 * With REDIS_URL (every Kafka deployment has one: the API needs it), the lease is one Redis
 * key `<prefix>:backfill:lease` set with NX and a TTL, holding a random token: taken by the
 * first to set it, renewed every third of its TTL by its holder (compare token, then
 * PEXPIRE, in one Lua script), given back on release (compare, then DEL). A holder killed
 * with -9 stops renewing and the key expires, so the next worker or `tilecast backfill`
 * takes over and resumes from the recorded coverage. Redis rather than a ClickHouse row:
 * ClickHouse has no compare-and-set, so two workers could both read "free" and both insert.
 * Without Redis (embedded `start`: chdb opens a data directory in one process at a time, so
 * no other process can backfill it) the lease is held in process memory.
 *
 * (The Redis one is src/realtime/redis-lease.ts: ioredis stays inside src/realtime/.)
 *
 * The lease saves work, it is not what keeps the result exact: two runs racing write the
 * same rows with the same row_version (backfill.ts).
 */
import type { Lease } from '../../contracts/lease.ts';
import { createRedisLease } from '../../realtime/redis-lease.ts';

export type { Lease };

let localHolder: symbol | null = null;

/** The lease within one process (embedded mode). */
export function createLocalLease(): Lease {
  const me = Symbol('backfill');
  return {
    acquire: async () => {
      if (localHolder && localHolder !== me) return false;
      localHolder = me;
      return true;
    },
    held: () => localHolder === me,
    release: async () => {
      if (localHolder === me) localHolder = null;
    },
    close: async () => {
      if (localHolder === me) localHolder = null;
    },
  };
}

/** Redis when the deployment has it, else the process's own. */
export const createLease = (redisUrl: string | undefined, prefix: string): Lease => (redisUrl ? createRedisLease({ redisUrl, prefix }) : createLocalLease());
