// The analyzer's first stage, collecting: consume → rollup. It reads otel.spans, otel.metrics and
// otel.logs, stores every batch's rollups and series in PostgreSQL with the offset it reaches, and hands
// on what comes next needs of it: how far the telemetry has got (detection closes intervals on it), and
// the spans the judge's correlator learns from. Several collectors may share the topics' partitions
// (partition leases in PostgreSQL, one per partition index: that partition of every topic, so a
// service's telemetry stays together); each partition's effects are applied once, in offset order.
import { startPartitionLeases, type ConsumedRecord, type Log, type Logger, type PartitionLag, type Sql, type TransactionSql } from '@hephaestus/platform';
import {
  decodeLogsProtobuf,
  decodeMetricsProtobuf,
  decodeTracesProtobuf,
  toLogRecords,
  toMetricPoints,
  toSpanRecords,
  topics,
  type CostsConfig,
  type DetectionReport,
  type LogRecordNormalized,
  type MetricPoint,
  type OtlpResult,
  type SpanRecord,
} from '@hephaestus/schemas';
import { Counter, Gauge, type Registry } from 'prom-client';
import { appliedOffset, appliedOffsets, claimRequests, lockAppliedOffset, mergeRollups, pruneAppliedRequests, recordServiceLimits, recordServiceVersions, storeAppliedOffset } from './adapters/rollup-store.ts';
import { rollupSpans } from './domain/rollup.ts';
import { callSeries, logSeries, metricSeries, operationAdmission, operationLatency, spanSeries, streamKey } from './domain/series.ts';
import { loadStreams, mergeSeries, storeStreams } from './adapters/series-store.ts';

/**
 * What one applied batch of a telemetry partition hands to the judge, once its effects are stored:
 * `source` is `<topic>/<partition>`; `firstMs` and `lastMs` the oldest and newest event time of its
 * items (absent when it had none); `spans` the spans applied, for the correlator; `behind` set when the
 * partition held records past the batch as it was read (its collector has more of it to apply).
 * Apart, a collector's detection pass travels the same way: `detection` holds its report, with no spans.
 */
export type SignalBatch = { source: string; firstMs?: number; lastMs?: number; spans: SpanRecord[]; behind?: boolean; detection?: DetectionReport };

export type CollectorOptions = {
  sql: Sql;
  log: Log;
  logger: Logger;
  registry: Registry;
  resolutionSeconds: number;
  consumerGroupPrefix: string;
  costs: CostsConfig;
  /**
   * This collector is the only one (a lock held elsewhere says so): it reads every partition at once from
   * the offsets it applied. Without it, collectors share the partitions as a consumer group.
   */
  exclusive?: boolean;
  /**
   * Collectors apart share the partitions through leases in this database (partition leases: a member
   * that dies frees its partitions at once); without it (and not exclusive) they share them as a Kafka
   * consumer group.
   */
  leases?: { databaseUrl: string; everyMs?: number };
  /** Leased: told the partition indexes about to be let go, before they are (a throw keeps them for the next look). */
  onRelease?: (indexes: number[]) => Promise<void>;
  /** Receives each applied batch, in order per partition; a throw redelivers the batch (whose effects are kept). */
  emit: (batch: SignalBatch) => Promise<void>;
  now?: () => number;
};

/** A group's consumer lag, read from the log for a scrape; undefined after 2 s (a scrape must not hang on a log that is down). */
export const lagWithin = async (log: Log, groupId: string, topicNames: string[]): Promise<PartitionLag[] | undefined> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), 2000);
  });
  const lags = await Promise.race([log.lag(groupId, topicNames), late]).catch(() => undefined);
  clearTimeout(timer);
  return lags;
};

/** The telemetry topics the collector reads. */
export const telemetryTopics = [topics.spans, topics.metrics, topics.logs];

