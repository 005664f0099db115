// `heph up`: ingest, analyzer, healer, console and the event publisher in one process, on Kafka and
// PostgreSQL when configured, otherwise on embedded PGlite and the Postgres-backed log.
import { analyzerConfig, loadCosts, loadObjectives, loadSignalMeanings, startAnalyzer } from '@hephaestus/analyzer';
import { createConsoleServer, consoleConfig } from '@hephaestus/console';
import { githubFixerFromConfig, healerConfig, loadPlaybooks, startHealer, type GitHubFixer } from '@hephaestus/healer';
import { createIngestServer, ingestConfig } from '@hephaestus/ingest';
import { listen, newRegistry, openRuntime, startEventPublisher, type Logger, type Runtime } from '@hephaestus/platform';
import { z } from 'zod';

export const upConfig = ingestConfig.extend(analyzerConfig.shape).extend(healerConfig.shape).extend(consoleConfig.shape);
export type UpConfig = z.infer<typeof upConfig>;

export type ControlPlane = {
  runtime: Runtime;
  ingestUrl: string;
  consoleUrl: string;
  stop: () => Promise<void>;
};

/** The incident policy's configuration: objectives, signal meanings, the prediction horizon. */
export const policyOptions = async (config: UpConfig) => ({
  objectives: await loadObjectives(config.HEPH_OBJECTIVES_FILE ?? './config/objectives.yaml', { mustExist: config.HEPH_OBJECTIVES_FILE !== undefined }),
  policy: {
    meanings: await loadSignalMeanings(config.HEPH_SIGNALS_FILE),
    predictionHorizonSeconds: config.HEPH_PREDICTION_HORIZON_SECONDS,
    predictionMinConfidence: config.HEPH_PREDICTION_MIN_CONFIDENCE,
  },
});

