// The analyzer's second stage: correlate → decide (the incident policy, on event time) → append, then
// notify. It learns from the batches the collectors hand on (how far the telemetry has got, and the
// spans the correlator reads) and runs one at a time (the analyzer lock). Apart, the collectors detect
// and it decides on their reports; in one process it also runs the detectors, for every service, on
// the rollups and series the collector stored.
import { onEventsAppended, sleeper, type Database, type Log, type Logger, type Sql } from '@hephaestus/platform';
import { defaultObjectives, type CostsConfig, type ObjectivesConfig, type Routing } from '@hephaestus/schemas';
import { Gauge, type Registry } from 'prom-client';
import { createIncidentDecisions } from './adapters/decide-incidents.ts';
import { loadRouting, startAlertDispatcher } from './adapters/alert-dispatcher.ts';
import { defaultErrorRateSettings, type ErrorRateSettings } from './domain/error-rate-detector.ts';
import { defaultPolicySettings, type PolicySettings } from './domain/incident-policy.ts';
import { createObjectiveWatch } from './adapters/objective-watch.ts';
import { downsample } from './adapters/series-store.ts';
import { analyzerSeriesWatch } from './adapters/series-watch.ts';
import { createCorrelator, resumeCorrelator, type Correlator } from './adapters/correlator.ts';
import { startRemediationOutcomes } from './adapters/remediation-outcomes.ts';
import { storeFrozenBaselines } from './adapters/frozen-baselines.ts';
import { pruneIncidentTraces } from './adapters/incident-traces.ts';
import type { DetectorName } from './domain/detectors/index.ts';
import { createWatermark } from './domain/watermark.ts';
import { connectedWithin } from './domain/correlation/topology.ts';
import type { SignalBatch } from './collector.ts';
import type { DetectionReport } from '@hephaestus/schemas';
import type { Observation } from './domain/incident-policy.ts';

export type JudgeOptions = {
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
  /** The only judge (the analyzer lock says so): the remediation outcomes it follows are read as an exclusive consumer. */
  exclusive?: boolean;
  /** The correlator to go on with (one resumed with the position of the batches it has learned); unset: resumed from its checkpoint. */
  correlator?: Correlator;
  /**
   * Analyzers apart: the collectors detect (stage 1) and their batches carry detection reports; the
   * judge closes an interval once every partition index is reported past it, and decides on the
   * observations reported instead of running the detectors itself.
   */
  reports?: { indexes: number[] };
  /** Called after each correlator checkpoint is written, in the same transaction (the position of the batches it holds). */
  onCheckpoint?: Parameters<Correlator['checkpoint']>[1];
  now?: () => number;
};

