// Wires the analyzer: onto the parts `heph up` shares, or as its own process (`heph analyzer`).
import { exitToStandBy, loadCosts, runActiveStandby, startServiceProcess, type Logger, type ServiceParts } from '@hephaestus/platform';
import { Gauge } from 'prom-client';
import { startAnalyzer } from './analyzer.ts';
import type { AnalyzerConfig } from './config.ts';
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

/** The active analyzer's advisory lock key (beside the migrations' 727_001, appends' 727_002 and the publisher's 727_003). */
export const analyzerLockKey = 727_004;


/**
 * `consoleUrl`: where alerts link to; `heph up` passes the console's address once it listens. One
 * analyzer is active at a time on a shared PostgreSQL database (it holds the analyzer lock); the
 * others stand by and the first to take the lock goes on from the committed offsets and the stored
 * detector state when the active one stops or dies.
 */
export const wireAnalyzer = async (config: AnalyzerConfig, { runtime, registry, logger }: ServiceParts, consoleUrl = config.HEPH_CONSOLE_URL, onLost = exitToStandBy) => {
  const options = {
    sql: runtime.db.sql,
    database: runtime.db,
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
    // Only the active analyzer consumes: it takes the partitions at once when it takes over.
    exclusive: true,
    ...(await policyOptions(config)),
  };
  const turn = await runActiveStandby({
    database: runtime.db,
    lockKey: analyzerLockKey,
    name: 'analyzer',
    logger,
    start: () => startAnalyzer(options),
    onLost,
  });
  new Gauge({ name: 'heph_analyzer_active', help: 'Whether this analyzer is the active one (1) or stands by (0).', registers: [registry], collect() { this.set(turn.active() ? 1 : 0); } });
  return { stop: turn.stop };
};

/** `heph analyzer`: one is active at a time, the others stand by (the analyzer lock). */
export const startAnalyzerProcess = (config: AnalyzerConfig, logger: Logger) =>
  startServiceProcess({
    service: 'analyzer',
    config,
    logger,
    publishes: true,
    ops: { host: config.HEPH_ANALYZER_HOST, port: config.HEPH_ANALYZER_PORT },
    wire: (parts) => wireAnalyzer(config, parts),
  });
