// The analyzer's configuration, from the environment.
import { baseConfig, env, sharedConfig } from '@hephaestus/platform';
import { z } from 'zod';
import { detectorNames, isDetectorName, type DetectorName } from './domain/detectors/index.ts';

export const analyzerConfig = baseConfig.extend({
  HEPH_RESOLUTION_SECONDS: env.seconds(10),
  /** How long after a bucket ends before it is judged: late spans (exporter batching) still count. */
  HEPH_DETECT_GRACE_SECONDS: env.seconds(2),
  HEPH_ALERT_WEBHOOK_URL: env.url(),
  HEPH_CONSOLE_URL: sharedConfig.HEPH_CONSOLE_URL,
  /** Alert routing: receivers, routes, grouping, inhibition (see config/routing.yaml). */
  HEPH_ROUTING_FILE: z.string().optional(),
  /** `heph analyzer`'s own /healthz, /readyz and /metrics (in `heph up` they are served with ingest's and the console's). */
  HEPH_ANALYZER_HOST: z.string().default('127.0.0.1'),
  HEPH_ANALYZER_PORT: env.port(4319),
  /** LLM prices and spend budgets (YAML). */
  HEPH_COSTS_FILE: sharedConfig.HEPH_COSTS_FILE,
  /** Limits for failure prediction: `signal=limit` pairs, e.g. `process.memory.usage=1073741824`. */
  HEPH_LIMITS: sharedConfig.HEPH_LIMITS,
  /** Which detector judges which signals: `glob=name` pairs, first match wins; others use `default`. */
  HEPH_DETECTORS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const rules: Array<{ glob: string; detector: DetectorName }> = [];
      for (const pair of v.split(',').map((s) => s.trim()).filter(Boolean)) {
        const [glob, detector] = pair.split('=');
        if (!glob || !detector || !isDetectorName(detector)) {
          ctx.addIssue({ code: 'custom', message: `expected signal-glob=detector pairs with a detector among ${detectorNames.join(', ')}, got '${pair}'` });
          return z.NEVER;
        }
        rules.push({ glob, detector });
      }
      return rules;
    }),
  /** Retention: hours of base-resolution buckets, days of 1-minute and of 1-hour buckets. */
  HEPH_RETENTION_BASE_HOURS: z.coerce.number().positive().default(24),
  HEPH_RETENTION_MINUTE_DAYS: z.coerce.number().positive().default(14),
  HEPH_RETENTION_HOUR_DAYS: z.coerce.number().positive().default(400),
  /** Service-level objectives (YAML, see config/objectives.yaml); unset: ./config/objectives.yaml when it exists, else the defaults. */
  HEPH_OBJECTIVES_FILE: z.string().optional(),
  /** Overrides of what each signal means to the incident policy (YAML, see config/signals.yaml). */
  HEPH_SIGNALS_FILE: z.string().optional(),
  /** A failure prediction pages only when the limit is this close, with at least this confidence. */
  HEPH_PREDICTION_HORIZON_SECONDS: env.seconds(1800),
  HEPH_PREDICTION_MIN_CONFIDENCE: z.coerce.number().min(0).max(1).default(0.9),
  /** Buckets of stored history replayed into the detectors at start; under 300 it also shortens their warm-up. */
  HEPH_DETECT_WARMUP_BUCKETS: z.coerce.number().int().min(0).default(360),
});
export type AnalyzerConfig = z.infer<typeof analyzerConfig>;
