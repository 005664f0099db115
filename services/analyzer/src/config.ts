// The analyzer's configuration, from the environment.
import { baseConfig, env } from '@hephaestus/platform';
import { z } from 'zod';

export const analyzerConfig = baseConfig.extend({
  HEPH_RESOLUTION_SECONDS: env.seconds(10),
  /** How long after a bucket ends before it is judged: late spans (exporter batching) still count. */
  HEPH_DETECT_GRACE_SECONDS: env.seconds(2),
  HEPH_ALERT_WEBHOOK_URL: env.url(),
  HEPH_CONSOLE_URL: z.url().default('http://127.0.0.1:8080'),
  HEPH_ANALYZER_PORT: env.port(4319),
});
export type AnalyzerConfig = z.infer<typeof analyzerConfig>;
