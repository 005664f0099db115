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
  /** Request bytes being processed at once; past it ingest answers 429 so memory stays bounded. */
  HEPH_INGEST_MAX_IN_FLIGHT_BYTES: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  /** A resource batch encoded larger than this is split over several log records. */
  HEPH_INGEST_MAX_RECORD_BYTES: z.coerce.number().int().min(1024).default(1_000_000),
  HEPH_INGEST_MAX_ATTRIBUTE_VALUE_LENGTH: z.coerce.number().int().positive().default(4096),
  HEPH_INGEST_MAX_ATTRIBUTES: z.coerce.number().int().positive().default(128),
});
export type IngestConfig = z.infer<typeof ingestConfig>;
