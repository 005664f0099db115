// The Postgres-backed log of the embedded default: records per topic partition in one table, offsets
// assigned under a row lock, consumer offsets in a table. Nothing lives only in memory. A partition whose
// handler fails backs off alone: the other partitions and topics keep flowing. Retention deletes records
// every consumer group has read once they are older than the age limit, and the oldest records of a
// topic past its size limit, read or not.
import { crc32 } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicPartitions, type TopicName } from '@hephaestus/schemas';
import { chunksOf, pgText, type Sql } from './database.ts';
import type { Logger } from './logger.ts';
import { LogUnavailableError, type ConsumedRecord, type Log, type LogRecord, type PartitionLag, type PartitionPosition, type SubscribeOptions } from './log.ts';

const partitionsOf = (topic: string): number => topicPartitions[topic as TopicName] ?? 1;

/** Same key, same partition, as with Kafka's default partitioner (not the same hash). */
const partitionFor = (topic: string, key: string | null, fallback: number): number =>
  key === null ? fallback % partitionsOf(topic) : crc32(key) % partitionsOf(topic);

/** Keys are text and headers jsonb: neither holds NUL or a lone surrogate (a dead letter's reason may quote one). */
const storableHeaders = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [pgText(k), pgText(v)]));

type RecordRow = { partition: number; offset: string; key: string | null; value: Buffer; headers: Record<string, string> };

/** What retention counts of a record: the bytes of its key and value (the same in JS and SQL). */
const recordBytes = (key: string | null, value: Buffer) => (key === null ? 0 : Buffer.byteLength(key)) + value.length;

export type LogRetention = {
  /** Records every live consumer group has read are deleted this long after they were appended. */
  maxAgeMs: number;
  /** Past this many bytes (keys and values) in a topic, its oldest records go, read or not. */
  maxBytesPerTopic: number;
  /** How often retention runs; one minute. */
  intervalMs?: number;
};

/** What one retention pass deleted: records, and of them the ones some live consumer group had not read. */
export type PruneResult = { deleted: number; unconsumed: number };

export type PgLog = Log & { prune: () => Promise<PruneResult> };

