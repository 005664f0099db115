// The Postgres-backed log of the embedded default: records per topic partition in one table, offsets
// assigned under a row lock, consumer offsets in a table. Nothing lives only in memory. A partition whose
// handler fails backs off alone: the other partitions and topics keep flowing.
import { crc32 } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicPartitions, type TopicName } from '@hephaestus/schemas';
import { chunksOf, pgText, type Sql } from './database.ts';
import type { Logger } from './logger.ts';
import { LogUnavailableError, type BatchHandler, type ConsumedRecord, type Log, type LogRecord } from './log.ts';

const partitionsOf = (topic: string): number => topicPartitions[topic as TopicName] ?? 1;

/** Same key, same partition, as with Kafka's default partitioner (not the same hash). */
const partitionFor = (topic: string, key: string | null, fallback: number): number =>
  key === null ? fallback % partitionsOf(topic) : crc32(key) % partitionsOf(topic);

/** Keys are text and headers jsonb: neither holds NUL or a lone surrogate (a dead letter's reason may quote one). */
const storableHeaders = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [pgText(k), pgText(v)]));

type RecordRow = { partition: number; offset: string; key: string | null; value: Buffer; headers: Record<string, string> };

export const createPgLog = (sql: Sql, log: Logger, options: { pollMs?: number; batchSize?: number } = {}): Log => {
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
          const updated = await tx<{ next_offset: string }[]>`
            UPDATE log_partitions SET next_offset = next_offset + ${group.length}
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

  const subscribe = async ({ groupId, topics, handle }: { groupId: string; topics: string[]; handle: BatchHandler }) => {
    const state = { stopped: false, done: Promise.resolve() };
    const pollOnce = async (topic: string, partition: number): Promise<number> => {
      const committed = await sql<{ committed: string }[]>`
        SELECT committed FROM log_offsets WHERE group_id = ${groupId} AND topic = ${topic} AND partition = ${partition}`;
      const from = committed[0] ? committed[0].committed : '0';
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
      await handle({ topic, partition, records });
      const next = (records.at(-1)!.offset + 1n).toString();
      await sql`
        INSERT INTO log_offsets (group_id, topic, partition, committed) VALUES (${groupId}, ${topic}, ${partition}, ${next})
        ON CONFLICT (group_id, topic, partition) DO UPDATE SET committed = excluded.committed`;
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
      stop: async () => {
        state.stopped = true;
        await state.done;
        running.delete(state);
      },
    };
  };

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
    await Promise.all([...running].map((s) => s.done));
  };

  return { kind: 'postgres', ensureTopics, send, subscribe, ready, close };
};