export const startJudge = async (options: JudgeOptions) => {
  const { sql, logger } = options;
  const now = options.now ?? Date.now;
  const settings = options.settings ?? defaultErrorRateSettings;
  const reopenWithinMs = options.reopenWithinMs ?? 10 * 60_000;
  const openIncidents = new Gauge({ name: 'heph_analyzer_open_incidents', help: 'Incidents currently open.', registers: [options.registry] });
  // The graph and error signatures as the last analyzer left them (a replay starts from nothing).
  const correlator = options.correlator ?? (options.replay ? createCorrelator({ resolutionSeconds: options.resolutionSeconds }) : await resumeCorrelator(sql, options.resolutionSeconds, logger));
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
  /** Live: the newest event time, held back by any partition whose collector is still behind it. */
  const watermark = createWatermark({ staleMs: 30_000 });
  // A timestamp far in the future (a skewed agent clock) must not close intervals early: the clock caps it.
  const advance = (batch: SignalBatch) => {
    const { source, firstMs, lastMs } = batch;
    if (lastMs === undefined || firstMs === undefined) {
      if (!options.replay) watermark.advance(batch, now());
      return;
    }
    if (options.replay) {
      if (firstEventTimeMs === undefined || firstMs < firstEventTimeMs) firstEventTimeMs = firstMs;
      if (lastMs > (replayedUpTo.get(source) ?? Number.NEGATIVE_INFINITY)) replayedUpTo.set(source, lastMs);
    } else {
      watermark.advance(batch, now(), now() + 60_000);
    }
    if (lastMs > eventTimeMs) eventTimeMs = options.replay ? lastMs : Math.min(lastMs, now() + 60_000);
  };
  new Gauge({
    name: 'heph_analyzer_watermark_held_back_seconds',
    help: 'How far the event time intervals close at is behind the newest consumed: a collector still catching up on a partition holds it back.',
    registers: [options.registry],
    collect() {
      if (!options.replay) this.set(Math.max(0, watermark.newestMs() - watermark.at(now()).ms) / 1000);
    },
  });
  /** Live: how far every partition's telemetry has got (the partitions still being caught up hold it back). */
  const liveWatermark = () => {
    const { ms, wentStale } = watermark.at(now());
    for (const source of wentStale) {
      logger.warn({ source }, `partition ${source} was behind and has not been heard of for 30 s: intervals close without waiting for it`);
    }
    return ms;
  };

  // Apart, the collectors run the detectors (stage 1); here only in one process.
  const seriesWatch = options.reports ? undefined : analyzerSeriesWatch(options, (service) => connectedWithin(correlator.topology, service, 4));
  // Apart: what the collectors reported. Per partition index, the time before which every interval is
  // judged (an index not reported for 30 s of the clock, its collector gone and nobody taking it over,
  // stops holding the judgement back); the observations not decided yet, once each per service, signal
  // and interval (an index taken over is judged again from its checkpoint on).
  const reported = new Map<number, { before: number; heardAtMs: number; stale: boolean }>((options.reports?.indexes ?? []).map((index) => [index, { before: Number.NEGATIVE_INFINITY, heardAtMs: now(), stale: false }]));
  const pending = new Map<string, Observation>();
  const reportedBefore = (): number | undefined => {
    let before: number | undefined;
    for (const [index, r] of reported) {
      if (now() - r.heardAtMs >= 30_000) {
        if (!r.stale) logger.warn({ partition: index }, `detection of partition ${index} has not been reported for 30 s: intervals close without waiting for it`);
        r.stale = true;
        continue;
      }
      before = before === undefined ? r.before : Math.min(before, r.before);
    }
    return before;
  };
  const learnReport = (report: DetectionReport) => {
    for (const index of report.indexes) {
      const known = reported.get(index);
      reported.set(index, { before: Math.max(known?.before ?? Number.NEGATIVE_INFINITY, report.before), heardAtMs: now(), stale: false });
    }
    const decided = decisions.judgedUntil() ?? Number.NEGATIVE_INFINITY;
    for (const o of report.observations) {
      const key = `${o.service}\u0000${o.signal}\u0000${o.bucketStartMs}`;
      if (o.bucketStartMs >= decided && !pending.has(key)) pending.set(key, o);
    }
  };
  /** The observations reported of the intervals from `first` to `closedBefore` (older ones are decided already); error rates get their interval's top error signature. */
  const takeReported = (first: number, closedBefore: number): Observation[] => {
    const out: Observation[] = [];
    for (const [key, o] of pending) {
      if (o.bucketStartMs >= closedBefore) continue;
      pending.delete(key);
      if (o.bucketStartMs < first) continue;
      const signature = o.signal === 'error_rate' && o.signature === undefined ? correlator.topSignature(o.service, o.bucketStartMs - options.resolutionSeconds * 1000) : undefined;
      out.push(signature ? { ...o, signature: signature.id, signatureTemplate: signature.template } : o);
    }
    return out;
  };
  let frozenWritten = '[]';
  /** Apart: the baselines the open incidents froze, for the collectors' detectors (hysteresis). */
  const shareFrozen = async () => {
    const frozen = decisions.frozen();
    const text = JSON.stringify(frozen);
    if (text === frozenWritten) return;
    await storeFrozenBaselines(sql, frozen);
    frozenWritten = text;
  };

  const decisions = createIncidentDecisions({
    sql,
    logger,
    registry: options.registry,
    resolutionSeconds: options.resolutionSeconds,
    errorRate: settings,
    policy: { ...defaultPolicySettings(options.resolutionSeconds * 1000), reopenWithinMs, ...options.policy },
    correlator,
    observeSeries: seriesWatch?.observe ?? (async () => []),
    observeObjectives: createObjectiveWatch({ sql, resolutionSeconds: options.resolutionSeconds, objectives: options.objectives ?? defaultObjectives }).observe,
    maxCatchUpIntervals: options.replay ? Number.POSITIVE_INFINITY : undefined,
    detected: options.reports ? takeReported : undefined,
  });
  // Event time: an interval is judged once the telemetry consumed has passed its end plus the grace
  // (and never ahead of the clock), so a busy machine judges the same complete intervals later
  // instead of half-filled ones on time.
  const closedBefore = () => {
    const resolutionMs = options.resolutionSeconds * 1000;
    if (options.reports) return Math.max(0, reportedBefore() ?? 0);
    const upTo = options.replay ? Math.min(...replayedUpTo.values()) : Math.min(now(), liveWatermark());
    return Math.floor((upTo - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
  };

  /** One applied batch of telemetry: the correlator learns its spans, and time moves on. */
  const accept = async (batch: SignalBatch) => {
    for (const span of batch.spans) correlator.observe(span);
    advance(batch);
    if (batch.detection) learnReport(batch.detection);
    if (eventTimeMs === 0) return;
    // A replay judges as it consumes, so detection keeps pace with the telemetry however fast it is read.
    if (options.replay) await decisions.pass(closedBefore(), firstEventTimeMs);
    // The telemetry passed the end of an interval (and its grace): judge it now, not at the next look.
    else if (closedBefore() > judgedBefore) detectionNap.wake();
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
        const until = closedBefore();
        if (eventTimeMs > 0 && until > 0) {
          await decisions.pass(until, firstEventTimeMs);
          judgedBefore = Math.max(judgedBefore, until);
          if (options.reports) await shareFrozen();
        }
        openIncidents.set(decisions.openCount());
        if (now() - lastTopology > 10_000) {
          lastTopology = now();
          await correlator.persistTopology(sql, now());
        }
        // Once a minute: its signatures' histories can run to megabytes in a large fleet.
        if (!options.replay && now() - lastCorrelatorCheckpoint > 60_000) {
          lastCorrelatorCheckpoint = now();
          await correlator.checkpoint(sql, options.onCheckpoint);
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

  return {
    accept,
    /** The newest event time consumed. */
    eventTimeMs: () => eventTimeMs,
    /** Live: the event time intervals close at (before the grace): the newest, held back by partitions still behind. */
    watermarkMs: () => watermark.at(now()).ms,
    /** Judges every interval that ended before `untilMs` now (the end of a replay). */
    judgeUntil: async (untilMs: number) => {
      const resolutionMs = options.resolutionSeconds * 1000;
      await decisions.pass(Math.floor(untilMs / resolutionMs) * resolutionMs);
    },
    /** Once no more batches come: the last checkpoints, then the alerts still due. */
    stop: async () => {
      stopped = true;
      detectionNap.wake();
      await outcomes?.stop();
      await detectLoop;
      // The buckets judged since the last checkpoint need no replay at the next start.
      await seriesWatch?.checkpoint().catch((error: unknown) => logger.warn({ err: error }, 'detector checkpoint at stop failed'));
      if (!options.replay) await correlator.checkpoint(sql, options.onCheckpoint).catch((error: unknown) => logger.warn({ err: error }, 'correlator checkpoint at stop failed'));
      await notifier.stop();
    },
  };
};
