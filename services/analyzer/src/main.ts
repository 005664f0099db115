// Wires the analyzer: onto the parts `heph up` shares, or as its own process (`heph analyzer`).
import { startServiceProcess, type Logger, type ServiceParts } from '@hephaestus/platform';
import { startAnalyzer } from './analyzer.ts';
import type { AnalyzerConfig } from './config.ts';
import { loadCosts } from './adapters/costs-loader.ts';
import { loadObjectives } from './adapters/objectives-loader.ts';
import { loadSignalMeanings } from './adapters/signals-loader.ts';

type PolicyConfig = Pick<AnalyzerConfig, 'HEPH_OBJECTIVES_FILE' | 'HEPH_SIGNALS_FILE' | 'HEPH_PREDICTION_HORIZON_SECONDS' | 'HEPH_PREDICTION_MIN_CONFIDENCE'>;

/** The incident policy's configuration: objectives, signal meanings, the prediction horizon. */
export const policyOptions = async (config: PolicyConfig) => ({
  objectives: await loadObjectives(config.HEPH_OBJECTIVES_FILE ?? './config/objectives.yaml', { mustExist: config.HEPH_OBJECTIVES_FILE !== undefined }),
  policy: {
    meanings: await loadSignalMeanings(config.HEPH_SIGNALS_FILE),
    predictionHorizonSeconds: config.HEPH_PREDICTION_HORIZON_SECONDS,
    predictionMinConfidence: config.HEPH_PREDICTION_MIN_CONFIDENCE,
  },
});

/** `consoleUrl`: where alerts link to; `heph up` passes the console's address once it listens. */
export const wireAnalyzer = async (config: AnalyzerConfig, { runtime, registry, logger }: ServiceParts, consoleUrl = config.HEPH_CONSOLE_URL) => {
  const analyzer = await startAnalyzer({
    sql: runtime.db.sql,
    log: runtime.log,
    logger,
    registry,
    resolutionSeconds: config.HEPH_RESOLUTION_SECONDS,
    graceSeconds: config.HEPH_DETECT_GRACE_SECONDS,
    webhookUrl: config.HEPH_ALERT_WEBHOOK_URL,
    consumerGroupPrefix: config.HEPH_CONSUMER_GROUP_PREFIX,
    costs: await loadCosts(config.HEPH_COSTS_FILE),
    limits: config.HEPH_LIMITS,
    warmupBuckets: config.HEPH_DETECT_WARMUP_BUCKETS,
    routingFile: config.HEPH_ROUTING_FILE,
    env: process.env,
    detectors: config.HEPH_DETECTORS,
    retention: { baseHours: config.HEPH_RETENTION_BASE_HOURS, minuteDays: config.HEPH_RETENTION_MINUTE_DAYS, hourDays: config.HEPH_RETENTION_HOUR_DAYS },
    consoleUrl,
    ...(await policyOptions(config)),
  });
  return { stop: analyzer.stop };
};

/** `heph analyzer`: several share the telemetry topics' partitions (one consumer group). */
export const startAnalyzerProcess = (config: AnalyzerConfig, logger: Logger) =>
  startServiceProcess({
    service: 'analyzer',
    config,
    logger,
    publishes: true,
    ops: { host: config.HEPH_ANALYZER_HOST, port: config.HEPH_ANALYZER_PORT },
    wire: (parts) => wireAnalyzer(config, parts),
  });
