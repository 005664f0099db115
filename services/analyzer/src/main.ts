// Wires the analyzer: onto the parts `heph up` shares, or as its own process (`heph analyzer`).
import { exitToStandBy, loadCosts, runActiveStandby, startServiceProcess, type Logger, type ServiceParts } from '@hephaestus/platform';
import { Gauge } from 'prom-client';
import { startAnalyzer, startSignalCollector, startSignalJudge } from './analyzer.ts';
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
 * analyzer judges at a time on a shared PostgreSQL database (it holds the analyzer lock); the others
 * stand by and the first to take the lock goes on from the stored detector and correlator state when
 * the active one stops or dies. `apart` (analyzer processes on Kafka): every analyzer also collects the
 * telemetry partitions it holds leases on (partition leases in PostgreSQL) and hands its batches to the
 * judge through heph.signals; otherwise the one holding the lock collects too, reading every partition.
 */
export const wireAnalyzer = async (config: AnalyzerConfig, { runtime, registry, logger }: ServiceParts, consoleUrl = config.HEPH_CONSOLE_URL, onLost = exitToStandBy, apart = false) => {
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
  const collector = apart ? await startSignalCollector({ ...options, databaseUrl: runtime.db.url }) : undefined;
  const turn = await runActiveStandby({
    database: runtime.db,
    lockKey: analyzerLockKey,
    name: 'analyzer',
    logger,
    start: () => (apart ? startSignalJudge(options) : startAnalyzer(options)),
    onLost,
  });
  new Gauge({ name: 'heph_analyzer_active', help: 'Whether this analyzer is the judging one (1) or stands by (0); apart, every analyzer collects.', registers: [registry], collect() { this.set(turn.active() ? 1 : 0); } });
  return {
    stop: async () => {
      await collector?.stop();
      await turn.stop();
    },
  };
};

/** `heph analyzer`: on Kafka every one collects a share of the partitions; one judges at a time, the others stand by (the analyzer lock). */
export const startAnalyzerProcess = (config: AnalyzerConfig, logger: Logger) =>
  startServiceProcess({
    service: 'analyzer',
    config,
    logger,
    publishes: true,
    ops: { host: config.HEPH_ANALYZER_HOST, port: config.HEPH_ANALYZER_PORT },
    // Apart on Kafka the analyzers share the telemetry partitions; the Postgres-backed log cannot read a
    // share of them (every subscriber reads every partition), so there one analyzer collects and judges.
    wire: (parts) => wireAnalyzer(config, parts, config.HEPH_CONSOLE_URL, exitToStandBy, parts.runtime.log.kind === 'kafka'),
  });
