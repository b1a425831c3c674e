/** SERIES_CACHE_* in the config: defaults, the max age falling back to STALE_AFTER_MS, 0 MB = off, bad values refused. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

describe('series cache config', () => {
  it('defaults to 64 MB, 1000 tenants and STALE_AFTER_MS as the max age (also when the max age is empty)', () => {
    expect(loadConfig({ STALE_AFTER_MS: '45000', SERIES_CACHE_MAX_AGE_MS: '' }).seriesCache).toEqual({ maxBytes: 64 * 1024 * 1024, maxTenants: 1000, maxAgeMs: 45_000 });
  });

  it('takes the variables as given; 0 MB turns the cache off', () => {
    expect(loadConfig({ SERIES_CACHE_MB: '0', SERIES_CACHE_TENANTS: '5', SERIES_CACHE_MAX_AGE_MS: '5000' }).seriesCache).toEqual({ maxBytes: 0, maxTenants: 5, maxAgeMs: 5000 });
  });

  it('refuses bad values, naming each', () => {
    try {
      loadConfig({ SERIES_CACHE_MB: '-1', SERIES_CACHE_TENANTS: '0', SERIES_CACHE_MAX_AGE_MS: 'soon' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual(['SERIES_CACHE_MAX_AGE_MS', 'SERIES_CACHE_MB', 'SERIES_CACHE_TENANTS']);
    }
  });
});
