// The rollup store on real PostgreSQL: merging into stored buckets (also past a sketch it cannot read)
// and the service.version record the healer reads to tell when a fix is live.
import { DDSketch } from '@datadog/sketches-js';
import { describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { claimRequests, lockAppliedOffset, mergeRollups, pruneAppliedRequests, recordServiceVersions, storeAppliedOffset } from './rollup-store.ts';

const sketchOf = (...values: number[]) => {
  const sketch = new DDSketch();
  for (const v of values) sketch.accept(v);
  return sketch;
};

describe('rollup store', () => {
  const db = useFreshDatabase();

  it('adds counts and merges latency sketches into a stored bucket', async () => {
    const bucketStartMs = Date.parse('2026-11-25T10:00:00Z');
    await db.sql.begin((tx) => mergeRollups(tx, 10, [{ service: 'a', bucketStartMs, calls: 2, errors: 1, sketch: sketchOf(10, 20), errorTraceIds: [] }]));
    const unreadable = await db.sql.begin((tx) => mergeRollups(tx, 10, [{ service: 'a', bucketStartMs, calls: 2, errors: 0, sketch: sketchOf(1000, 1000), errorTraceIds: [] }]));
    expect(unreadable).toEqual([]);
    const [row] = await db.sql<{ calls: string; errors: string; p99_ms: number }[]>`SELECT calls, errors, p99_ms FROM rollups WHERE service = 'a'`;
    expect(row).toMatchObject({ calls: '4', errors: '1' });
    expect(row!.p99_ms).toBeGreaterThan(900);
  });

  it('claims request ids once: a second claim, committed or in the same call, reports them applied; a rolled back claim does not count', async () => {
    const t = Date.parse('2026-11-25T10:00:00Z');
    expect([...(await db.sql.begin((tx) => claimRequests(tx, ['r1-0', 'r1-1', 'r1-0'], t)))]).toEqual([]);
    expect([...(await db.sql.begin((tx) => claimRequests(tx, ['r1-1', 'r2-0'], t)))]).toEqual(['r1-1']);
    await expect(db.sql.begin(async (tx) => {
      await claimRequests(tx, ['r3-0'], t);
      throw new Error('the rollups were refused');
    })).rejects.toThrow('refused');
    expect([...(await db.sql.begin((tx) => claimRequests(tx, ['r3-0', 'nul\u0000-0'], t)))]).toEqual([]);
    expect([...(await db.sql.begin((tx) => claimRequests(tx, ['nul\u0000-0'], t)))]).toEqual(['nul\u0000-0']);
    expect(await pruneAppliedRequests(db.sql, t + 1)).toBe(5);
    expect([...(await db.sql.begin((tx) => claimRequests(tx, ['r1-1'], t + 2)))]).toEqual([]);
  });

  it("takes turns on a partition's very first batch: the second collector sees what the first applied", async () => {
    // Two collectors during a handover, each applying the partition's first batch (no applied offset yet).
    let firstHolds: () => void = () => {};
    const held = new Promise<void>((resolve) => (firstHolds = resolve));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const first = db.sql.begin(async (tx) => {
      const from = await lockAppliedOffset(tx, 'c', 'otel.spans', 7);
      firstHolds();
      await released;
      await storeAppliedOffset(tx, 'c', 'otel.spans', 7, 10n);
      return from;
    });
    await held;
    const order: string[] = [];
    const second = db.sql.begin(async (tx) => {
      const from = await lockAppliedOffset(tx, 'c', 'otel.spans', 7);
      order.push('second read');
      return from;
    });
    // The second waits on the first: nothing read until the first commits.
    await new Promise((resolve) => setTimeout(resolve, 200));
    order.push('first commits');
    release();
    expect(await first).toBe(0n);
    expect(await second).toBe(10n);
    expect(order).toEqual(['first commits', 'second read']);
  });

  it('keeps going past a stored sketch it cannot read, and reports the bucket', async () => {
    const bucketStartMs = Date.parse('2026-11-25T10:00:10Z');
    await db.sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch) VALUES ('b', 10, ${new Date(bucketStartMs)}, 5, 1, ${Buffer.from('not a sketch')})`;
    const unreadable = await db.sql.begin((tx) => mergeRollups(tx, 10, [{ service: 'b', bucketStartMs, calls: 1, errors: 0, sketch: sketchOf(50), errorTraceIds: [] }]));
    expect(unreadable).toEqual([{ service: 'b', bucketStartMs }]);
    const [row] = await db.sql<{ calls: string; p50_ms: number }[]>`SELECT calls, p50_ms FROM rollups WHERE service = 'b'`;
    expect(row!.calls).toBe('6');
    expect(row!.p50_ms).toBeCloseTo(50, -1);
  });

  it('records each service.version with the first and last time it was seen', async () => {
    const span = (service: string, version: string | undefined, startTimeMs: number) => ({ service, startTimeMs, resource: version ? { 'service.version': version } : {} });
    await db.sql.begin((tx) => recordServiceVersions(tx, [span('planner', '1.4.0', 1_000), span('planner', '1.4.0', 3_000), span('planner', undefined, 4_000)]));
    await db.sql.begin((tx) => recordServiceVersions(tx, [span('planner', '1.4.0', 500), span('planner', '1.4.1', 9_000)]));
    const rows = await db.sql<{ version: string; first_seen: Date; last_seen: Date }[]>`SELECT version, first_seen, last_seen FROM service_versions WHERE service = 'planner' ORDER BY version`;
    expect(rows.map((r) => [r.version, r.first_seen.getTime(), r.last_seen.getTime()])).toEqual([['1.4.0', 500, 3_000], ['1.4.1', 9_000, 9_000]]);
  });
  it('repairs NUL and lone surrogates in the service, control URL and version instead of failing the batch', async () => {
    const bucketStartMs = Date.parse('2026-11-25T10:00:20Z');
    await db.sql.begin((tx) => mergeRollups(tx, 10, [{ service: 'svc\u0000', bucketStartMs, calls: 1, errors: 0, sketch: sketchOf(5), controlUrl: 'http://127.0.0.1:1/\ud83d', errorTraceIds: [] }]));
    await db.sql.begin((tx) => recordServiceVersions(tx, [{ service: 'svc\u0000', startTimeMs: 1, resource: { 'service.version': '2.0\u0000\udc00' } }]));
    const [rollup] = await db.sql<{ service: string; control_url: string }[]>`SELECT service, control_url FROM rollups WHERE bucket_start = ${new Date(bucketStartMs)}`;
    expect(rollup).toEqual({ service: 'svc\ufffd', control_url: 'http://127.0.0.1:1/\ufffd' });
    const [version] = await db.sql<{ version: string }[]>`SELECT version FROM service_versions WHERE service = ${'svc\ufffd'}`;
    expect(version!.version).toBe('2.0\ufffd\ufffd');
  });
});
