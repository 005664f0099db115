// The analyzer in two stages: collecting and detecting (consume → rollup → detect, per partition index
// of the telemetry topics) and one judge (correlate → decide → append, then notify). In one process the
// collector hands its batches to the judge directly and the judge runs the detectors for every service;
// analyzers running apart on Kafka share the partition indexes through leases in PostgreSQL, each
// detects for the services of the indexes it holds, and they hand their batches and detection reports
// on through heph.signals to the one judge holding the analyzer lock.
import { readCheckpoint, storeCheckpoint, type ConsumedRecord, type TransactionSql } from '@hephaestus/platform';
import { signalBatchSchema, topics } from '@hephaestus/schemas';
import { Counter, Gauge } from 'prom-client';
import { lagWithin, startCollector, telemetryTopics, type SignalBatch } from './collector.ts';
import { startJudge, type JudgeOptions } from './judge.ts';
import { startDetection } from './detection.ts';
import { resumeCorrelator } from './adapters/correlator.ts';

export type { SignalBatch } from './collector.ts';

export type AnalyzerOptions = JudgeOptions;

/**
 * Both stages in one process: the collector reads every partition (as the only consumer when `exclusive`)
 * and hands each applied batch straight to the judge.
 */
export const startAnalyzer = async (options: AnalyzerOptions) => {
  const judge = await startJudge(options);
  const collector = await startCollector({ ...options, emit: judge.accept });
  return {
    /** The newest event time consumed. */
    eventTimeMs: judge.eventTimeMs,
    /** Judges every interval that ended before `untilMs` now (the end of a replay). */
    judgeUntil: judge.judgeUntil,
    stop: async () => {
      await collector.stop();
      await judge.stop();
    },
  };
};

/** A batch as heph.signals carries it: JSON, the spans without their resource (the correlator does not read it). */
export const encodeSignalBatch = (batch: SignalBatch): Buffer =>
  Buffer.from(
    // JSON has no infinity: an optional number that is not finite is left out.
    JSON.stringify({ ...batch, spans: batch.spans.map(({ resource: _resource, ...span }) => span) }, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? undefined : value)),
  );

export const decodeSignalBatch = (bytes: Buffer): { ok: true; value: SignalBatch } | { ok: false; reason: string } => {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const parsed = signalBatchSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: `not a signal batch: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { ok: true, value: { ...parsed.data, spans: parsed.data.spans.map((span) => ({ ...span, resource: {} })) } };
};

type ApartOptions = Pick<
  AnalyzerOptions,
  'sql' | 'log' | 'logger' | 'registry' | 'resolutionSeconds' | 'graceSeconds' | 'warmupBuckets' | 'limits' | 'detectors' | 'policy' | 'settings' | 'consumerGroupPrefix' | 'costs' | 'now'
> & {
  exclusive?: boolean;
  /** The database the partition leases are held in (the analyzers' shared one). */
  databaseUrl: string;
};

/**
 * Stage 1 of analyzers running apart: the telemetry topics' partitions spread over the analyzers through
 * partition leases in PostgreSQL (one per partition index, every topic's partition of it); each applied
 * batch goes to heph.signals, once stored, and the detectors of the services of the partitions held
 * report each closed interval's observations there too.
 */
export const startSignalCollector = async (options: ApartOptions) => {
  const send = (batch: SignalBatch) => options.log.send(topics.signals, [{ key: batch.source, value: encodeSignalBatch(batch), headers: { 'content-type': 'application/json' } }]);
  let held: (() => ReadonlySet<number>) | undefined;
  const detection = startDetection({
    ...options,
    held: () => held?.() ?? new Set(),
    report: (report) => send({ source: 'detection', spans: [], detection: report }),
  });
  const collector = await startCollector({
    ...options,
    exclusive: false,
    leases: { databaseUrl: options.databaseUrl },
    onRelease: (indexes) => detection.handOver(indexes),
    emit: async (batch) => {
      if (batch.lastMs === undefined && batch.spans.length === 0) return;
      await send(batch);
      detection.accept(batch);
    },
  });
  held = collector.heldIndexes;
  return {
    stop: async () => {
      // The detectors' last checkpoints are written while their partitions are still held.
      await detection.stop();
      await collector.stop();
    },
  };
};

/**
 * Stage 2 of analyzers running apart (one at a time: the caller holds the analyzer lock): follows
 * heph.signals from the position saved with the correlator's checkpoint, so the batches after it are
 * learned again and none twice. A record that is not a signal batch goes to heph.deadletter.
 */
export const startSignalJudge = async (options: AnalyzerOptions) => {
  const { sql, logger } = options;
  const positionName = `${options.consumerGroupPrefix}-analyzer:${topics.signals}:0`;
  let position = await readCheckpoint(sql, positionName);
  const unreadable = new Counter({ name: 'heph_analyzer_signal_batches_unreadable_total', help: 'Records of heph.signals the judge could not read, sent to heph.deadletter.', registers: [options.registry] });
  const judge = await startJudge({
    ...options,
    exclusive: true,
    // Every partition index of the telemetry topics is waited for (until it goes unreported for 30 s).
    reports: { indexes: [...new Set((await options.log.lag(`${options.consumerGroupPrefix}-analyzer`, telemetryTopics)).map((p) => p.partition))] },
    correlator: await resumeCorrelator(sql, options.resolutionSeconds, logger),
    onCheckpoint: () => {
      const at = position;
      return (tx: TransactionSql) => storeCheckpoint(tx, positionName, at);
    },
  });
  const deadLetter = async (record: ConsumedRecord, reason: string) => {
    unreadable.inc();
    logger.warn({ source: `${record.topic}/${record.partition}/${record.offset}`, reason }, 'heph.signals record not read: sent to the dead letter topic');
    await options.log.send(topics.deadletter, [{ key: record.key, value: record.value, headers: { ...record.headers, 'heph-reason': reason, 'heph-source': `${record.topic}/${record.partition}/${record.offset}` } }]);
  };
  const subscription = await options.log.subscribe({
    groupId: `${options.consumerGroupPrefix}-analyzer-judge`,
    topics: [topics.signals],
    exclusive: { from: [{ topic: topics.signals, partition: 0, offset: position }] },
    handle: async ({ records }) => {
      for (const record of records) {
        if (record.offset < position) continue;
        const decoded = decodeSignalBatch(record.value);
        if (decoded.ok) await judge.accept(decoded.value);
        else await deadLetter(record, decoded.reason);
        position = record.offset + 1n;
      }
    },
  });
  new Gauge({
    name: 'heph_analyzer_signals_lag_records',
    help: 'Batches in heph.signals the judging analyzer has yet to read (read from the log when scraped).',
    registers: [options.registry],
    async collect() {
      const lags = await lagWithin(options.log, subscription.groupId, [topics.signals]);
      if (lags) this.set(lags.reduce((sum, l) => sum + l.lag, 0));
    },
  });
  logger.info({ from: position.toString() }, 'analyzer judging: following heph.signals');
  return {
    eventTimeMs: judge.eventTimeMs,
    watermarkMs: judge.watermarkMs,
    stop: async () => {
      await subscription.stop();
      await judge.stop();
    },
  };
};


