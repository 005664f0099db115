// The console's configuration, from the environment.
import { baseConfig, env } from '@hephaestus/platform';
import { z } from 'zod';

export const consoleConfig = baseConfig.extend({
  HEPH_CONSOLE_HOST: z.string().default('127.0.0.1'),
  HEPH_CONSOLE_PORT: env.port(8080),
  /** Bearer tokens for /api; unset: the API is open (bind it to loopback). */
  HEPH_CONSOLE_TOKENS: env.list(),
});
export type ConsoleConfig = z.infer<typeof consoleConfig>;
