// heph.signals: what the analyzers' collectors hand the judging analyzer when they run apart on Kafka.
// The batch format (JSON, spans without their resource), and the judge on real Kafka and PostgreSQL: it
// learns each batch once, sends a record that is not a batch to heph.deadletter and goes on, and after
// a stop (or a takeover) goes on from the position saved with its correlator checkpoint.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaLog, openDatabase, type ConsumedRecord } from '@hephaestus/platform';
import { eventually, freshDatabase, kafkaBrokers, testLogger } from '@hephaestus/platform/testing';
import { topics } from '@hephaestus/schemas';
import { Registry } from 'prom-client';
import { decodeSignalBatch, encodeSignalBatch, startSignalJudge, type SignalBatch } from './analyzer.ts';
import { resumeCorrelator } from './adapters/correlator.ts';
import type { Observation } from './domain/incident-policy.ts';
import { sid, span } from './domain/correlation/test-spans.ts';


/** web calls db: a client span and the server span it parents, ending at `endMs`. */
const call = (endMs: number): SignalBatch['spans'] => [
  span({ service: 'web', spanId: sid(1), kind: 'client', startTimeMs: endMs - 20, durationMs: 20 }),
  span({ service: 'db', spanId: sid(2), parentSpanId: sid(1), kind: 'server', startTimeMs: endMs - 15, durationMs: 10 }),
];

describe('heph.signals batches', () => {
  it('carry the source, the event times and the spans without their resource', () => {
    const batch: SignalBatch = { source: 'otel.spans/2', firstMs: 1_000, lastMs: 2_000, spans: call(2_000) };
    const decoded = decodeSignalBatch(encodeSignalBatch(batch));
    expect(decoded).toEqual({ ok: true, value: { ...batch, spans: batch.spans.map((s) => ({ ...s, resource: {} })) } });
    expect(encodeSignalBatch(batch).toString()).not.toContain('"resource"');
  });

  it('refuse what is not a batch and say why', () => {
    expect(decodeSignalBatch(Buffer.from('{"source":'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON: /) });
    const noSpans = decodeSignalBatch(Buffer.from(JSON.stringify({ source: 'otel.spans/0', lastMs: 'soon' })));
    expect(noSpans).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a signal batch: .*lastMs: .*spans: /) });
  });
});

