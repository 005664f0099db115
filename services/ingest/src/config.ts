// The ingest service's configuration, from the environment.
import { baseConfig, env } from '@hephaestus/platform';
import { z } from 'zod';

export const ingestConfig = baseConfig.extend({
  HEPH_INGEST_HOST: z.string().default('127.0.0.1'),
  HEPH_INGEST_PORT: env.port(4318),
  /** Bearer tokens agents must present; unset: no auth (with a warning). */
  HEPH_INGEST_TOKENS: env.list(),
  HEPH_INGEST_MAX_BODY_BYTES: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  HEPH_INGEST_WRITE_TIMEOUT_SECONDS: env.seconds(10),
});
export type IngestConfig = z.infer<typeof ingestConfig>;