export const startCollector = async (options: CollectorOptions) => {
  const { sql, logger } = options;
  const now = options.now ?? Date.now;
  const consumerName = `${options.consumerGroupPrefix}-analyzer`;
  const metrics = {
    records: new Counter({ name: 'heph_analyzer_records_total', help: 'Telemetry items consumed and applied, by signal: spans, metric data points, log records (not Kafka records, which carry many).', labelNames: ['signal'], registers: [options.registry] }),
    deadletters: new Counter({ name: 'heph_analyzer_deadletters_total', help: 'Records the analyzer could not decode or store, sent to heph.deadletter.', registers: [options.registry] }),
  };
  // Consumer lag, read from the log when scraped.
  /** The consumer group whose committed offsets are the collector's (an exclusive consumer's own group). */
  let lagGroup = consumerName;
  /** Leased: the partitions held now. */
  let heldNow: (() => Array<{ topic: string; partition: number }>) | undefined;
  new Gauge({
    name: 'heph_analyzer_consumer_lag_records',
    help: 'Telemetry records the analyzer has yet to consume and commit, per topic and partition (read from the log when scraped).',
    labelNames: ['topic', 'partition'],
    registers: [options.registry],
    async collect() {
      const lags = await lagWithin(options.log, lagGroup, telemetryTopics);
      // Leased, a collector answers for the partitions it holds (its own group commits only those).
      const held = heldNow ? new Set(heldNow().map((p) => `${p.topic}/${p.partition}`)) : undefined;
      this.reset();
      for (const l of (lags ?? []).filter((l) => !held || held.has(`${l.topic}/${l.partition}`))) this.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
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
    /** The spans among the items, for the correlator. */
    spans?: (items: T[]) => SpanRecord[];
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
  const resolution = options.resolutionSeconds;
  // Latency per operation for the first 20 span names of a service's calls, the same ones after a restart.
  const maxOperationsPerService = 20;
  const operations = operationAdmission(
    maxOperationsPerService,
    await sql<{ service: string; operation: string }[]>`
      SELECT DISTINCT service, operation FROM series
      WHERE resolution_seconds = ${resolution} AND bucket_start >= ${new Date(now() - 86_400_000)} AND signal = ${operationLatency} AND operation <> ''`,
  );
  type Batch = { topic: string; partition: number; records: ConsumedRecord[]; highWatermark?: bigint };
  // Which partition index each service's records are keyed to (service.name: the same index in every
  // otel.* topic): whoever holds that index detects for the service.
  const partitionOfService = new Map(
    (await sql<{ service: string; partition_index: number }[]>`SELECT service, partition_index FROM service_partitions`).map((r) => [r.service, r.partition_index]),
  );
  const recordPartitions = async (tx: TransactionSql, records: Decoded<unknown>[], partition: number) => {
    const moved = [...new Set(records.flatMap(({ record }) => (record.key !== null && partitionOfService.get(record.key) !== partition ? [record.key] : [])))];
    if (moved.length > 0) {
      await tx`
        INSERT INTO service_partitions ${tx(moved.map((service) => ({ service, partition_index: partition })))}
        ON CONFLICT (service) DO UPDATE SET partition_index = EXCLUDED.partition_index, seen_at = now()`;
    }
    return moved;
  };
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
      spans: (spans) => spans,
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
    let keyed: string[] = [];
    await sql.begin(async (tx) => {
      const from = await lockAppliedOffset(tx, consumerName, topic, partition);
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
      keyed = await recordPartitions(tx, fresh, partition);
      await storeAppliedOffset(tx, consumerName, topic, partition, next);
      items = freshItems;
      repeated = unapplied.length - fresh.length;
    });
    for (const service of keyed) partitionOfService.set(service, partition);
    let firstMs: number | undefined;
    let lastMs: number | undefined;
    for (const item of items) {
      const t = s.timeOf(item);
      if (!Number.isFinite(t)) continue;
      if (firstMs === undefined || t < firstMs) firstMs = t;
      if (lastMs === undefined || t > lastMs) lastMs = t;
    }
    metrics.records.inc({ signal: s.signal }, items.length);
    if (repeated > 0) {
      repeatedRequests.inc(repeated);
      logger.info({ topic, partition, records: repeated }, 'records of a retried request skipped: their request id was applied already');
    }
    if (now() - lastPruneMs > 60_000) {
      lastPruneMs = now();
      await pruneAppliedRequests(sql, lastPruneMs - requestIdsKeptMs);
    }
    return { source: `${topic}/${partition}`, firstMs, lastMs, spans: s.spans?.(items) ?? [] } satisfies SignalBatch;
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

  /** Several applied slices of one batch (a record isolated after a failure) handed on as one. */
  const joined = (source: string, parts: SignalBatch[]): SignalBatch => ({
    source,
    firstMs: parts.reduce<number | undefined>((m, p) => (p.firstMs === undefined ? m : m === undefined ? p.firstMs : Math.min(m, p.firstMs)), undefined),
    lastMs: parts.reduce<number | undefined>((m, p) => (p.lastMs === undefined ? m : m === undefined ? p.lastMs : Math.max(m, p.lastMs)), undefined),
    spans: parts.flatMap((p) => p.spans),
  });

  const consumeWith = async <T>(s: Stage<T>, { topic, partition, records, highWatermark }: Batch) => {
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
    // Handed on once stored: a hand-off that fails redelivers the batch, whose effects are not applied
    // twice (its spans are then lost to the correlator, which learns from the next ones).
    const applied = await applyBatch(s, topic, partition, decoded, next);
    await options.emit(highWatermark !== undefined && next < highWatermark ? { ...applied, behind: true } : applied);
  };

  const applyBatch = async <T>(s: Stage<T>, topic: string, partition: number, decoded: Decoded<T>[], next: bigint): Promise<SignalBatch> => {
    try {
      return await applyRecords(s, topic, partition, decoded, next);
    } catch (error) {
      if (await transient(error)) throw error;
      logger.warn({ err: error, topic, partition, records: decoded.length }, 'batch not stored: applying its records one by one');
    }
    // Isolate the record that fails: each alone in its transaction, in offset order.
    const parts: SignalBatch[] = [];
    for (const one of decoded) {
      try {
        parts.push(await applyRecords(s, topic, partition, [one], one.record.offset + 1n));
      } catch (error) {
        if (await transient(error)) throw error;
        await deadLetter([{ record: one.record, reason: `not stored: ${error instanceof Error ? error.message : String(error)}` }]);
      }
    }
    parts.push(await applyRecords(s, topic, partition, [], next));
    return joined(`${topic}/${partition}`, parts);
  };

  const leased = options.leases !== undefined;
  const subscription = await options.log.subscribe({
    groupId: consumerName,
    topics: telemetryTopics,
    handle: async (batch) => {
      await stages.get(batch.topic)?.(batch);
    },
    ...(leased ? { exclusive: { from: [], leased: true } } : options.exclusive ? { exclusive: { from: await appliedOffsets(sql, consumerName) } } : {}),
  });
  lagGroup = subscription.groupId;
  // Leased: a lease per partition index, covering that partition of every telemetry topic (a service's
  // spans, metrics and logs are keyed alike, so one collector applies, and detects for, all of a
  // service's telemetry); each partition it takes is read from the offset applied in PostgreSQL.
  const partitionsOf = options.leases ? (await options.log.lag(subscription.groupId, telemetryTopics)).map(({ topic, partition }) => ({ topic, partition })) : [];
  const indexes = [...new Set(partitionsOf.map((p) => p.partition))].sort((a, b) => a - b);
  const expand = (held: Array<{ partition: number }>) => {
    const wanted = new Set(held.map((h) => h.partition));
    return partitionsOf.filter((p) => wanted.has(p.partition));
  };
  const leases = options.leases
    ? await startPartitionLeases({
        url: options.leases.databaseUrl,
        pool: consumerName,
        partitions: indexes.map((partition) => ({ topic: 'otel.*', partition })),
        logger,
        everyMs: options.leases.everyMs,
        onChange: async ({ held, released }) => {
          await options.onRelease?.(released.map((r) => r.partition));
          const applied = new Map((await appliedOffsets(sql, consumerName)).map((a) => [`${a.topic}/${a.partition}`, a.offset]));
          await subscription.assign!(expand(held).map((p) => ({ ...p, offset: applied.get(`${p.topic}/${p.partition}`) ?? 0n })));
        },
      })
    : undefined;
  heldNow = leases ? () => expand(leases.held()) : undefined;
  if (leases) {
    new Gauge({
      name: 'heph_analyzer_partitions_held',
      help: 'Telemetry partitions this analyzer collects now (its partition leases).',
      registers: [options.registry],
      collect() {
        this.set(heldNow?.().length ?? 0);
      },
    });
  }
  logger.info(
    { resolutionSeconds: options.resolutionSeconds, exclusive: options.exclusive === true, leased, prices: options.costs.prices.length },
    `analyzer consuming ${telemetryTopics.join(', ')}${leased ? ': the partitions it holds leases on' : options.exclusive ? '' : ' as a member of its consumer group'}`,
  );
  return {
    /** Leased: the partition indexes held now (every topic's partition of that index); unset: every one. */
    heldIndexes: leases ? () => new Set(leases.held().map((p) => p.partition)) : undefined,
    stop: async () => {
      await leases?.stop();
      await subscription.stop();
    },
  };
};