export const startControlPlane = async (config: UpConfig, logger: Logger): Promise<ControlPlane> => {
  const runtime = await openRuntime(config, logger, 'heph');
  const { sql } = runtime.db;
  const registry = newRegistry();
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const ingest = createIngestServer({
      log: runtime.log,
      logger: logger.child({ name: 'ingest' }),
      registry,
      tokens: config.HEPH_INGEST_TOKENS,
      maxBodyBytes: config.HEPH_INGEST_MAX_BODY_BYTES,
      writeTimeoutMs: config.HEPH_INGEST_WRITE_TIMEOUT_SECONDS * 1000,
      bodyTimeoutMs: config.HEPH_INGEST_BODY_TIMEOUT_SECONDS * 1000,
      maxInFlightBytes: config.HEPH_INGEST_MAX_IN_FLIGHT_BYTES,
      maxRecordBytes: config.HEPH_INGEST_MAX_RECORD_BYTES,
      limits: { maxAttributeValueLength: config.HEPH_INGEST_MAX_ATTRIBUTE_VALUE_LENGTH, maxAttributeCount: config.HEPH_INGEST_MAX_ATTRIBUTES },
    });
    const ingestPort = await listen(ingest, config.HEPH_INGEST_HOST, config.HEPH_INGEST_PORT);
    stops.push(() => ingest.close());

    // The console's own address is known once it listens; links in alerts use HEPH_CONSOLE_URL when set.
    let consoleUrl = config.HEPH_CONSOLE_URL;
    const healerLogger = logger.child({ name: 'healer' });
    const { playbooks, errors } = await loadPlaybooks(config.HEPH_PLAYBOOKS_DIR);
    for (const error of errors) healerLogger.error(error, `playbook refused: ${error.file}:${error.line}: ${error.reason}`);
    // GitHub fix pull requests when a repository and credentials are configured; the fixer exists before
    // the console so its webhook route is there from the first delivery.
    let github: GitHubFixer | undefined;
    const fromConfig = await githubFixerFromConfig(config, { sql, logger: healerLogger.child({ part: 'github' }), consoleUrl });
    if ('fixer' in fromConfig) {
      github = fromConfig.fixer;
      stops.push(() => github!.stop());
      healerLogger.info({ repository: config.HEPH_GITHUB_REPOSITORY, api: config.HEPH_GITHUB_API_URL }, 'github fix pull requests on');
    } else if (playbooks.some((p) => [...p.steps, ...p.rollback].some((s) => s.action.startsWith('github.')))) {
      healerLogger.warn({ reason: fromConfig.reason }, `github steps of playbooks will fail: ${fromConfig.reason}`);
    }
    const costs = await loadCosts(config.HEPH_COSTS_FILE);
    const console_ = createConsoleServer({
      sql,
      databaseKind: runtime.db.kind,
      logger: logger.child({ name: 'console' }),
      registry,
      // The plane's own: its database (the console checks it) and the log ingest writes to.
      readiness: { log: runtime.log.ready },
      tokens: config.HEPH_CONSOLE_TOKENS,
      allowedHosts: config.HEPH_CONSOLE_ALLOWED_HOSTS,
      consoleUrl,
      playbooks,
      playbookErrors: errors,
      githubWebhooks: github?.handleWebhook,
      budgets: costs.budgets,
      limits: config.HEPH_LIMITS,
    });
    const consolePort = await listen(console_, config.HEPH_CONSOLE_HOST, config.HEPH_CONSOLE_PORT);
    stops.push(() => console_.close());
    if (config.HEPH_CONSOLE_URL === 'http://127.0.0.1:8080') consoleUrl = `http://${config.HEPH_CONSOLE_HOST}:${consolePort}`;

    const publisher = startEventPublisher(runtime.db, runtime.log, logger.child({ name: 'publisher' }));
    stops.push(publisher.stop);

    const analyzer = await startAnalyzer({
      sql,
      log: runtime.log,
      logger: logger.child({ name: 'analyzer' }),
      registry,
      resolutionSeconds: config.HEPH_RESOLUTION_SECONDS,
      graceSeconds: config.HEPH_DETECT_GRACE_SECONDS,
      webhookUrl: config.HEPH_ALERT_WEBHOOK_URL,
      consumerGroupPrefix: config.HEPH_CONSUMER_GROUP_PREFIX,
      costs,
      limits: config.HEPH_LIMITS,
      warmupBuckets: config.HEPH_DETECT_WARMUP_BUCKETS,
      routingFile: config.HEPH_ROUTING_FILE,
      env: process.env,
      detectors: config.HEPH_DETECTORS,
      retention: { baseHours: config.HEPH_RETENTION_BASE_HOURS, minuteDays: config.HEPH_RETENTION_MINUTE_DAYS, hourDays: config.HEPH_RETENTION_HOUR_DAYS },
      consoleUrl,
      ...(await policyOptions(config)),
    });
    stops.push(analyzer.stop);

    const healer = await startHealer({
      sql,
      log: runtime.log,
      logger: healerLogger,
      registry,
      playbooks,
      allowedHosts: config.HEPH_HEALER_ALLOWED_HOSTS,
      allowedOrigins: config.HEPH_HEALER_ALLOWED_ORIGINS,
      controlToken: config.HEPH_AGENT_CONTROL_TOKEN,
      resolutionSeconds: config.HEPH_RESOLUTION_SECONDS,
      graceSeconds: config.HEPH_DETECT_GRACE_SECONDS,
      consumerGroupPrefix: config.HEPH_CONSUMER_GROUP_PREFIX,
      dryRun: config.HEPH_HEALER_DRY_RUN,
      healerId: config.HEPH_HEALER_ID,
      leaseSeconds: config.HEPH_HEALER_LEASE_SECONDS,
      github,
    });
    stops.push(healer.stop);

    const ingestUrl = `http://${config.HEPH_INGEST_HOST}:${ingestPort}`;
    logger.info({ ingest: ingestUrl, console: consoleUrl, database: runtime.db.kind, log: runtime.log.kind }, 'control plane up');
    return {
      runtime,
      ingestUrl,
      consoleUrl,
      stop: async () => {
        // Stop taking telemetry first, then the consumers, then the connections.
        for (const stop of stops) await stop();
        await runtime.close();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await runtime.close();
    throw error;
  }
};
