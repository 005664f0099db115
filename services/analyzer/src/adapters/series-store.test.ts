// Series storage on real PostgreSQL: merging deltas, batches past the bind-parameter limit, texts PostgreSQL
// cannot hold, and downsampling that a rerun does not change.
import { describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { downsample, loadStreams, mergeSeries, readSeries, storeStreams } from './series-store.ts';

const t0 = Date.UTC(2026, 10, 25, 10);

describe('series store', () => {
  const db = useFreshDatabase();

  it('merges deltas into their bucket: sums add, means stay exact, extremes widen', async () => {
    const d = (sum: number, count: number, aggregation: 'sum' | 'mean') => ({ service: 's', operation: '', signal: aggregation, aggregation, bucketStartMs: t0, sum, count, min: sum / count, max: sum / count });
    await db.sql.begin((tx) => mergeSeries(tx, 10, [d(5, 1, 'sum'), d(10, 2, 'mean')]));
    await db.sql.begin((tx) => mergeSeries(tx, 10, [d(7, 1, 'sum'), d(30, 1, 'mean')]));
    const points = await readSeries(db.sql, 10, t0, t0 + 10_000);
    expect(points.find((p) => p.signal === 'sum')).toMatchObject({ value: 12 });
    expect(points.find((p) => p.signal === 'mean')).toMatchObject({ value: 40 / 3, max: 30 });
  });

  it('stores a gauge of 7,000 points in one call: more rows than one statement has parameters for', async () => {
    const deltas = Array.from({ length: 7000 }, (_, i) => ({ service: 'big', operation: '', signal: 'queue.depth', aggregation: 'mean' as const, bucketStartMs: t0 - i * 10_000, sum: i, count: 1, min: i, max: i }));
    await db.sql.begin((tx) => mergeSeries(tx, 10, deltas));
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM series WHERE service = 'big'`;
    expect(row!.n).toBe(7000);
  });

  it('stores and reloads 66,000 metric streams in one call (one parameter each to load, two to store)', async () => {
    const streams = new Map(Array.from({ length: 66_000 }, (_, i) => [`["many","m",[["i","${i}"]]]`, { startTimeUnixNano: '1', timeUnixNano: '2', value: i }]));
    await db.sql.begin((tx) => storeStreams(tx, streams));
    const loaded = await db.sql.begin((tx) => loadStreams(tx, [...streams.keys()]));
    expect(loaded.size).toBe(66_000);
    expect(loaded.get('["many","m",[["i","65999"]]]')?.value).toBe(65_999);
  });

  it('repairs NUL and lone surrogates in names, merging what the repair makes one series', async () => {
    const d = (service: string, sum: number) => ({ service, operation: 'op\u0000', signal: 'sig\udc00', aggregation: 'sum' as const, bucketStartMs: t0, sum, count: 1, min: sum, max: sum });
    await db.sql.begin((tx) => mergeSeries(tx, 10, [d('nul\u0000', 1), d('nul\ufffd', 2), d('half\ud83d', 4)]));
    const rows = await db.sql<{ service: string; operation: string; signal: string; sum: number }[]>`
      SELECT service, operation, signal, sum FROM series WHERE service LIKE 'nul%' OR service LIKE 'half%' ORDER BY service`;
    expect(rows).toEqual([
      { service: 'half\ufffd', operation: 'op\ufffd', signal: 'sig\ufffd', sum: 4 },
      { service: 'nul\ufffd', operation: 'op\ufffd', signal: 'sig\ufffd', sum: 3 },
    ]);
  });

  it('rolls whole minutes of 10 s buckets into 1-minute buckets, idempotently, and drops what is past retention', async () => {
    const base = t0 + 3_600_000;
    const deltas = Array.from({ length: 12 }, (_, i) => ({ service: 'd', operation: '', signal: 'calls', aggregation: 'sum' as const, bucketStartMs: base + i * 10_000, sum: i + 1, count: 1, min: i + 1, max: i + 1 }));
    await db.sql.begin((tx) => mergeSeries(tx, 10, deltas));
    const now = base + 120_000;
    await downsample(db.sql, 10, 60, now, 3_600_000, now);
    await downsample(db.sql, 10, 60, now, 3_600_000, now);
    const minutes = (await readSeries(db.sql, 60, base, base + 120_000)).filter((p) => p.service === 'd');
    expect(minutes.map((p) => [p.startMs - base, p.value])).toEqual([[0, 21], [60_000, 57]]);
    // Past retention the 10 s buckets go; the minutes stay.
    await downsample(db.sql, 10, 60, now, 1000, now + 10 * 60_000);
    expect((await readSeries(db.sql, 10, base, base + 120_000)).filter((p) => p.service === 'd')).toEqual([]);
    expect((await readSeries(db.sql, 60, base, base + 120_000)).filter((p) => p.service === 'd')).toHaveLength(2);
  });
});
