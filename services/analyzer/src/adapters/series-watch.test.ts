// The series path on real PostgreSQL: stored buckets → detectors, predictors and budgets → incidents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import type { SeriesDelta } from '../domain/series.ts';
import { openIncidents } from './incident-store.ts';
import { mergeSeries } from './series-store.ts';
import { createSeriesWatch } from './series-watch.ts';

const resolution = 10;
const t0 = Date.UTC(2026, 10, 25, 10);
const bucket = (i: number) => t0 + i * resolution * 1000;

/** A deterministic wiggle, so the series has a spread to learn. */
const wiggle = (i: number) => Math.sin(i * 1.7) * 3 + Math.cos(i * 0.3) * 2;

const delta = (service: string, signal: string, i: number, value: number, aggregation: 'mean' | 'sum' = 'mean'): SeriesDelta => ({
  service,
  operation: '',
  signal,
  aggregation,
  bucketStartMs: bucket(i),
  sum: value,
  count: 1,
  min: value,
  max: value,
});

describe('series watch', () => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  });
  afterAll(async () => {
    await db.close();
    await drop();
  });

  it('opens an incident when a learned series jumps, and resolves it when it settles', async () => {
    // 400 healthy buckets of queue depth around 100, stored before the watch starts.
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 400 }, (_, i) => delta('worker', 'queue.depth', i, 100 + wiggle(i)))));
    let now = bucket(400) + 3000;
    const watch = createSeriesWatch({ sql: db.sql, logger: testLogger(), resolutionSeconds: resolution, graceSeconds: 2, warmupBuckets: 400, limits: {}, budgets: [], now: () => now });
    await watch.tick();
    expect(await openIncidents(db.sql)).toEqual([]);

    await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('worker', 'queue.depth', 400, 400)]));
    now = bucket(401) + 3000;
    await watch.tick();
    const [incident] = await openIncidents(db.sql);
    expect(incident).toMatchObject({ service: 'worker', signal: 'queue.depth' });
    const [opened] = await db.sql<{ data: { summary: string; severity: string } }[]>`SELECT data FROM events WHERE type = 'incident.opened'`;
    expect(opened!.data.summary).toMatch(/queue\.depth 400/);

    for (let i = 401; i < 420; i++) {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('worker', 'queue.depth', i, 100 + wiggle(i))]));
      now = bucket(i + 1) + 3000;
      await watch.tick();
    }
    expect(await openIncidents(db.sql)).toEqual([]);
  });

  it('learns for only HEPH_DETECT_WARMUP_BUCKETS points when that is shorter than the detectors\' own warm-up', async () => {
    // 40 healthy buckets, then a jump: a 40-bucket warm-up judges it, the default (300 points) is still learning.
    const run = async (service: string, warmupBuckets: number) => {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 40 }, (_, i) => delta(service, 'queue.depth', 5000 + i, 100 + wiggle(i)))));
      let now = bucket(5040) + 3000;
      const watch = createSeriesWatch({ sql: db.sql, logger: testLogger(), resolutionSeconds: resolution, graceSeconds: 2, warmupBuckets, limits: {}, budgets: [], now: () => now });
      await watch.tick();
      await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta(service, 'queue.depth', 5040, 400)]));
      now = bucket(5041) + 3000;
      await watch.tick();
      return (await openIncidents(db.sql)).filter((i) => i.service === service);
    };
    expect(await run('short-warmup', 40)).toMatchObject([{ signal: 'queue.depth' }]);
    expect(await run('default-warmup', 360)).toEqual([]);
  });

  it('predicts a gauge crossing its limit before it does', async () => {
    // Memory climbing 1 MB per bucket towards a 1 GB limit, with a GC sawtooth on top.
    const limit = 1_000_000_000;
    const memory = (i: number) => 700_000_000 + i * 1_000_000 + (i % 6) * 2_000_000;
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 60 }, (_, i) => delta('leaky', 'process.memory.usage', 1000 + i, memory(i)))));
    const now = bucket(1060) + 3000;
    const watch = createSeriesWatch({ sql: db.sql, logger: testLogger(), resolutionSeconds: resolution, graceSeconds: 2, warmupBuckets: 100, limits: { 'process.memory.usage': limit }, budgets: [], now: () => now });
    await watch.tick();
    const predicted = (await openIncidents(db.sql)).find((i) => i.service === 'leaky');
    expect(predicted).toMatchObject({ signal: 'failure.predicted' });
    const [event] = await db.sql<{ data: { etaSeconds: number; summary: string } }[]>`
      SELECT data FROM events WHERE type = 'incident.opened' AND data->>'service' = 'leaky'`;
    // About 240 MB to go at 1 MB per 10 s: roughly 40 minutes.
    expect(event!.data.etaSeconds).toBeGreaterThan(30 * 60);
    expect(event!.data.etaSeconds).toBeLessThan(50 * 60);
    expect(event!.data.summary).toContain('process.memory.usage');
  });

  it('alerts when the spend forecast runs past the budget', async () => {
    const noon = Date.UTC(2026, 10, 26, 12);
    const at = (i: number) => noon - 3_600_000 + i * resolution * 1000;
    // $0.05 every 10 s for the last hour: $18 an hour, $216 more by midnight against a $100 budget.
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 360 }, (_, i) => ({ ...delta('spender', 'gen_ai.cost_usd', 0, 0.05, 'sum'), bucketStartMs: at(i) }))));
    const watch = createSeriesWatch({ sql: db.sql, logger: testLogger(), resolutionSeconds: resolution, graceSeconds: 2, warmupBuckets: 10, limits: {}, budgets: [{ service: 'spend*', period: 'daily', limitUsd: 100 }], now: () => noon + 3000 });
    await watch.tick();
    const incident = (await openIncidents(db.sql)).find((i) => i.service === 'spender');
    expect(incident).toMatchObject({ signal: 'gen_ai.budget' });
  });
});
