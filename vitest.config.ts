import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// chdb binds one data directory per process, so every test file runs in its own
// forked process and picks its own directory (test/helpers/app.ts).
export default defineConfig({
  resolve: {
    // graphql@16 ships CJS (main) and ESM (module). Node — and so graphql-yoga, loaded
    // natively — takes the CJS entry; Vite would hand our sources the ESM one, giving two
    // GraphQLError classes and masking every expected error. Use Node's choice everywhere.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // A private Redis for the run unless TILECAST_TEST_REDIS_URL names one.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { TZ: 'UTC' },
  },
});
