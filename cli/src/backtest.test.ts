// `heph backtest` on a real PostgreSQL database holding the Postgres-backed log: stored telemetry of a
// failing dependency and its caller replays into one incident, one page and the would-be restart of
// the dependency, the same twice over, without touching the source's incidents.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgLog, openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { decodeMetricsJson, decodeTracesJson, encodeMetricsProtobuf, encodeTracesProtobuf, topics } from '@hephaestus/schemas';
import { runBacktest, type BacktestReport } from './backtest.ts';

const resolutionSeconds = 2;
const t0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const nanos = (ms: number) => (BigInt(Math.round(ms)) * 1_000_000n).toString();

/** A small deterministic generator, so the stored telemetry is the same on every run. */
const seeded = (seed: number) => () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);

/** One request at `t`: web's server span → web's client span → payments' server span, one trace. */
const request = (n: number, t: number, failing: boolean) => {
  const id = (width: number, salt: number) => (n * 7919 + salt).toString(16).padStart(width, '0').slice(-width);
  const traceId = id(32, 1);
  const span = (spanId: string, parentSpanId: string, name: string, kind: number, message: string) => ({
    traceId, spanId, parentSpanId, name, kind, startTimeUnixNano: nanos(t), endTimeUnixNano: nanos(t + 40),
    status: failing ? { code: 2, message } : { code: 1 },
  });
  const resource = (service: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: service } }] });
  return [
    { resource: resource('web'), scopeSpans: [{ spans: [span(id(16, 2), '', 'GET /checkout', 2, 'upstream payments failed'), span(id(16, 3), id(16, 2), 'POST /charge', 3, 'payments answered 503')] }] },
    { resource: resource('payments'), scopeSpans: [{ spans: [span(id(16, 4), id(16, 3), 'POST /charge', 2, `db timeout after ${3000 + (n % 97)} ms`)] }] },
  ];
};

const sink = () => {
  let text = '';
  return { stream: new Writable({ write: (chunk, _enc, done) => ((text += chunk.toString()), done()) }), text: () => text };
};

/** `heph backtest` on the log in the database at `url`, at this file's resolution. */
const backtestOn = async (url: string, args: string[]) => {
  const [out, err] = [sink(), sink()];
  const code = await runBacktest(args, { stdout: out.stream, stderr: err.stream }, {
    DATABASE_URL: url,
    HEPH_RESOLUTION_SECONDS: String(resolutionSeconds),
    HEPH_DETECT_GRACE_SECONDS: '1',
    HEPH_DETECT_WARMUP_BUCKETS: '20',
    HEPH_PLAYBOOKS_DIR: 'playbooks',
    LOG_LEVEL: process.env.BT_LOG ?? 'silent',
  });
  return { code, stdout: out.text(), stderr: err.text() };
};

describe('heph backtest', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let url: string;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    ({ url, drop } = fresh);
    db = await openDatabase({ url, dataDir: '', log: testLogger() });
    const log = createPgLog(db.sql, testLogger());
    await log.ensureTopics();
    // 4 minutes of telemetry at 2 s intervals, 20 requests an interval: healthy, then from 2 min on
    // payments fails 60 % of its calls for 20 s (and web with it), then healthy again.
    const random = seeded(7);
    let n = 0;
    for (let bucket = 0; bucket < 120; bucket++) {
      const start = t0 + bucket * resolutionSeconds * 1000;
      const burst = bucket >= 60 && bucket < 70;
      const resourceSpans = Array.from({ length: 20 }, (_, i) => request(n++, start + i * 90, random() < (burst ? 0.6 : 0.005))).flat();
      const decoded = decodeTracesJson(JSON.stringify({ resourceSpans }));
      if (!decoded.ok) throw new Error(decoded.error.message);
      await log.send(topics.spans, [{ key: 'fleet', value: Buffer.from(encodeTracesProtobuf(decoded.value)), headers: { 'content-type': 'application/x-protobuf' } }]);
    }
  });
  afterAll(async () => {
    await db.close();
    await drop();
  });

  const backtest = (args: string[]) => backtestOn(url, args);

  it('replays stored telemetry into one incident, one page and the would-be restart of the dependency, the same every time', async () => {
    const first = await backtest(['--json', '--idle-seconds', '2']);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as BacktestReport;
    expect(report.records).toBe(120);
    expect(report.incidents).toHaveLength(1);
    const [incident] = report.incidents;
    expect(incident).toMatchObject({ service: 'payments', signal: 'error_rate', rootCause: { service: 'payments' }, action: { playbook: 'restart-on-error-burst', target: 'payments' } });
    expect(incident!.signals).toContain('web error_rate');
    expect(incident!.pages).toEqual([{ at: incident!.openedAt, receiver: 'log' }]);
    expect(incident!.resolvedAt).toBeDefined();
    // Opened on the telemetry's own time: the burst's first intervals, not the wall clock.
    expect(Date.parse(incident!.openedAt) - (t0 + 60 * resolutionSeconds * 1000)).toBeLessThanOrEqual(3 * resolutionSeconds * 1000);
    expect(first.stderr).toMatch(/backtest: done in/);

    const again = await backtest(['--json', '--idle-seconds', '2']);
    const second = JSON.parse(again.stdout) as BacktestReport;
    expect(second.incidents.map(({ id, openedAt, resolvedAt, signals, pages, action }) => ({ id, openedAt, resolvedAt, signals, pages, action }))).toEqual(
      report.incidents.map(({ id, openedAt, resolvedAt, signals, pages, action }) => ({ id, openedAt, resolvedAt, signals, pages, action })),
    );
    // The source's own event store saw nothing.
    expect(await db.sql`SELECT 1 FROM events`).toHaveLength(0);
  });

  it('reports only the incidents inside --from/--to, and prints them for people', async () => {
    const before = await backtest(['--to', new Date(t0 + 100_000).toISOString(), '--idle-seconds', '2']);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^replayed \d+ records/);
    expect(before.stdout).toContain('0 incidents, 0 pages, 0 would-be actions');
  });

  it('refuses a bad option with the usage and exit code 2', async () => {
    const bad = await backtest(['--from', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from 'yesterday' is not a time/);
    expect(bad.stderr).toContain('usage: heph backtest');
  });
});