describe('the judge following heph.signals (Kafka, PostgreSQL)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  /** A fresh database and topics of their own, and the judge's options on them. */
  const setup = async () => {
    const fresh = await freshDatabase();
    cleanups.push(fresh.drop);
    const database = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    cleanups.push(() => database.close());
    const run = randomBytes(4).toString('hex');
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'signals-test', topicPrefix: `signals-${run}.` }, testLogger());
    cleanups.push(() => log.close());
    await log.ensureTopics();
    const options = (registry: Registry) => ({
      sql: database.sql,
      log,
      logger: testLogger(),
      registry,
      resolutionSeconds: 10,
      graceSeconds: 2,
      consoleUrl: 'http://127.0.0.1:8080',
      consumerGroupPrefix: `signals-${run}`,
      costs: { prices: [], budgets: [] },
      limits: {},
      warmupBuckets: 0,
    });
    return { database, log, run, options };
  };

  it('learns each batch once, dead-letters a record that is not one, and goes on from its checkpoint after a stop', async () => {
    const { database, log, run, options } = await setup();
    const deadLetters: ConsumedRecord[] = [];
    const watch = await log.subscribe({ groupId: `signals-${run}-watch`, topics: [topics.deadletter], handle: async ({ records }) => void deadLetters.push(...records) });
    cleanups.push(() => watch.stop());

    let registry = new Registry();
    const judge = () => startSignalJudge(options((registry = new Registry())));
    const t = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const send = (value: Buffer) => log.send(topics.signals, [{ key: 'otel.spans/0', value, headers: {} }]);

    const first = await judge();
    await send(Buffer.from('not a batch'));
    await send(encodeSignalBatch({ source: 'otel.spans/0', firstMs: t - 20, lastMs: t, spans: call(t) }));
    await eventually('the batch to move event time', () => (first.eventTimeMs() === t ? true : undefined));
    const dead = await eventually('the record that is not a batch in heph.deadletter', () => deadLetters.find((r) => r.value.toString() === 'not a batch'));
    expect(dead.headers['heph-reason']).toMatch(/^not JSON: /);
    expect(dead.headers['heph-source']).toBe(`${topics.signals}/0/0`);
    // A partition whose collector is behind holds back the time intervals close at, until it catches up.
    await send(encodeSignalBatch({ source: 'otel.metrics/1', firstMs: t - 40_000, lastMs: t - 30_000, spans: [], behind: true }));
    await eventually('the partition behind to hold the watermark back', () => (first.watermarkMs() === t - 30_000 ? true : undefined));
    expect(first.eventTimeMs()).toBe(t);
    await eventually('the time held back in /metrics', async () => (/^heph_analyzer_watermark_held_back_seconds 30$/m.test(await registry.metrics()) ? true : undefined));
    await send(encodeSignalBatch({ source: 'otel.metrics/1', firstMs: t - 30_000, lastMs: t - 5_000, spans: [] }));
    await eventually('the partition caught up to let it go', () => (first.watermarkMs() === t ? true : undefined));
    // Its lag on heph.signals is in /metrics: all four records read.
    await eventually('no batch left to read', async () => (/^heph_analyzer_signals_lag_records 0$/m.test(await registry.metrics()) ? true : undefined));
    await first.stop();
    // The correlator learned the call from the batch, and its checkpoint holds it.
    expect((await resumeCorrelator(database.sql, 10)).topology.downstreamOf('web')).toEqual(['db']);

    // Started again, it reads on after the two records: had it read the first batch again, event time would be t.
    const second = await judge();
    cleanups.push(() => second.stop());
    await send(encodeSignalBatch({ source: 'otel.spans/0', firstMs: t - 10_020, lastMs: t - 10_000, spans: [] }));
    await eventually('the newer record to move event time', () => (second.eventTimeMs() > 0 ? true : undefined));
    expect(second.eventTimeMs()).toBe(t - 10_000);
    expect(deadLetters.filter((r) => r.value.toString() === 'not a batch')).toHaveLength(1);
  }, 120_000);

  it("decides on the collectors' detection reports: an interval once every partition index is reported past it, each observation once", async () => {
    const { database, log, options } = await setup();
    const registry = new Registry();
    const judge = await startSignalJudge(options(registry));
    cleanups.push(() => judge.stop());
    const t = Math.floor(Date.now() / 10_000) * 10_000 - 60_000;
    const send = (batch: SignalBatch) => log.send(topics.signals, [{ key: batch.source, value: encodeSignalBatch(batch), headers: {} }]);
    const burst: Observation = {
      service: 'web',
      signal: 'error_rate',
      bucketStartMs: t - 10_000,
      value: 0.5,
      baseline: 0.01,
      summary: 'error rate 50 % vs usual 1.0 %',
      explanation: { detector: 'binomial error-rate test', baseline: 0.01, windowSeconds: 10, evidence: '50 of 100 calls failed' },
      calls: 100,
      errors: 50,
    };
    const opened = async () => (await database.sql<{ id: string; service: string }[]>`SELECT id, service FROM incidents WHERE status = 'open'`).filter((i) => i.service === 'web');

    const bursts = [burst, { ...burst, bucketStartMs: t - 20_000 }];
    /** Signals the policy judged, whatever it decided. */
    const judged = async () => [...(await registry.metrics()).matchAll(/^heph_analyzer_signals_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);

    await send({ source: 'otel.spans/0', firstMs: t - 20, lastMs: t, spans: call(t) });
    // Indexes 0 and 2 have judged two intervals and seen the burst in both; index 1 is two intervals behind.
    await send({ source: 'detection', spans: [], detection: { indexes: [0, 2], before: t, observations: bursts } });
    await send({ source: 'detection', spans: [], detection: { indexes: [1], before: t - 20_000, observations: [] } });
    await eventually('the reports read', async () => (/^heph_analyzer_signals_lag_records 0$/m.test(await registry.metrics()) && judge.eventTimeMs() === t ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await opened()).toEqual([]);
    expect(await judged()).toBe(0);
    // Index 1 catches up: both intervals close, the burst is confirmed and opens an incident, its baseline frozen for the collectors.
    await send({ source: 'detection', spans: [], detection: { indexes: [1], before: t, observations: [] } });
    const [incident] = await eventually('the incident the burst opens', async () => ((await opened()).length > 0 ? opened() : undefined));
    await eventually('the frozen baseline shared', async () => {
      const rows = await database.sql<{ service: string; signal: string; baseline: number }[]>`SELECT service, signal, baseline FROM frozen_baselines`;
      return rows.some((r) => r.service === 'web' && r.signal === 'error_rate' && r.baseline === 0.01) ? rows : undefined;
    });
    await eventually('both intervals judged', async () => ((await judged()) >= 2 ? true : undefined));
    expect(await judged()).toBe(2);
    // Reported again (a partition taken over is judged again from its checkpoint): decided already, only the new interval counts.
    await send({ source: 'detection', spans: [], detection: { indexes: [0, 1, 2], before: t + 10_000, observations: [...bursts, { ...burst, bucketStartMs: t, value: 0.52 }] } });
    await eventually('the next interval judged', async () => ((await judged()) >= 3 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await judged()).toBe(3);
    expect(await opened()).toEqual([incident]);
  }, 120_000);
});
