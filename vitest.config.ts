import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One throwaway PostgreSQL cluster for the run; each test file makes its own database on it.
    globalSetup: ['test/helpers/postgres-cluster.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: argon2 and spawned peers compete for them.
    maxWorkers: 2,
  },
});
