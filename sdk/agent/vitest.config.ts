// The agent SDK's tests alone (`npx vitest run --root sdk/agent`): they need no Kafka or PostgreSQL,
// so the root config's global setup is left out. The root config runs them with everything else.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['src/**/*.test.ts'], testTimeout: 30_000 },
});
