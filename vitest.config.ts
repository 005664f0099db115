// One vitest run for every workspace; real Kafka and PostgreSQL are started by the global setup.
import { defineConfig } from 'vitest/config';
import LongestFirst from './e2e/sequencer.ts';

export default defineConfig({
  test: {
    include: ['schemas/src/**/*.test.ts', 'platform/src/**/*.test.ts', 'aggregates/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'sdk/*/src/**/*.test.ts', 'e2e/**/*.test.ts', 'bench/**/*.test.ts', 'deploy/**/*.test.ts'],
    globalSetup: ['./e2e/global-setup.ts'],
    // Failsafes, not expectations: tests wait on events and data, and two files share two busy cores.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Files run side by side: most end-to-end time is spent waiting for intervals of event time to
    // close, not on the CPU. HEPH_TEST_WORKERS overrides the number.
    maxWorkers: Number(process.env.HEPH_TEST_WORKERS ?? 2),
    sequence: { sequencer: LongestFirst },
  },
});
