// One vitest run for every workspace; real Kafka and PostgreSQL are started by the global setup.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['schemas/src/**/*.test.ts', 'platform/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'sdk/*/src/**/*.test.ts', 'e2e/**/*.test.ts'],
    globalSetup: ['./e2e/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
