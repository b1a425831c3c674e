/**
 * Seeds for tests that make random choices (kill points, orders): TILECAST_TEST_SEED when
 * set, else a fresh one. A failure names the seed so the same choices can be replayed.
 */
import { randomInt } from 'node:crypto';

/** TILECAST_TEST_SEED (an unsigned 32-bit integer) or a random seed. */
export function testSeed(): number {
  const given = process.env.TILECAST_TEST_SEED;
  if (given === undefined || given === '') return randomInt(0, 2 ** 32);
  const n = Number(given);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new Error(`TILECAST_TEST_SEED must be an integer in [0, 2^32), got "${given}"`);
  return n;
}

/** Runs `body`; if it throws, the error says which seed to set to replay the run. */
export async function withSeed<T>(seed: number, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const replay = `replay with TILECAST_TEST_SEED=${seed}`;
    if (err instanceof Error) {
      err.message = `${err.message} (${replay})`;
      throw err;
    }
    throw new Error(`${String(err)} (${replay})`);
  }
}
