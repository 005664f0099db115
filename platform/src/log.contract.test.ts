// One contract for both adapters of the log port: the real Kafka broker and the Postgres-backed log.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, pgText, type Database } from './database.ts';
import { createKafkaLog } from './kafka-log.ts';
import type { ConsumedRecord, Log } from './log.ts';
import { createPgLog } from './pg-log.ts';
import { freshDatabase, kafkaBrokers, testLogger } from './testing.ts';

const waitFor = async <T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(50);
  }
};

/** Each adapter opened fresh; `topicPrefix` gives Kafka topics of their own (the Postgres log has a fresh database each time). */
const adapters: Array<[string, (topicPrefix?: string) => Promise<{ log: Log; cleanup: () => Promise<void> }>]> = [
  [
    'kafka',
    async (topicPrefix?: string) => {
      const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'contract-test', topicPrefix }, testLogger());
      return { log, cleanup: () => log.close() };
    },
  ],
  [
    'postgres',
    async () => {
      const fresh = await freshDatabase();
      const db: Database = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
      const log = createPgLog(db.sql, testLogger(), { pollMs: 20 });
      return { log, cleanup: async () => (await log.close(), await db.close(), await fresh.drop()) };
    },
  ],
];

describe.each(adapters)('log port on %s', (_name, open) => {
  let log: Log;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ log, cleanup } = await open());
    await log.ensureTopics();
    await log.ensureTopics();
  });
  afterAll(async () => cleanup());

  it('answers ready when the log is reachable', async () => {
    expect(await log.ready()).toBe(true);
  });

  it("tells a group's lag per partition: what was sent and not yet committed", async () => {
    const run = randomBytes(4).toString('hex');
    const { log: own, cleanup: close } = await open(`lag-${run}.`);
    try {
      await own.ensureTopics();
      const group = `lag-${run}`;
      const total = async () => (await own.lag(group, ['heph.deadletter'])).reduce((n, p) => n + p.lag, 0);
      const partitions = await own.lag(group, ['heph.deadletter']);
      expect(partitions.length).toBeGreaterThan(0);
      expect(partitions.every((p) => p.topic === 'heph.deadletter' && p.lag === 0)).toBe(true);
      await own.send('heph.deadletter', Array.from({ length: 5 }, (_, i) => ({ key: `${run}-${i}`, value: Buffer.from(String(i)), headers: {} })));
      expect(await total()).toBe(5);
      let seen = 0;
      const subscription = await own.subscribe({ groupId: group, topics: ['heph.deadletter'], handle: async ({ records }) => void (seen += records.length) });
      await waitFor(() => (seen >= 5 ? true : undefined));
      await subscription.stop();
      // Committed after each batch: nothing left behind.
      expect(await total()).toBe(0);
    } finally {
      await close();
    }
  });

  it('delivers what was sent, with key and headers, in order per key', async () => {
    const run = randomBytes(4).toString('hex');
    const received: ConsumedRecord[] = [];
    const subscription = await log.subscribe({
      groupId: `contract-${run}`,
      topics: ['heph.deadletter'],
      handle: async ({ records }) => void received.push(...records.filter((r) => r.key === `svc-${run}`)),
    });
    await log.send('heph.deadletter', [
      { key: `svc-${run}`, value: Buffer.from('one'), headers: { 'content-type': 'text/plain', n: '1' } },
      { key: `svc-${run}`, value: Buffer.from('two'), headers: { n: '2' } },
    ]);
    const got = await waitFor(() => (received.length >= 2 ? received : undefined));
    await subscription.stop();
    expect(got.map((r) => r.value.toString())).toEqual(['one', 'two']);
    expect(got[0]!.headers).toMatchObject({ 'content-type': 'text/plain', n: '1' });
    expect(got[1]!.offset).toBe(got[0]!.offset + 1n);
  });

  it('keeps a record whose key and headers hold NUL or a lone surrogate (a dead letter quoting its poison), texts well-formed', async () => {
    const run = randomBytes(4).toString('hex');
    const key = `odd-${run}-\u0000\ud83d`;
    const reason = 'invalid OTLP JSON: expected a string, got "x\ud83d\u0000"';
    const received: ConsumedRecord[] = [];
    const subscription = await log.subscribe({
      groupId: `odd-${run}`,
      topics: ['heph.deadletter'],
      handle: async ({ records }) => void received.push(...records.filter((r) => r.key?.startsWith(`odd-${run}`))),
    });
    await log.send('heph.deadletter', [{ key, value: Buffer.from('poison'), headers: { 'heph-reason': reason } }]);
    const [got] = await waitFor(() => (received.length > 0 ? received : undefined));
    await subscription.stop();
    // Kafka keeps bytes (NUL included; a lone surrogate was never UTF-8), the Postgres log repairs to U+FFFD.
    const asText = (v: string) => v.replaceAll('\u0000', '\uFFFD');
    expect(got!.key!.isWellFormed() && got!.headers['heph-reason']!.isWellFormed()).toBe(true);
    expect(asText(got!.key!)).toBe(pgText(key));
    expect(asText(got!.headers['heph-reason']!)).toBe(pgText(reason));
    expect(got!.value.toString()).toBe('poison');
  });

  it('takes 12,000 records in one send (more than one statement has bind parameters for)', async () => {
    const run = randomBytes(4).toString('hex');
    let count = 0;
    const subscription = await log.subscribe({
      groupId: `many-${run}`,
      topics: ['heph.deadletter'],
      handle: async ({ records }) => void (count += records.filter((r) => r.key === `many-${run}`).length),
    });
    await log.send('heph.deadletter', Array.from({ length: 12_000 }, (_, i) => ({ key: `many-${run}`, value: Buffer.from(String(i)), headers: { n: String(i) } })));
    await waitFor(() => (count >= 12_000 ? true : undefined), 60_000);
    await subscription.stop();
    expect(count).toBe(12_000);
  });

  it("tells with each batch the partition's high watermark: whether records are still to come after it", async () => {
    const run = randomBytes(4).toString('hex');
    const key = `hw-${run}`;
    // 3 MB of random bytes (gzip leaves them as large) in 3 sends of 1,000 records: more than one batch on
    // either log (500 records, or about 1 MB per partition, per fetch).
    for (let send = 0; send < 3; send++) await log.send('heph.deadletter', Array.from({ length: 1_000 }, (_, i) => ({ key, value: randomBytes(1_000), headers: { n: String(i) } })));
    const batches: Array<{ last: bigint; highWatermark?: bigint; mine: number }> = [];
    let mine = 0;
    const subscription = await log.subscribe({
      groupId: `hw-${run}`,
      topics: ['heph.deadletter'],
      handle: async ({ records, highWatermark }) => {
        const count = records.filter((r) => r.key === key).length;
        mine += count;
        batches.push({ last: records.at(-1)!.offset, highWatermark, mine: count });
      },
    });
    await waitFor(() => (mine >= 3_000 ? true : undefined), 60_000);
    await subscription.stop();
    for (const b of batches) expect(b.highWatermark, `batch ending at ${b.last}`).toBeGreaterThan(b.last);
    // Before the last of them was read, a batch knew more was behind it.
    const lastOfMine = batches.findLastIndex((b) => b.mine > 0);
    expect(batches.slice(0, lastOfMine).some((b) => b.highWatermark! > b.last + 1n)).toBe(true);
  });

  it('resumes a consumer group after the last committed batch, redelivering a batch whose handler failed', async () => {
    const run = randomBytes(4).toString('hex');
    const groupId = `resume-${run}`;
    const key = `resume-${run}`;
    const seen: string[] = [];
    let failOnce = true;
    const first = await log.subscribe({
      groupId,
      topics: ['heph.deadletter'],
      handle: async ({ records }) => {
        const mine = records.filter((r) => r.key === key);
        if (mine.some((r) => r.value.toString() === 'b') && failOnce) {
          failOnce = false;
          throw new Error('handler failed once');
        }
        seen.push(...mine.map((r) => r.value.toString()));
      },
    });
    await log.send('heph.deadletter', [{ key, value: Buffer.from('a'), headers: {} }]);
    await waitFor(() => (seen.includes('a') ? true : undefined));
    await log.send('heph.deadletter', [{ key, value: Buffer.from('b'), headers: {} }]);
    await waitFor(() => (seen.includes('b') ? true : undefined));
    await first.stop();
    await log.send('heph.deadletter', [{ key, value: Buffer.from('c'), headers: {} }]);
    const later: string[] = [];
    const second = await log.subscribe({
      groupId,
      topics: ['heph.deadletter'],
      handle: async ({ records }) => void later.push(...records.filter((r) => r.key === key).map((r) => r.value.toString())),
    });
    await waitFor(() => (later.includes('c') ? true : undefined));
    await second.stop();
    expect(seen.filter((v) => v === 'a')).toHaveLength(1);
    expect(later).toEqual(['c']);
  });

  it('starts an exclusive subscriber at the position it gives for each partition, and at the beginning of the others', async () => {
    const run = randomBytes(4).toString('hex');
    const { log: own, cleanup: close } = await open(`exclusive-${run}.`);
    try {
      await own.ensureTopics();
      // Records on every partition of otel.spans, then where each partition's third record is.
      const keys = Array.from({ length: 30 }, (_, n) => `key-${n}`);
      await own.send('otel.spans', keys.map((key) => ({ key, value: Buffer.from(key), headers: {} })));
      // By partition and offset: a batch delivered again (a rebalance under load) counts once.
      const read = new Map<string, ConsumedRecord>();
      const reader = await own.subscribe({ groupId: `all-${run}`, topics: ['otel.spans'], handle: async ({ records }) => void records.forEach((r) => read.set(`${r.partition}/${r.offset}`, r)) });
      await waitFor(() => (read.size >= keys.length ? true : undefined));
      await reader.stop();
      const all = [...read.values()];
      // Each record stored once: a send retried after a partial failure wrote some partitions twice.
      expect(all.map((r) => r.key).sort()).toEqual([...keys].sort());
      const partitions = [...new Set(all.map((r) => r.partition))].sort();
      expect(partitions.length).toBeGreaterThan(1);
      const [skipped, ...rest] = partitions;
      const from = rest.map((partition) => ({ topic: 'otel.spans', partition, offset: all.filter((r) => r.partition === partition).map((r) => r.offset).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[2]! }));
      const expected = all.filter((r) => r.partition === skipped || r.offset >= from.find((f) => f.partition === r.partition)!.offset).map((r) => r.key).sort();

      const got = new Map<string, ConsumedRecord>();
      const exclusive = await own.subscribe({ groupId: `exclusive-${run}`, topics: ['otel.spans'], exclusive: { from }, handle: async ({ records }) => void records.forEach((r) => got.set(`${r.partition}/${r.offset}`, r)) });
      await waitFor(() => (got.size >= expected.length ? true : undefined));
      await sleep(200);
      await exclusive.stop();
      expect([...got.values()].map((r) => r.key).sort()).toEqual(expected);
    } finally {
      await close();
    }
  });
});

