// The analyzer pipeline: consume → rollup → detect → decide (the incident policy, on event time) → append, then notify.
import { onEventsAppended, sleeper, type ConsumedRecord, type Database, type Log, type Logger, type Sql, type TransactionSql } from '@hephaestus/platform';
import {
  decodeLogsProtobuf,
  decodeMetricsProtobuf,
  decodeTracesProtobuf,
  toLogRecords,
  toMetricPoints,
  toSpanRecords,
  topics,
  defaultObjectives,
  type CostsConfig,
  type ObjectivesConfig,
  type Routing,
  type LogRecordNormalized,
  type MetricPoint,
  type OtlpResult,
  type SpanRecord,
} from '@hephaestus/schemas';
import { Counter, Gauge, type Registry } from 'prom-client';
import { appliedOffset, appliedOffsets, claimRequests, mergeRollups, pruneAppliedRequests, recordServiceLimits, recordServiceVersions, storeAppliedOffset } from './adapters/rollup-store.ts';
import { createIncidentDecisions } from './adapters/decide-incidents.ts';
import { loadRouting, startAlertDispatcher } from './adapters/alert-dispatcher.ts';
import { defaultErrorRateSettings, type ErrorRateSettings } from './domain/error-rate-detector.ts';
import { defaultPolicySettings, type PolicySettings } from './domain/incident-policy.ts';
import { createObjectiveWatch } from './adapters/objective-watch.ts';
import { rollupSpans } from './domain/rollup.ts';
import { callSeries, logSeries, metricSeries, operationAdmission, operationLatency, spanSeries, streamKey } from './domain/series.ts';
import { downsample, loadStreams, mergeSeries, storeStreams } from './adapters/series-store.ts';
import { createSeriesWatch } from './adapters/series-watch.ts';
import { createCorrelator, resumeCorrelator } from './adapters/correlator.ts';
import { startRemediationOutcomes } from './adapters/remediation-outcomes.ts';
import { pruneIncidentTraces } from './adapters/incident-traces.ts';
import type { DetectorName } from './domain/detectors/index.ts';

export type AnalyzerOptions = {
  sql: Sql;
  /** The database `sql` belongs to: with it, alerts go out as their events commit (LISTEN/NOTIFY, or in process on PGlite) instead of at the next look. */
  database?: Pick<Database, 'sql' | 'kind'>;
  log: Log;
  logger: Logger;
  registry: Registry;
  resolutionSeconds: number;
  graceSeconds: number;
  webhookUrl?: string;
  consoleUrl: string;
  settings?: ErrorRateSettings;
  consumerGroupPrefix: string;
  costs: CostsConfig;
  limits: Record<string, number>;
  warmupBuckets: number;
  detectors?: Array<{ glob: string; detector: DetectorName }>;
  retention?: { baseHours: number; minuteDays: number; hourDays: number };
  /** A fault recurring within this long after its incident resolved reopens it. */
  reopenWithinMs?: number;
  /** Alert routing, already loaded (a backtest's, whose receivers only log); wins over routingFile. */
  routing?: Routing;
  /** Alert routing (YAML); unset: one webhook receiver from webhookUrl, or the log. */
  routingFile?: string;
  /** Incident policy settings (signal meanings, prediction horizon, quiet intervals). */
  policy?: Partial<PolicySettings>;
  /**
   * Replaying stored telemetry (`heph backtest`): time is the telemetry's own, not capped by the clock,
   * and the caller's `now` reads `eventTimeMs()`.
   */
  replay?: boolean;
  /** Service-level objectives judged by burn rate (HEPH_OBJECTIVES_FILE); unset: the defaults. */
  objectives?: ObjectivesConfig;
  /** Where receivers' secret variables are read from. */
  env?: Record<string, string | undefined>;
  /**
   * This analyzer is the only one consuming (it holds the analyzer lock): it reads every partition at
   * once from the offsets it applied, instead of waiting in the shared consumer group for a dead
   * analyzer's session to end.
   */
  exclusive?: boolean;
  now?: () => number;
};