describe('heph backtest on a log whose partitions the replay reads at different paces', () => {
  it('judges up to the slowest partition: a fault in spans read after the metrics ran ahead is still seen', async () => {
    const fresh = await freshDatabase();
    const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    try {
      const log = createPgLog(db.sql, testLogger());
      await log.ensureTopics();
      // 100 intervals of payments' server spans, 20 an interval, each in a record of its own (2,000
      // records: four polls of the log, which returns 500 at a time), payments failing 60 % of its calls
      // for 20 s from interval 60; and a memory gauge of the same 100 intervals in 2 records, which the
      // replay reads to the end in its first poll.
      const random = seeded(11);
      let n = 0;
      for (let bucket = 0; bucket < 100; bucket++) {
        const start = t0 + bucket * resolutionSeconds * 1000;
        const burst = bucket >= 60 && bucket < 70;
        const records = Array.from({ length: 20 }, (_, i) => {
          const decoded = decodeTracesJson(JSON.stringify({ resourceSpans: [request(n++, start + i * 90, random() < (burst ? 0.6 : 0.005))[1]!] }));
          if (!decoded.ok) throw new Error(decoded.error.message);
          return { key: 'payments', value: Buffer.from(encodeTracesProtobuf(decoded.value)), headers: { 'content-type': 'application/x-protobuf' } };
        });
        await log.send(topics.spans, records);
      }
      for (let chunk = 0; chunk < 2; chunk++) {
        const dataPoints = Array.from({ length: 50 }, (_, i) => ({ timeUnixNano: nanos(t0 + (chunk * 50 + i) * resolutionSeconds * 1000), asInt: String(300_000_000 + ((chunk * 50 + i) % 7) * 1000) }));
        const metrics = decodeMetricsJson(JSON.stringify({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'payments' } }] }, scopeMetrics: [{ metrics: [{ name: 'process.memory.usage', unit: 'By', gauge: { dataPoints } }] }] }] }));
        if (!metrics.ok) throw new Error(metrics.error.message);
        await log.send(topics.metrics, [{ key: 'payments', value: Buffer.from(encodeMetricsProtobuf(metrics.value)), headers: { 'content-type': 'application/x-protobuf' } }]);
      }
      const replayed = await backtestOn(fresh.url, ['--json', '--idle-seconds', '2']);
      expect(replayed.code, replayed.stderr).toBe(0);
      const report = JSON.parse(replayed.stdout) as BacktestReport;
      expect(report.records).toBe(2002);
      // Judged on the newest event time of any partition, the burst's intervals closed before its spans were read: no incident.
      expect(report.incidents.map((i) => `${i.service} ${i.signal}`)).toEqual(['payments error_rate']);
      expect(Date.parse(report.incidents[0]!.openedAt) - (t0 + 60 * resolutionSeconds * 1000)).toBeLessThanOrEqual(3 * resolutionSeconds * 1000);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});
