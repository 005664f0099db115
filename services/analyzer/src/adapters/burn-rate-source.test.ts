// The burn-rate source on real PostgreSQL: objective events read from rollups written by the rollup
// store, latency counted from the merged DDSketch, and a latency objective paging on them.
import { DDSketch } from '@datadog/sketches-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { objectivesFile, objectivesFor, resolveObjectives } from '@hephaestus/schemas';
import { evaluateObjective, lookbackMs } from '../domain/burn-rate.ts';
import { readObjectiveBuckets } from './burn-rate-source.ts';
import { mergeRollups } from './rollup-store.ts';

const resolutionSeconds = 5;
const resolutionMs = resolutionSeconds * 1000;
const t0 = Date.parse('2026-11-25T10:00:00Z');
const config = resolveObjectives(objectivesFile.parse({ defaults: { latency: { targetPercent: 99, thresholdMs: 2000 } }, services: [{ service: 'batch', availability: false, latency: false }] }));
const objectivesOf = (service: string) => objectivesFor(config, service);

/** `fast` calls between 100 and 300 ms, `slow` between 2,500 and 4,000 ms. */
const sketchOf = (fast: number, slow: number) => {
  const sketch = new DDSketch({ relativeAccuracy: 0.01 });
  for (let i = 0; i < fast; i++) sketch.accept(100 + (200 * i) / fast);
  for (let i = 0; i < slow; i++) sketch.accept(2500 + (1500 * i) / slow);
  return sketch;
};

describe('burn-rate source', () => {
  const db = useFreshDatabase();
  beforeAll(async () => {
    // checkout: 10 healthy buckets, then 2 where half the calls take over 2 s; each bucket arrives in two batches.
    for (let i = 0; i < 12; i++) {
      const slow = i >= 10 ? 25 : 0;
      const bucketStartMs = t0 + i * resolutionMs;
      for (const batch of [0, 1]) {
        await db.sql.begin((tx) =>
          mergeRollups(tx, resolutionSeconds, [
            { service: 'checkout', bucketStartMs, calls: 50, errors: batch === 0 && i === 3 ? 1 : 0, sketch: sketchOf(50 - slow, slow), errorTraceIds: [] },
            { service: 'batch', bucketStartMs, calls: 50, errors: 50, sketch: sketchOf(0, 50), errorTraceIds: [] },
          ]),
        );
      }
    }
    await db.sql.begin((tx) => mergeRollups(tx, 60, [{ service: 'checkout', bucketStartMs: t0, calls: 1200, errors: 600, sketch: sketchOf(0, 1200), errorTraceIds: [] }]));
  });

  const read = (toMs: number) => readObjectiveBuckets(db.sql, { resolutionSeconds, fromMs: toMs - lookbackMs(config.alerting, resolutionSeconds), toMs, objectivesOf });

  it('reads calls and errors for availability and calls over the threshold for latency, per base bucket', async () => {
    const byService = await read(t0 + 12 * resolutionMs);
    expect([...byService.keys()]).toEqual(['checkout']);
    const [availability, latency] = byService.get('checkout')!;
    expect(availability!.objective.kind).toBe('availability');
    expect(availability!.buckets).toHaveLength(12);
    expect(availability!.buckets[3]).toEqual({ startMs: t0 + 3 * resolutionMs, total: 100, bad: 1 });
    expect(latency!.objective.kind).toBe('latency');
    expect(latency!.buckets.map((b) => b.bad)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 50]);
    expect(latency!.buckets.every((b) => b.total === 100)).toBe(true);
  });

  it('pages the latency objective from the stored sketches on the second slow bucket, not the first', async () => {
    const judge = async (buckets: number) => {
      const atMs = t0 + buckets * resolutionMs;
      const latency = (await read(atMs)).get('checkout')!.find((o) => o.objective.kind === 'latency')!;
      return evaluateObjective(latency.objective, latency.buckets, { resolutionSeconds, atMs });
    };
    expect((await judge(11)).firing).toBe(false);
    const verdict = await judge(12);
    expect(verdict).toMatchObject({
      firing: true,
      severity: 'critical',
      summary: 'checkout latency burning its 99 % under 2,000 ms objective 16.7× over 30 s (16.7 % slower than 2,000 ms, 100 of 600 calls), fast burn',
    });
  });

  it('counts no latency events for a bucket whose sketch cannot be read, and keeps its calls and errors', async () => {
    const bucketStartMs = t0 + 20 * resolutionMs;
    await db.sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch) VALUES ('legacy', ${resolutionSeconds}, ${new Date(bucketStartMs)}, 30, 2, ${Buffer.from('not a sketch')})`;
    const [availability, latency] = (await read(bucketStartMs + resolutionMs)).get('legacy')!;
    expect(availability!.buckets).toEqual([{ startMs: bucketStartMs, total: 30, bad: 2 }]);
    expect(latency!.buckets).toEqual([{ startMs: bucketStartMs, total: 0, bad: 0 }]);
  });
});
