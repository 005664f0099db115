// The ingest service's configuration, from the environment.
import { baseConfig, env } from '@hephaestus/platform';
import { z } from 'zod';

/** A bearer token, its name (for logs) and the service names (globs) whose telemetry it may speak for. */
export type IngestToken = { name: string; token: string; services: string[] };

const tokenName = /^[A-Za-z0-9][\w.@-]*$/;

/**
 * One HEPH_INGEST_TOKENS entry: `[name:]token[=glob;glob…]`. `agents:tokA=agent-*;planner` may speak for
 * agent-anything and planner; a token without `=globs` for any service. The globs start after the last
 * `=` that is followed by text, so a base64 token's `=` padding stays part of the token.
 */
export const ingestToken = (entry: string, index: number): IngestToken => {
  const colon = entry.indexOf(':');
  const named = colon > 0 && tokenName.test(entry.slice(0, colon));
  const name = named ? entry.slice(0, colon) : `token-${index + 1}`;
  const rest = named ? entry.slice(colon + 1) : entry;
  const equals = rest.lastIndexOf('=');
  const globs = equals > 0 && equals < rest.length - 1 ? rest.slice(equals + 1) : '';
  const token = globs ? rest.slice(0, equals) : rest;
  return { name, token, services: globs ? globs.split(';').map((g) => g.trim()).filter(Boolean) : ['*'] };
};

export const ingestConfig = baseConfig.extend({
  HEPH_INGEST_HOST: z.string().default('127.0.0.1'),
  HEPH_INGEST_PORT: env.port(4318),
  /**
   * Bearer tokens agents must present, `[name:]token[=glob;glob…]` comma-separated (see ingestToken); a
   * resource whose service.name its token may not speak for loses its heph.control.url. Unset: no auth.
   */
  HEPH_INGEST_TOKENS: env.list().transform((entries) => entries.map(ingestToken)),
  /** A request whose body has not fully arrived this long after it started is answered 408 and closed. */
  HEPH_INGEST_BODY_TIMEOUT_SECONDS: env.seconds(30),
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