export const startAnalyzer = async (options: AnalyzerOptions) => {
  const { sql, logger } = options;
  const now = options.now ?? Date.now;
  const settings = options.settings ?? defaultErrorRateSettings;
  const consumerName = `${options.consumerGroupPrefix}-analyzer`;
  const reopenWithinMs = options.reopenWithinMs ?? 10 * 60_000;
  const metrics = {
    records: new Counter({ name: 'heph_analyzer_records_total', help: 'Telemetry items consumed and applied, by signal: spans, metric data points, log records (not Kafka records, which carry many).', labelNames: ['signal'], registers: [options.registry] }),
    deadletters: new Counter({ name: 'heph_analyzer_deadletters_total', help: 'Records the analyzer could not decode or store, sent to heph.deadletter.', registers: [options.registry] }),
    openIncidents: new Gauge({ name: 'heph_analyzer_open_incidents', help: 'Incidents currently open.', registers: [options.registry] }),
  };
  // Consumer lag, read from the log when scraped (given up after 2 s: a scrape must not hang on a log that is down).
  const telemetryTopics = [topics.spans, topics.metrics, topics.logs];
  /** The consumer group whose committed offsets are the analyzer's (an exclusive consumer's own group). */
  let lagGroup = consumerName;
  new Gauge({
    name: 'heph_analyzer_consumer_lag_records',
    help: 'Telemetry records the analyzer has yet to consume and commit, per topic and partition (read from the log when scraped).',
    labelNames: ['topic', 'partition'],
    registers: [options.registry],
    async collect() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 2000);
      });
      const lags = await Promise.race([options.log.lag(lagGroup, telemetryTopics), late]).catch(() => undefined);
      clearTimeout(timer);
      this.reset();
      for (const l of lags ?? []) this.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
    },
  });

  // consume: decode each fresh record outside any transaction, then apply the batch in one transaction
  // with the offset it reaches. A record that cannot be decoded or stored goes to heph.deadletter with
  // the reason and its source, and the partition moves on. Nothing waits on the log while holding a
  // database connection: on the embedded database the log is the same single connection (issue 16).
  const stringsRepaired = new Counter({
    name: 'heph_analyzer_strings_repaired_total',
    help: 'Strings of consumed records repaired at decode (lone surrogates and NUL replaced by U+FFFD): records that did not come through ingest.',
    registers: [options.registry],
  });
  const repeatedRequests = new Counter({
    name: 'heph_analyzer_repeated_records_total',
    help: 'Records skipped because their request id (heph-request-id) was applied already: an exporter retried a write that had been kept.',
    registers: [options.registry],
  });
  /** The header ingest puts on every record: the request body's hash and the record's place in it. */
  const requestIdHeader = 'heph-request-id';
  /** Applied request ids are remembered this long; exporters stop retrying within minutes. */
  const requestIdsKeptMs = 3_600_000;
  let lastPruneMs = 0;
  type Dead = { record: ConsumedRecord; reason: string };
  type Decoded<T> = { record: ConsumedRecord; items: T[] };
  type Stage<T> = {
    signal: 'spans' | 'metrics' | 'logs';
    read: (bytes: Uint8Array) => OtlpResult<T[]>;
    apply: (tx: TransactionSql, items: T[]) => Promise<void>;
    /** In-memory effects, once the items are stored. */
    applied?: (items: T[]) => void;
    /** An item's event time: how far the telemetry has got. */
    timeOf: (item: T) => number;
  };
  const deadLetter = async (dead: Dead[]) => {
    if (dead.length === 0) return;
    await options.log.send(
      topics.deadletter,
      dead.map(({ record, reason }) => ({
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          'heph-reason': reason,
          'heph-source': `${record.topic}/${record.partition}/${record.offset}`,
          'heph-source-topic': record.topic,
          'heph-source-partition': String(record.partition),
          'heph-source-offset': record.offset.toString(),
        },
      })),
    );
    metrics.deadletters.inc(dead.length);
    logger.warn({ count: dead.length, source: `${dead[0]!.record.topic}/${dead[0]!.record.partition}/${dead[0]!.record.offset}`, reason: dead[0]!.reason }, 'records sent to the dead letter topic');
  };
  const mapped = <R, T>(decodeRequest: (b: Uint8Array) => OtlpResult<R>, normalize: (r: R) => T[]) => (bytes: Uint8Array): OtlpResult<T[]> => {
    const decoded = decodeRequest(bytes);
    if (!decoded.ok) return decoded;
    if (decoded.repairedStrings) stringsRepaired.inc(decoded.repairedStrings);
    return { ok: true, value: normalize(decoded.value) };
  };
  // The graph and error signatures as the last analyzer left them (a replay starts from nothing).
  const correlator = options.replay ? createCorrelator({ resolutionSeconds: options.resolutionSeconds }) : await resumeCorrelator(sql, options.resolutionSeconds, logger);
  /** The newest event time consumed (span end, metric point, log record): how far the telemetry has got. */
  let eventTimeMs = 0;
  /** The intervals judged: every one that closed before this. */
  let judgedBefore = 0;
  /** The detection loop's wait, which consumed telemetry that closes an interval cuts short. */
  const detectionNap = sleeper();
  /** A replay's first event time: it judges from there on. */
  let firstEventTimeMs: number | undefined;
  /**
   * A replay's newest event time per topic and partition: it judges up to the slowest of them, since the
   * log hands out each partition at its own pace (a partition of metrics minutes ahead of the spans'
   * would otherwise close intervals whose spans are still unread).
   */
  const replayedUpTo = new Map<string, number>();
  // A timestamp far in the future (a skewed agent clock) must not close intervals early: the clock caps it.
  const advance = (timeMs: number, partition: string) => {
    if (!Number.isFinite(timeMs)) return;
    if (options.replay) {
      if (firstEventTimeMs === undefined || timeMs < firstEventTimeMs) firstEventTimeMs = timeMs;
      if (timeMs > (replayedUpTo.get(partition) ?? Number.NEGATIVE_INFINITY)) replayedUpTo.set(partition, timeMs);
    }
    if (timeMs > eventTimeMs) eventTimeMs = options.replay ? timeMs : Math.min(timeMs, now() + 60_000);
  };
  const resolution = options.resolutionSeconds;
  // Latency per operation for the first 20 span names of a service's calls, the same ones after a restart.
  const maxOperationsPerService = 20;
  const operations = operationAdmission(
    maxOperationsPerService,
    await sql<{ service: string; operation: string }[]>`
      SELECT DISTINCT service, operation FROM series
      WHERE resolution_seconds = ${resolution} AND bucket_start >= ${new Date(now() - 86_400_000)} AND signal = ${operationLatency} AND operation <> ''`,
  );
  type Batch = { topic: string; partition: number; records: ConsumedRecord[] };
  const stage = <T>(s: Stage<T>) => (batch: Batch) => consumeWith(s, batch);
  const stages = new Map<string, (batch: Batch) => Promise<void>>([
    [topics.spans, stage<SpanRecord>({
      signal: 'spans',
      read: mapped(decodeTracesProtobuf, toSpanRecords),
      apply: async (tx, spans) => {
        const unreadable = await mergeRollups(tx, resolution, rollupSpans(spans, resolution));
        if (unreadable.length > 0) {
          logger.warn({ buckets: unreadable.length, service: unreadable[0]!.service, bucketStart: new Date(unreadable[0]!.bucketStartMs).toISOString() }, 'stored latency sketch unreadable: the bucket keeps its counts, its quantiles restart');
        }
        await recordServiceVersions(tx, spans);
        await recordServiceLimits(tx, spans.map((s) => ({ service: s.service, timeMs: s.startTimeMs, resource: s.resource })));
        await mergeSeries(tx, resolution, spanSeries(spans, options.costs.prices, resolution));
        const full = operations.full().length;
        await mergeSeries(tx, resolution, callSeries(spans, resolution, operations.admit));
        if (operations.full().length > full) {
          logger.warn({ services: operations.full() }, `more than ${maxOperationsPerService} operations (span names of calls) in ${operations.full().at(-1)}: the others have no latency series of their own (the service-wide latency counts them)`);
        }
      },
      applied: (spans) => {
        for (const span of spans) correlator.observe(span);
      },
      timeOf: (span) => span.startTimeMs + span.durationMs,
    })],
    [topics.metrics, stage<MetricPoint>({
      signal: 'metrics',
      read: mapped(decodeMetricsProtobuf, toMetricPoints),
      apply: async (tx, points) => {
        const streams = await loadStreams(tx, [...new Set(points.map(streamKey))]);
        await mergeSeries(tx, resolution, metricSeries(points, streams, resolution));
        await storeStreams(tx, streams);
        await recordServiceLimits(tx, points);
      },
      timeOf: (point) => point.timeMs,
    })],
    [topics.logs, stage<LogRecordNormalized>({
      signal: 'logs',
      read: mapped(decodeLogsProtobuf, toLogRecords),
      apply: (tx, logs) => mergeSeries(tx, resolution, logSeries(logs, resolution)),
      timeOf: (record) => record.timeMs,
    })],
  ]);

  // rollup: records' effects and the offset `next` commit together; records already applied are skipped:
  // by offset (a redelivered batch) and by request id (an exporter's retry of a request whose write timed
  // out after the log kept it carries the same body, so ingest gives its records the same ids).
  const applyRecords = async <T>(s: Stage<T>, topic: string, partition: number, decoded: Decoded<T>[], next: bigint) => {
    let items: T[] = [];
    let repeated = 0;
    await sql.begin(async (tx) => {
      const from = await appliedOffset(tx, consumerName, topic, partition);
      if (next <= from) return;
      const unapplied = decoded.filter((d) => d.record.offset >= from);
      const applied = await claimRequests(tx, unapplied.flatMap((d) => d.record.headers[requestIdHeader] ?? []), now());
      const seen = new Set<string>();
      const fresh = unapplied.filter(({ record }) => {
        const id = record.headers[requestIdHeader];
        if (id === undefined) return true;
        if (applied.has(id) || seen.has(id)) return false;
        seen.add(id);
        return true;
      });
      const freshItems = fresh.flatMap((d) => d.items);
      if (freshItems.length > 0) await s.apply(tx, freshItems);
      await storeAppliedOffset(tx, consumerName, topic, partition, next);
      items = freshItems;
      repeated = unapplied.length - fresh.length;
    });
    s.applied?.(items);
    const at = `${topic}/${partition}`;
    for (const item of items) advance(s.timeOf(item), at);
    // The telemetry passed the end of an interval (and its grace): judge it now, not at the next look.
    if (!options.replay && eventTimeMs > 0 && closedBefore() > judgedBefore) detectionNap.wake();
    metrics.records.inc({ signal: s.signal }, items.length);
    if (repeated > 0) {
      repeatedRequests.inc(repeated);
      logger.info({ topic, partition, records: repeated }, 'records of a retried request skipped: their request id was applied already');
    }
    if (now() - lastPruneMs > 60_000) {
      lastPruneMs = now();
      await pruneAppliedRequests(sql, lastPruneMs - requestIdsKeptMs);
    }
  };

  /**
   * Whether a failure may pass on retry: a transient SQLSTATE class (08 connection, 40 serialization or
   * deadlock, 53 resources, 57 shutdown) or a database that does not answer. Those say nothing about the
   * record, so the batch is redelivered; any other failure is the record's own.
   */
  const transient = async (error: unknown) => {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (/^(08|40|53|57)/.test(code) || code === '55P03') return true;
    try {
      await sql`SELECT 1`;
      return false;
    } catch {
      return true;
    }
  };

  const consumeWith = async <T>(s: Stage<T>, { topic, partition, records }: Batch) => {
    const from = await appliedOffset(sql, consumerName, topic, partition);
    const fresh = records.filter((r) => r.offset >= from);
    if (fresh.length === 0) return;
    const decoded: Decoded<T>[] = [];
    const dead: Dead[] = [];
    for (const record of fresh) {
      try {
        const read = s.read(record.value);
        if (read.ok) decoded.push({ record, items: read.value });
        else dead.push({ record, reason: read.error.message });
      } catch (error) {
        dead.push({ record, reason: `not normalized: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
    // Before the effects: a crash in between sends a dead letter twice, never loses one.
    await deadLetter(dead);
    const next = fresh.at(-1)!.offset + 1n;
    try {
      await applyRecords(s, topic, partition, decoded, next);
      return;
    } catch (error) {
      if (await transient(error)) throw error;
      logger.warn({ err: error, topic, partition, records: decoded.length }, 'batch not stored: applying its records one by one');
    }
    // Isolate the record that fails: each alone in its transaction, in offset order.
    for (const one of decoded) {
      try {
        await applyRecords(s, topic, partition, [one], one.record.offset + 1n);
      } catch (error) {
        if (await transient(error)) throw error;
        await deadLetter([{ record: one.record, reason: `not stored: ${error instanceof Error ? error.message : String(error)}` }]);
      }
    }
    await applyRecords(s, topic, partition, [], next);
  };

  const consume = async (batch: Batch) => {
    await stages.get(batch.topic)?.(batch);
    // A replay judges as it consumes, so detection keeps pace with the telemetry however fast it is read.
    if (options.replay && eventTimeMs > 0) await decisions.pass(closedBefore(), firstEventTimeMs);
  };

  const seriesWatch = createSeriesWatch({
    sql,
    resolutionSeconds: options.resolutionSeconds,
    warmupBuckets: options.warmupBuckets,
    limits: options.limits,
    budgets: options.costs.budgets,
    detectors: options.detectors,
    meanings: options.policy?.meanings,
    logger: logger.child({ name: 'detectors' }),
  });
  const decisions = createIncidentDecisions({
    sql,
    logger,
    registry: options.registry,
    resolutionSeconds: options.resolutionSeconds,
    errorRate: settings,
    policy: { ...defaultPolicySettings(options.resolutionSeconds * 1000), reopenWithinMs, ...options.policy },
    correlator,
    observeSeries: seriesWatch.observe,
    observeObjectives: createObjectiveWatch({ sql, resolutionSeconds: options.resolutionSeconds, objectives: options.objectives ?? defaultObjectives }).observe,
    maxCatchUpIntervals: options.replay ? Number.POSITIVE_INFINITY : undefined,
  });
  // Event time: an interval is judged once the telemetry consumed has passed its end plus the grace
  // (and never ahead of the clock), so a busy machine judges the same complete intervals later
  // instead of half-filled ones on time.
  const closedBefore = () => {
    const resolutionMs = options.resolutionSeconds * 1000;
    const watermark = options.replay ? Math.min(...replayedUpTo.values()) : Math.min(now(), eventTimeMs);
    return Math.floor((watermark - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
  };
  // Downsampling: base buckets roll into 1 min after 5 min, 1 min into 1 h after 2 h; each level is
  // kept as long as its retention says (default 1 day, 14 days, 400 days).
  const kept = options.retention ?? { baseHours: 24, minuteDays: 14, hourDays: 400 };
  const retention = async () => {
    const t = now();
    await downsample(sql, options.resolutionSeconds, 60, t - 5 * 60_000, kept.baseHours * 3_600_000, t);
    await downsample(sql, 60, 3600, t - 2 * 3_600_000, kept.minuteDays * 86_400_000, t);
    await sql`DELETE FROM series WHERE resolution_seconds = 3600 AND bucket_start < ${new Date(t - kept.hourDays * 86_400_000)}`;
    // Incidents' exemplar traces go with the minute buckets their evidence charts draw on.
    await pruneIncidentTraces(sql, t - kept.minuteDays * 86_400_000);
  };
  const subscription = await options.log.subscribe({
    groupId: consumerName,
    topics: telemetryTopics,
    handle: consume,
    ...(options.exclusive ? { exclusive: { from: await appliedOffsets(sql, consumerName) } } : {}),
  });
  lagGroup = subscription.groupId;
  // A replay judges stored telemetry and acts on nothing: remediations' outcomes are the live control plane's.
  const outcomes = options.replay ? undefined : await startRemediationOutcomes({ sql, log: options.log, logger, consumerGroupPrefix: options.consumerGroupPrefix, exclusive: options.exclusive });
  const notifier = startAlertDispatcher({
    sql,
    logger: logger.child({ name: 'alerts' }),
    routing: options.routing ?? (await loadRouting(options.routingFile, { webhookUrl: options.webhookUrl })),
    consoleUrl: options.consoleUrl,
    env: options.env ?? {},
    registry: options.registry,
    onAppended: options.database ? (wake) => onEventsAppended(options.database!, wake) : undefined,
    now,
  });
  let stopped = false;
  const detectLoop = (async () => {
    let lastRetention = 0;
    let lastTopology = 0;
    let lastCorrelatorCheckpoint = now();
    while (!stopped) {
      try {
        if (eventTimeMs > 0) {
          const until = closedBefore();
          await decisions.pass(until, firstEventTimeMs);
          judgedBefore = Math.max(judgedBefore, until);
        }
        metrics.openIncidents.set(decisions.openCount());
        if (now() - lastTopology > 10_000) {
          lastTopology = now();
          await correlator.persistTopology(sql, now());
        }
        // Once a minute: its signatures' histories can run to megabytes in a large fleet.
        if (!options.replay && now() - lastCorrelatorCheckpoint > 60_000) {
          lastCorrelatorCheckpoint = now();
          await correlator.checkpoint(sql);
        }
        if (now() - lastRetention > 60_000) {
          lastRetention = now();
          await retention();
        }
      } catch (error) {
        logger.error({ err: error }, 'detection pass failed');
      }
      // Woken when consumed telemetry closes an interval; otherwise it looks again in 500 ms (the clock
      // closes intervals too, and topology and retention have their own turns).
      await detectionNap.sleep(500);
    }
  })();
  logger.info({ resolutionSeconds: options.resolutionSeconds, prices: options.costs.prices.length, budgets: options.costs.budgets.length }, 'analyzer consuming otel.spans, otel.metrics and otel.logs');

  return {
    /** The newest event time consumed. */
    eventTimeMs: () => eventTimeMs,
    /** Judges every interval that ended before `untilMs` now (the end of a replay). */
    judgeUntil: async (untilMs: number) => {
      const resolutionMs = options.resolutionSeconds * 1000;
      await decisions.pass(Math.floor(untilMs / resolutionMs) * resolutionMs);
    },
    stop: async () => {
      stopped = true;
      detectionNap.wake();
      await subscription.stop();
      await outcomes?.stop();
      await detectLoop;
      // The buckets judged since the last checkpoint need no replay at the next start.
      await seriesWatch.checkpoint().catch((error: unknown) => logger.warn({ err: error }, 'detector checkpoint at stop failed'));
      if (!options.replay) await correlator.checkpoint(sql).catch((error: unknown) => logger.warn({ err: error }, 'correlator checkpoint at stop failed'));
      await notifier.stop();
    },
  };
};
