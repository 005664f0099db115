// Configuration from the environment, validated by one zod schema per service; a bad value stops
// the process with a message naming the variable.
import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** An empty variable counts as unset, as shells and compose files often leave them. */
export const loadConfig = <S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> => {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const variable = issue.path.join('.') || '(environment)';
    const given = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
    return `  ${variable}: ${issue.message}${given === undefined ? '' : ` (got ${JSON.stringify(redact(variable, given))})`}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
};

const redact = (name: string, value: string) => (/TOKEN|SECRET|PASSWORD|KEY/i.test(name) ? '***' : value);

/** Helpers for common variable shapes. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  seconds: (fallback: number) => z.coerce.number().positive().default(fallback),
  list: () =>
    z
      .string()
      .optional()
      .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [])),
  url: () => z.url().optional(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .optional()
      .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes'].includes(v))),
};

/** What every service shares: where the log and the database are. */
export const baseConfig = z.object({
  KAFKA_BROKERS: env.list(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  HEPH_DATA_DIR: z.string().default('./.heph'),
  /** Prefix of the consumer group names, so two control planes can share one Kafka cluster. */
  HEPH_CONSUMER_GROUP_PREFIX: z.string().regex(/^[\w.-]+$/).default('heph'),
  /** Prefix of the Kafka topic names (`<prefix>otel.spans`…), so two control planes can share one cluster without reading each other's data. */
  HEPH_KAFKA_TOPIC_PREFIX: z.string().regex(/^[\w.-]*$/, 'letters, digits, dots, dashes and underscores only').default(''),
  /**
   * Partitions of otel.spans, otel.metrics and otel.logs when the control plane creates them in Kafka:
   * the unit the analyzers' collecting spreads by (existing topics keep theirs).
   */
  HEPH_KAFKA_TELEMETRY_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(3),
  /** The embedded (Postgres-backed) log deletes records consumed by every group after this many hours. */
  HEPH_LOG_RETENTION_HOURS: z.coerce.number().positive().default(24),
  /** …and keeps at most this many bytes per topic, dropping the oldest, consumed or not. */
  HEPH_LOG_RETENTION_BYTES: z.coerce.number().int().positive().default(1024 ** 3),
  /** How often retention runs. */
  HEPH_LOG_RETENTION_CHECK_SECONDS: z.coerce.number().positive().default(60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type BaseConfig = z.infer<typeof baseConfig>;

/** `signal=limit` pairs, e.g. `process.memory.usage=1073741824`, as a signal → limit record. */
const limitPairs = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const limits: Record<string, number> = {};
    for (const pair of v.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [signal, limit] = pair.split('=');
      if (!signal || !limit || !Number.isFinite(Number(limit))) {
        ctx.addIssue({ code: 'custom', message: `expected signal=number pairs, got '${pair}'` });
        return z.NEVER;
      }
      limits[signal] = Number(limit);
    }
    return limits;
  });

/**
 * Variables more than one service reads, defined once: run apart, the console reads what it shows beside
 * the projections from the same files as the analyzer and the healer.
 */
export const sharedConfig = {
  /** The console's address, for links in pages and fix pull requests. */
  HEPH_CONSOLE_URL: z.url().default('http://127.0.0.1:8080'),
  /** LLM prices and spend budgets (YAML). */
  HEPH_COSTS_FILE: z.string().default('./config/costs.yaml'),
  /** Limits for failure prediction: `signal=limit` pairs, e.g. `process.memory.usage=1073741824`. */
  HEPH_LIMITS: limitPairs,
  HEPH_PLAYBOOKS_DIR: z.string().default('./playbooks'),
};
