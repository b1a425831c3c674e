import { defineConfig } from 'vitest/config';

// chdb binds one data directory per process, so every test file runs in its own
// forked process and picks its own directory (see test/helpers/tmp.ts).
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { TZ: 'UTC' },
  },
});