export const createPgLog = (sql: Sql, log: Logger, options: { pollMs?: number; batchSize?: number; retention?: LogRetention } = {}): PgLog => {
  const pollMs = options.pollMs ?? 100;
  const batchSize = options.batchSize ?? 500;
  let roundRobin = 0;
  const running = new Set<{ stopped: boolean; done: Promise<void> }>();

  const ensureTopics = async () => {
    for (const [topic, count] of Object.entries(topicPartitions)) {
      for (let partition = 0; partition < count; partition++) {
        await sql`INSERT INTO log_partitions (topic, partition) VALUES (${topic}, ${partition}) ON CONFLICT DO NOTHING`;
      }
    }
  };

  const send = async (topic: string, records: LogRecord[]) => {
    if (records.length === 0) return;
    const byPartition = new Map<number, LogRecord[]>();
    for (const record of records) {
      const partition = partitionFor(topic, record.key, roundRobin++);
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), record]);
    }
    try {
      await sql.begin(async (tx) => {
        for (const [partition, group] of byPartition) {
          const bytes = group.reduce((n, r) => n + recordBytes(r.key === null ? null : pgText(r.key), r.value), 0);
          const updated = await tx<{ next_offset: string }[]>`
            UPDATE log_partitions SET next_offset = next_offset + ${group.length}, bytes = bytes + ${bytes}
            WHERE topic = ${topic} AND partition = ${partition} RETURNING next_offset`;
          if (!updated[0]) throw new LogUnavailableError(`topic ${topic} partition ${partition} does not exist`);
          const first = BigInt(updated[0].next_offset) - BigInt(group.length);
          const rows = group.map((r, i) => ({
            topic,
            partition,
            offset: (first + BigInt(i)).toString(),
            key: r.key === null ? null : pgText(r.key),
            value: r.value,
            headers: tx.json(storableHeaders(r.headers)),
          }));
          for (const chunk of chunksOf(rows, 6)) {
            await tx`INSERT INTO log_records ${tx(chunk, 'topic', 'partition', 'offset', 'key', 'value', 'headers')}`;
          }
        }
      });
    } catch (error) {
      if (error instanceof LogUnavailableError) throw error;
      throw new LogUnavailableError('postgres log write failed', { cause: error });
    }
  };

  // No membership here: every subscriber reads every partition, so an exclusive one has no one to wait
  // for; it reads each partition from its given position until it has handled a batch there.
  const subscribe = async ({ groupId, topics, handle, exclusive }: SubscribeOptions) => {
    const state = { stopped: false, done: Promise.resolve() };
    const given = new Map((exclusive?.from ?? []).map((at) => [`${at.topic}/${at.partition}`, at.offset.toString()]));
    const pollOnce = async (topic: string, partition: number): Promise<number> => {
      const committed = await sql<{ committed: string }[]>`
        SELECT committed FROM log_offsets WHERE group_id = ${groupId} AND topic = ${topic} AND partition = ${partition}`;
      const from = given.get(`${topic}/${partition}`) ?? (committed[0] ? committed[0].committed : '0');
      const rows = await sql<RecordRow[]>`
        SELECT partition, "offset", key, value, headers FROM log_records
        WHERE topic = ${topic} AND partition = ${partition} AND "offset" >= ${from}
        ORDER BY "offset" LIMIT ${batchSize}`;
      if (rows.length === 0) return 0;
      const records: ConsumedRecord[] = rows.map((r) => ({
        topic,
        partition,
        offset: BigInt(r.offset),
        key: r.key,
        value: r.value,
        headers: r.headers,
      }));
      // A full batch may have more behind it: the partition's end says how far it goes.
      const last = records.at(-1)!.offset;
      const end =
        rows.length < batchSize
          ? last + 1n
          : BigInt((await sql<{ next_offset: string }[]>`SELECT next_offset FROM log_partitions WHERE topic = ${topic} AND partition = ${partition}`)[0]?.next_offset ?? last + 1n);
      await handle({ topic, partition, records, highWatermark: end });
      given.delete(`${topic}/${partition}`);
      const next = (last + 1n).toString();
      await sql`
        INSERT INTO log_offsets (group_id, topic, partition, committed, committed_at) VALUES (${groupId}, ${topic}, ${partition}, ${next}, now())
        ON CONFLICT (group_id, topic, partition) DO UPDATE SET committed = excluded.committed, committed_at = excluded.committed_at`;
      return records.length;
    };
    // Per partition: consecutive failures and when to try again.
    const backoff = new Map<string, { failures: number; retryAt: number }>();
    const loop = async () => {
      while (!state.stopped) {
        let consumed = 0;
        for (const topic of topics) {
          for (let partition = 0; partition < partitionsOf(topic); partition++) {
            if (state.stopped) return;
            const at = `${topic}/${partition}`;
            const failing = backoff.get(at);
            if (failing && failing.retryAt > Date.now()) continue;
            try {
              consumed += await pollOnce(topic, partition);
              backoff.delete(at);
            } catch (error) {
              const failures = (failing?.failures ?? 0) + 1;
              backoff.set(at, { failures, retryAt: Date.now() + Math.min(5000, 200 * 2 ** failures) });
              log.error({ err: error, groupId, topic, partition, failures }, 'log consumer batch failed, retrying');
            }
          }
        }
        if (consumed === 0 && !state.stopped) await sleep(pollMs);
      }
    };
    state.done = loop();
    running.add(state);
    return {
      groupId,
      stop: async () => {
        state.stopped = true;
        await state.done;
        running.delete(state);
      },
    };
  };

  // Retention. A group that has not committed within the age limit is gone (as Kafka expires the offsets
  // of an empty group); the others hold back what they have not read, except past the size limit.
  const retention = options.retention;
  /** Deletes records of one partition below `upTo` (older than `before`, if given); keeps its byte count. */
  const deleteBelow = async (topic: string, partition: number, upTo: bigint, before: Date | null, unreadFrom: bigint) => {
    const [row] = await sql<{ records: number; unconsumed: number }[]>`
      WITH gone AS (
        DELETE FROM log_records
        WHERE topic = ${topic} AND partition = ${partition} AND "offset" < ${upTo.toString()}
          AND (${before}::timestamptz IS NULL OR appended_at < ${before})
        RETURNING "offset", octet_length(value) + coalesce(octet_length(key), 0) AS size
      ), counted AS (
        UPDATE log_partitions SET bytes = bytes - (SELECT coalesce(sum(size), 0) FROM gone)
        WHERE topic = ${topic} AND partition = ${partition}
      )
      SELECT count(*)::int AS records, (count(*) FILTER (WHERE "offset" >= ${unreadFrom.toString()}))::int AS unconsumed FROM gone`;
    return row ?? { records: 0, unconsumed: 0 };
  };

  const prune = async (): Promise<PruneResult> => {
    const result: PruneResult = { deleted: 0, unconsumed: 0 };
    if (!retention) return result;
    const cutoff = new Date(Date.now() - retention.maxAgeMs);
    for (const topic of Object.keys(topicPartitions)) {
      // Per partition, the first offset some live group has not read (no live group: all of it is read).
      const partitions = await sql<{ partition: number; unread_from: string }[]>`
        SELECT p.partition, coalesce((
          SELECT min(coalesce(o.committed, 0))
          FROM (SELECT DISTINCT group_id FROM log_offsets WHERE topic = ${topic} AND committed_at >= ${cutoff}) live
          LEFT JOIN log_offsets o ON o.group_id = live.group_id AND o.topic = ${topic} AND o.partition = p.partition
        ), p.next_offset) AS unread_from
        FROM log_partitions p WHERE p.topic = ${topic}`;
      const unreadFrom = new Map(partitions.map((p) => [p.partition, BigInt(p.unread_from)]));
      for (const [partition, from] of unreadFrom) {
        result.deleted += (await deleteBelow(topic, partition, from, cutoff, from)).records;
      }
      // Past the size limit: the oldest records first, across partitions, read or not.
      let dropped = 0;
      let unconsumed = 0;
      for (;;) {
        const [size] = await sql<{ bytes: string }[]>`SELECT coalesce(sum(bytes), 0)::bigint AS bytes FROM log_partitions WHERE topic = ${topic}`;
        let excess = Number(size!.bytes) - retention.maxBytesPerTopic;
        if (excess <= 0) break;
        const oldest = await sql<{ partition: number; offset: string; size: number }[]>`
          SELECT r.partition, r."offset", r.size FROM log_partitions p CROSS JOIN LATERAL (
            SELECT partition, "offset", appended_at, octet_length(value) + coalesce(octet_length(key), 0) AS size
            FROM log_records WHERE topic = p.topic AND partition = p.partition ORDER BY "offset" LIMIT 1000
          ) r
          WHERE p.topic = ${topic}
          ORDER BY r.appended_at, r.partition, r."offset" LIMIT 1000`;
        if (oldest.length === 0) break;
        const upTo = new Map<number, bigint>();
        for (const record of oldest) {
          if (excess <= 0) break;
          upTo.set(record.partition, BigInt(record.offset) + 1n);
          excess -= record.size;
        }
        const before = dropped;
        for (const [partition, offset] of upTo) {
          const gone = await deleteBelow(topic, partition, offset, null, unreadFrom.get(partition) ?? 0n);
          dropped += gone.records;
          unconsumed += gone.unconsumed;
        }
        if (dropped === before) break;
      }
      result.deleted += dropped;
      result.unconsumed += unconsumed;
      if (unconsumed > 0) {
        log.warn({ topic, dropped, unconsumed, maxBytes: retention.maxBytesPerTopic }, `log retention dropped ${unconsumed} records a consumer group had not read yet: the topic is over its size limit`);
      }
    }
    return result;
  };
  const retentionLoop = { stopped: false, done: Promise.resolve(), wake: () => {} };
  if (retention) {
    retentionLoop.done = (async () => {
      while (!retentionLoop.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, retention.intervalMs ?? 60_000);
          retentionLoop.wake = () => (clearTimeout(timer), resolve());
        });
        if (retentionLoop.stopped) return;
        try {
          const pruned = await prune();
          if (pruned.deleted > 0) log.info(pruned, 'log retention deleted records');
        } catch (error) {
          log.error({ err: error }, 'log retention failed, trying again later');
        }
      }
    })();
  }

  const ready = async () => {
    try {
      await sql`SELECT 1`;
      return true;
    } catch {
      return false;
    }
  };

  const close = async () => {
    for (const state of running) state.stopped = true;
    retentionLoop.stopped = true;
    retentionLoop.wake();
    await Promise.all([...[...running].map((s) => s.done), retentionLoop.done]);
  };

  // lag: the next offset of each partition less what the group committed (its oldest kept record when
  // it committed nothing).
  const lag = async (groupId: string, topics: string[]): Promise<PartitionLag[]> =>
    (
      await sql<{ topic: string; partition: number; lag: string }[]>`
        SELECT p.topic, p.partition,
               greatest(0, p.next_offset - coalesce(o.committed, (SELECT min("offset") FROM log_records r WHERE r.topic = p.topic AND r.partition = p.partition), p.next_offset))::bigint AS lag
        FROM log_partitions p
        LEFT JOIN log_offsets o ON o.group_id = ${groupId} AND o.topic = p.topic AND o.partition = p.partition
        WHERE p.topic IN ${sql(topics)}
        ORDER BY p.topic, p.partition`
    ).map((r) => ({ topic: r.topic, partition: r.partition, lag: Number(r.lag) }));

  const committed = async (groupId: string, topics: string[]): Promise<PartitionPosition[]> =>
    (
      await sql<{ topic: string; partition: number; committed: string }[]>`
        SELECT topic, partition, committed FROM log_offsets WHERE group_id = ${groupId} AND topic IN ${sql(topics)} ORDER BY topic, partition`
    ).map((r) => ({ topic: r.topic, partition: r.partition, offset: BigInt(r.committed) }));

  return { kind: 'postgres', ensureTopics, send, subscribe, ready, lag, committed, close, prune };
};
