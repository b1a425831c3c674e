/** test/helpers/seed.ts: TILECAST_TEST_SEED is read and checked, and a failure names the seed to replay. */
import { afterEach, describe, expect, it } from 'vitest';
import { testSeed, withSeed } from '../helpers/seed.ts';

const saved = process.env.TILECAST_TEST_SEED;
afterEach(() => {
  if (saved === undefined) delete process.env.TILECAST_TEST_SEED;
  else process.env.TILECAST_TEST_SEED = saved;
});

describe('test seeds', () => {
  it('takes TILECAST_TEST_SEED when set, else a random unsigned 32-bit seed', () => {
    process.env.TILECAST_TEST_SEED = '12345';
    expect(testSeed()).toBe(12345);
    delete process.env.TILECAST_TEST_SEED;
    const s = testSeed();
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    process.env.TILECAST_TEST_SEED = 'soon';
    expect(() => testSeed()).toThrow('TILECAST_TEST_SEED must be an integer in [0, 2^32), got "soon"');
  });

  it('a failure says which seed replays it', async () => {
    await expect(withSeed(7, () => Promise.reject(new Error('windows differ')))).rejects.toThrow('windows differ (replay with TILECAST_TEST_SEED=7)');
    await expect(withSeed(7, () => Promise.resolve(3))).resolves.toBe(3);
  });
});
