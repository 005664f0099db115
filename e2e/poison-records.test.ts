// Poison records (issue 16): what ingest accepts and what a foreign producer writes straight to the log
// is either processed or sent to heph.deadletter, and the next good record is processed within seconds,
// also after a restart. On Kafka with PostgreSQL, on the Postgres-backed log with PostgreSQL, and on the
// embedded default (PGlite behind one connection, where a dead letter used to deadlock the analyzer).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConsumedRecord, type Subscription } from '@hephaestus/platform';
import { freshDatabase, kafkaBrokers, testLogger } from '@hephaestus/platform/testing';
import { startControlPlane, upConfig, type ControlPlane } from '../cli/src/control-plane.ts';
import { eventually, ownKafka } from './support.ts';

type Backend = { env: Record<string, string>; cleanup: () => Promise<void> };

const backends: Array<[string, () => Promise<Backend>]> = [
  [
    'kafka and postgresql',
    async () => {
      const db = await freshDatabase();
      return { env: { KAFKA_BROKERS: kafkaBrokers().join(','), DATABASE_URL: db.url }, cleanup: db.drop };
    },
  ],
  [
    'the postgres-backed log on postgresql',
    async () => {
      const db = await freshDatabase();
      return { env: { DATABASE_URL: db.url }, cleanup: db.drop };
    },
  ],
  ['the embedded default (pglite)', async () => ({ env: {}, cleanup: async () => {} })],
];

// ---------------------------------------------------------------------------------------------
// protobuf written by hand, for what our encoder would refuse to write

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
const varint = (n: number) => protobuf.Writer.create().uint32(n).finish();
const field = (n: number, ...parts: Uint8Array[]) => {
  const content = concat(...parts);
  return concat(varint((n << 3) | 2), varint(content.length), content);
};
const fixed64 = (n: number, value: bigint) => {
  const bytes = Buffer.alloc(9);
  bytes[0] = (n << 3) | 1;
  bytes.writeBigUInt64LE(value, 1);
  return bytes;
};
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const keyValue = (key: string, value: Uint8Array) => concat(field(1, utf8(key)), field(2, value));
/** An AnyValue that is a map nested `depth` levels around a string. */
const nestedMap = (depth: number): Uint8Array => (depth === 0 ? field(1, utf8('deep')) : field(6, field(1, keyValue('k', nestedMap(depth - 1)))));
/** An ExportTraceServiceRequest of one span for `service`, its resource carrying `extra` attributes. */
const tracesProtobuf = (service: Uint8Array, ...extra: Uint8Array[]) => {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const span = concat(field(1, randomBytes(16)), field(2, randomBytes(8)), field(5, utf8('GET /x')), fixed64(7, nowNs), fixed64(8, nowNs + 5_000_000n));
  return concat(field(1, field(1, field(1, keyValue('service.name', field(1, service))), ...extra.map((a) => field(1, a))), field(2, field(2, span))));
};

// ---------------------------------------------------------------------------------------------
// OTLP/JSON, as a client would send it

const spanJson = (name: string) => {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  return { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name, startTimeUnixNano: String(nowNs), endTimeUnixNano: String(nowNs + 5_000_000n) };
};
const tracesJson = (resource: Array<[string, string]>, name = 'GET /x') => ({
  resourceSpans: [{ resource: { attributes: resource.map(([key, value]) => ({ key, value: { stringValue: value } })) }, scopeSpans: [{ spans: [spanJson(name)] }] }],
});