describe('the Postgres-backed log', () => {
  it('backs off only the partition whose handler fails: the other partitions keep flowing', async () => {
    const fresh = await freshDatabase();
    const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    const log = createPgLog(db.sql, testLogger(), { pollMs: 20 });
    try {
      await log.ensureTopics();
      // The poison key lands on the first partition polled (crc32 % 3 = 0), which used to hold every
      // later partition and topic back.
      const poison = 'poison-3';
      const delivered: string[] = [];
      let failures = 0;
      const subscription = await log.subscribe({
        groupId: 'isolation',
        topics: ['otel.spans'],
        handle: async ({ records }) => {
          if (records.some((r) => r.key === poison)) {
            failures++;
            throw new Error('this partition cannot be processed');
          }
          delivered.push(...records.map((r) => r.key!));
        },
      });
      // Keys spread over otel.spans' three partitions.
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await log.send('otel.spans', [{ key: poison, value: Buffer.from('x'), headers: {} }]);
      await log.send('otel.spans', keys.map((key) => ({ key, value: Buffer.from('y'), headers: {} })));
      const [poisoned] = await db.sql<{ partition: number }[]>`SELECT partition FROM log_records WHERE key = ${poison}`;
      const others = await db.sql<{ key: string }[]>`SELECT key FROM log_records WHERE topic = 'otel.spans' AND partition <> ${poisoned!.partition} AND key <> ${poison}`;
      expect(others.length).toBeGreaterThan(0);
      await waitFor(() => (others.every((o) => delivered.includes(o.key)) && failures >= 2 ? true : undefined), 20_000);
      await subscription.stop();
    } finally {
      await log.close();
      await db.close();
      await fresh.drop();
    }
  });

  it('retention deletes what every live group has read past the age limit, keeps what one has not, and past the size limit drops the oldest with a warning', async () => {
    const fresh = await freshDatabase();
    const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    const warnings: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (line, _encoding, done) => (warnings.push(JSON.parse(String(line))), done()) }));
    const topic = 'heph.deadletter';
    const byAge = createPgLog(db.sql, logger, { pollMs: 20, retention: { maxAgeMs: 3_600_000, maxBytesPerTopic: 1_000_000, intervalMs: 3_600_000 } });
    const bySize = createPgLog(db.sql, logger, { retention: { maxAgeMs: 3_600_000, maxBytesPerTopic: 50, intervalMs: 3_600_000 } });
    const offsets = async () => (await db.sql<{ offset: string }[]>`SELECT "offset" FROM log_records WHERE topic = ${topic} ORDER BY "offset"`).map((r) => Number(r.offset));
    const bytesCounted = async () => {
      const [row] = await db.sql<{ counted: string; actual: string }[]>`
        SELECT (SELECT bytes FROM log_partitions WHERE topic = ${topic})::text AS counted,
               (SELECT coalesce(sum(octet_length(value) + coalesce(octet_length(key), 0)), 0) FROM log_records WHERE topic = ${topic})::text AS actual`;
      return row!;
    };
    try {
      await byAge.ensureTopics();
      // Ten records of 10 bytes (key "k" and 9 bytes of value) that the group "reader" reads…
      const records = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ key: 'k', value: Buffer.from(`value-${String(from + i).padStart(3, '0')}`), headers: {} }));
      let read = 0;
      const reader = await byAge.subscribe({ groupId: 'reader', topics: [topic], handle: async ({ records: got }) => void (read += got.length) });
      await byAge.send(topic, records(0, 10));
      await waitFor(() => (read >= 10 ? true : undefined));
      await reader.stop();
      // …five it has not read yet; a group gone for two hours has read nothing; all of it is old.
      await byAge.send(topic, records(10, 5));
      await db.sql`INSERT INTO log_offsets (group_id, topic, partition, committed, committed_at) VALUES ('gone', ${topic}, 0, 0, now() - interval '2 hours')`;
      await db.sql`UPDATE log_records SET appended_at = now() - interval '2 hours' WHERE topic = ${topic}`;
      expect(await bytesCounted()).toEqual({ counted: '150', actual: '150' });

      expect(await byAge.prune()).toEqual({ deleted: 10, unconsumed: 0 });
      expect(await offsets()).toEqual([10, 11, 12, 13, 14]);
      expect(await bytesCounted()).toEqual({ counted: '50', actual: '50' });
      expect(await byAge.prune()).toEqual({ deleted: 0, unconsumed: 0 });

      // Past the size limit (50 bytes): the two oldest go although "reader" has not read them, and it says so.
      await bySize.send(topic, records(15, 2));
      expect(await bySize.prune()).toEqual({ deleted: 2, unconsumed: 2 });
      expect(await offsets()).toEqual([12, 13, 14, 15, 16]);
      expect(await bytesCounted()).toEqual({ counted: '50', actual: '50' });
      expect(warnings.find((w) => String(w.msg).startsWith('log retention dropped 2 records'))).toMatchObject({ topic, unconsumed: 2 });

      // The reader resumes after its gap: it reads what is left, from offset 12.
      const resumed: number[] = [];
      const again = await byAge.subscribe({ groupId: 'reader', topics: [topic], handle: async ({ records: got }) => void resumed.push(...got.map((r) => Number(r.offset))) });
      await waitFor(() => (resumed.length >= 5 ? true : undefined));
      await again.stop();
      expect(resumed).toEqual([12, 13, 14, 15, 16]);
    } finally {
      await byAge.close();
      await bySize.close();
      await db.close();
      await fresh.drop();
    }
  });
});
