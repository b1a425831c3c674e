/**
 * Once per `vitest run`: when TILECAST_TEST_REDIS_URL is not given, a private
 * redis-server on a free port serves the tests that need Redis (test files run in
 * forked workers, which inherit this process's environment). Without redis-server
 * installed, one line says how to get it; only the tests that need Redis then fail.
 */
import { REDIS_MISSING, redisServerInstalled, startRedisServer, type RedisServer } from './helpers/redis.ts';

let redis: RedisServer | null = null;

export async function setup(): Promise<void> {
  if (process.env.TILECAST_TEST_REDIS_URL) return;
  if (!redisServerInstalled()) {
    console.warn(`tests that need Redis will fail: ${REDIS_MISSING}`);
    return;
  }
  redis = await startRedisServer({ label: 'run' });
  process.env.TILECAST_TEST_REDIS_URL = redis.url;
}

export async function teardown(): Promise<void> {
  await redis?.close();
}