describe.each(backends)('poison records on %s', (name, prepare) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('processes or dead-letters each poison record, processes the next good one within seconds, and does not stall after a restart', async () => {
    const backend = await prepare();
    cleanups.push(backend.cleanup);
    const dir = await mkdtemp(join(tmpdir(), 'heph-poison-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const run = randomBytes(4).toString('hex');
    const config = loadConfig(upConfig, {
      ...backend.env,
      HEPH_DATA_DIR: join(dir, 'data'),
      HEPH_INGEST_PORT: '0',
      HEPH_CONSOLE_PORT: '0',
      HEPH_RESOLUTION_SECONDS: '10',
      ...ownKafka(`poison-${run}`),
    });
    let plane: ControlPlane = await startControlPlane(config, testLogger());
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await plane.stop();
    });

    const deadLetters: ConsumedRecord[] = [];
    const followDeadLetters = (p: ControlPlane): Promise<Subscription> =>
      p.runtime.log.subscribe({ groupId: `poison-watch-${run}`, topics: ['heph.deadletter'], handle: async ({ records }) => void deadLetters.push(...records) });
    let watch = await followDeadLetters(plane);
    const deadLetterFor = (what: string, match: (r: ConsumedRecord) => boolean) => eventually(what, () => deadLetters.find(match), 30_000);

    const post = (signal: 'traces' | 'metrics', body: string | Uint8Array) =>
      fetch(`${plane.ingestUrl}/v1/${signal}`, {
        method: 'POST',
        headers: { 'content-type': typeof body === 'string' ? 'application/json' : 'application/x-protobuf' },
        body: typeof body === 'string' ? body : Buffer.from(body),
        signal: AbortSignal.timeout(15_000),
      });
    const calls = async (service: string) => {
      const [row] = await plane.runtime.db.sql<{ calls: number | null }[]>`SELECT sum(calls)::int AS calls FROM rollups WHERE service = ${service}`;
      return row?.calls ?? 0;
    };
    /** Sends one good span through ingest and waits for its rollup; returns how long that took. */
    const timings: Record<string, number> = {};
    const goodRecord = async (label: string, timeoutMs = 20_000) => {
      const service = `good-${run}-${label}`;
      const started = Date.now();
      expect((await post('traces', JSON.stringify(tracesJson([['service.name', service]])))).status).toBe(200);
      await eventually(`the good record after ${label} to be processed`, async () => (await calls(service)) === 1, timeoutMs);
      timings[label] = Date.now() - started;
      // The rest answers too (issue 16: a stalled analyzer held the embedded database, and /readyz and /api/* hung).
      for (const url of [`${plane.ingestUrl}/readyz`, `${plane.consoleUrl}/readyz`, `${plane.consoleUrl}/api/incidents`]) {
        expect((await fetch(url, { signal: AbortSignal.timeout(5000) })).status, `${url} after ${label}`).toBe(200);
      }
    };

    // On Kafka a new consumer group first reads the topics' backlog from earlier runs.
    await goodRecord('start', 120_000);

    // A lone surrogate in OTLP/JSON: repaired to U+FFFD at decode, so what ingest writes is valid and processed.
    const surrogate = `surrogate-${run}-\ud83d`;
    const surrogateBody = JSON.stringify(tracesJson([['service.name', surrogate]], 'x\ud83d'));
    expect(surrogateBody).toContain('\\ud83d');
    expect((await post('traces', surrogateBody)).status).toBe(200);
    await goodRecord('lone surrogate');
    // Another partition may be read after the good record's: wait on the data, not on the order.
    await eventually('the repaired lone-surrogate record to be processed', async () => (await calls(`surrogate-${run}-\uFFFD`)) === 1, 20_000);

    // NUL in resource attributes (service.name, version, control URL): repaired, stored, processed.
    const nul = `nul-${run}-\u0000`;
    expect((await post('traces', JSON.stringify(tracesJson([['service.name', nul], ['service.version', '1.0\u0000'], ['heph.control.url', 'http://127.0.0.1:1/\u0000']])))).status).toBe(200);
    await goodRecord('NUL attribute');
    await eventually('the repaired NUL record to be processed', async () => (await calls(`nul-${run}-\uFFFD`)) === 1, 20_000);

    // The same, straight to the log as a foreign producer would write it: the analyzer's decoder repairs it.
    const foreignNul = `foreign-nul-${run}`;
    await plane.runtime.log.send('otel.spans', [{ key: foreignNul, value: Buffer.from(tracesProtobuf(utf8(`${foreignNul}\u0000`))), headers: {} }]);
    await goodRecord('foreign NUL');
    await eventually('the foreign record with NUL to be stored repaired', async () => (await calls(`${foreignNul}\uFFFD`)) === 1, 20_000);

    // A gauge of 7,000 points: 7,000 series rows, past 65,535 bind parameters in one statement.
    const gauge = `gauge-${run}`;
    const endMs = Math.floor(Date.now() / 10_000) * 10_000;
    const points = Array.from({ length: 7000 }, (_, i) => ({ timeUnixNano: `${BigInt(endMs - i * 10_000) * 1_000_000n}`, asDouble: i }));
    const metricsBody = { resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: gauge } }] }, scopeMetrics: [{ metrics: [{ name: 'queue.depth', gauge: { dataPoints: points } }] }] }] };
    expect((await post('metrics', JSON.stringify(metricsBody))).status).toBe(200);
    const started = Date.now();
    await eventually('the 7,000-point gauge to be stored', async () => {
      const [row] = await plane.runtime.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM series WHERE service = ${gauge} AND resolution_seconds = 10`;
      return row!.n === 7000;
    }, 30_000);
    timings['7,000-point gauge stored'] = Date.now() - started;
    await goodRecord('7,000-point gauge');

    // Attributes nested 32 levels: refused by ingest (fast path and full decoder agree), dead-lettered
    // when written straight to the log.
    const deep = tracesProtobuf(utf8(`deep-${run}`), keyValue('deep', nestedMap(32)));
    expect((await post('traces', deep)).status).toBe(400);
    await plane.runtime.log.send('otel.spans', [{ key: `deep-${run}`, value: Buffer.from(deep), headers: { 'content-type': 'application/x-protobuf' } }]);
    const deepLetter = await deadLetterFor('the deep record in heph.deadletter', (r) => r.key === `deep-${run}`);
    expect(deepLetter.headers['heph-reason']).toMatch(/nested deeper than 24 levels|max depth exceeded/);
    expect(deepLetter.headers['heph-source-topic']).toBe('otel.spans');
    expect(deepLetter.headers['heph-source-offset']).toMatch(/^\d+$/);
    expect(deepLetter.headers['content-type']).toBe('application/x-protobuf');
    await goodRecord('32-level nesting');

    // Invalid UTF-8 straight to the log (no encoding carries a lone surrogate): dead-lettered.
    await plane.runtime.log.send('otel.spans', [{ key: `utf8-${run}`, value: Buffer.from(tracesProtobuf(Buffer.from([0x78, 0xed, 0xa0, 0xbd]))), headers: {} }]);
    expect((await deadLetterFor('the invalid UTF-8 record in heph.deadletter', (r) => r.key === `utf8-${run}`)).headers['heph-reason']).toMatch(/invalid OTLP protobuf/);
    await goodRecord('invalid UTF-8');

    // A record the database refuses (a constraint): isolated from its batch and dead-lettered.
    const refused = `refused-${run}`;
    await plane.runtime.db.sql.unsafe(`ALTER TABLE rollups ADD CONSTRAINT poison_${run} CHECK (service <> '${refused}') NOT VALID`);
    expect((await post('traces', JSON.stringify(tracesJson([['service.name', refused]])))).status).toBe(200);
    expect((await deadLetterFor('the refused record in heph.deadletter', (r) => r.key === refused)).headers['heph-reason']).toMatch(/^not stored: .*poison_/);
    await goodRecord('constraint violation');

    // Counted: at least our three dead letters (on Kafka a new group also meets earlier runs' poison), and the strings the analyzer's decoder repaired in the foreign record.
    const exposition = await (await fetch(`${plane.ingestUrl}/metrics`)).text();
    const counter = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(exposition)?.[1] ?? Number.NaN);
    expect(counter('heph_analyzer_deadletters_total')).toBeGreaterThanOrEqual(3);
    expect(counter('heph_analyzer_strings_repaired_total')).toBeGreaterThanOrEqual(1);
    // The analyzer's consumer lag, per topic and partition, read from the log when scraped.
    const lags = [...exposition.matchAll(/^heph_analyzer_consumer_lag_records\{topic="(otel\.\w+)",partition="(\d+)"\} (\S+)$/gm)];
    expect(new Set(lags.map((m) => m[1]))).toEqual(new Set(['otel.spans', 'otel.metrics', 'otel.logs']));
    expect(lags.every((m) => Number(m[3]) >= 0)).toBe(true);

    const mine = () => deadLetters.filter((r) => r.key?.endsWith(run)).length;
    const before = mine();
    await watch.stop();
    await plane.stop();
    stopped = true;
    plane = await startControlPlane(config, testLogger());
    stopped = false;
    watch = await followDeadLetters(plane);
    await goodRecord('restart');
    await watch.stop();
    // Nothing was dead-lettered twice: the poison records are behind the committed offsets.
    expect(mine()).toBe(before);
    console.log(`poison records on ${name}: ms until the next good record was processed`, timings);
  }, 180_000);
});
