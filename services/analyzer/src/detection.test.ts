// Stage 1 detection on real PostgreSQL: a collector closes intervals on the event time of the batches it
// applied, judges them for the services of the partition indexes it holds, reads the baselines the judge
// froze, and hands every observation on, also when the log refused a report once.
import { describe, expect, it } from 'vitest';
import { eventually, testLogger, useFreshDatabase } from '@hephaestus/platform/testing';
import type { DetectionReport } from '@hephaestus/schemas';
import { Registry } from 'prom-client';
import type { SeriesDelta } from './domain/series.ts';
import { mergeSeries } from './adapters/series-store.ts';
import { startDetection } from './detection.ts';

const resolution = 10;
const t0 = Date.UTC(2026, 10, 30, 10);
const bucket = (i: number) => t0 + i * resolution * 1000;
const wiggle = (i: number) => Math.sin(i * 1.7) * 3 + Math.cos(i * 0.3) * 2;
const delta = (service: string, i: number, value: number): SeriesDelta => ({
  service,
  operation: '',
  signal: 'queue.depth',
  aggregation: 'mean',
  bucketStartMs: bucket(i),
  sum: value,
  count: 1,
  min: value,
  max: value,
});

describe('detection in a collector', () => {
  const db = useFreshDatabase();

  it('judges the intervals its batches close, for its own services only, holds a frozen baseline, and loses no report the log refused', async () => {
    await db.sql`INSERT INTO service_partitions (service, partition_index) VALUES ('mine', 0), ('theirs', 1)`;
    const store = (i: number, mine: number, theirs: number) => db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('mine', i, mine), delta('theirs', i, theirs)]));
    for (let i = 0; i < 60; i++) await store(i, 100 + wiggle(i), 100 + wiggle(i));
    const reports: DetectionReport[] = [];
    let refuse = false;
    let refused = 0;
    let clock = bucket(60) + 5_000;
    const detection = startDetection({
      sql: db.sql,
      logger: testLogger(),
      registry: new Registry(),
      resolutionSeconds: resolution,
      graceSeconds: 2,
      warmupBuckets: 60,
      limits: {},
      costs: { prices: [], budgets: [] },
      held: () => new Set([0]),
      report: async (report) => {
        if (refuse) {
          refused++;
          throw new Error('the log is down');
        }
        reports.push(report);
      },
      now: () => clock,
    });
    try {
      /** A batch of partition 0 whose telemetry reached bucket i: closes the intervals before it (grace 2 s). */
      const reach = async (i: number) => {
        clock = bucket(i) + 5_000;
        detection.accept({ source: 'otel.spans/0', lastMs: bucket(i) + 3_000 });
        await eventually(`bucket ${i - 1} judged`, () => (reports.at(-1)?.before === bucket(i) ? true : undefined));
      };
      await reach(60);
      expect(reports[0]).toEqual({ indexes: [0], before: bucket(60), observations: [] });

      // Both jump: only its own service's jump is its to report.
      await store(60, 400, 400);
      await store(61, 400, 400);
      await reach(61);
      await reach(62);
      const seen = reports.flatMap((r) => r.observations);
      expect(seen.map((o) => [o.service, o.signal, o.bucketStartMs])).toContainEqual(['mine', 'queue.depth', bucket(60)]);
      expect(seen.filter((o) => o.service === 'theirs')).toEqual([]);

      // The judge froze its baseline (an incident opened): once its detector settles on 400, each interval still says where it stands.
      await db.sql`INSERT INTO frozen_baselines (service, signal, baseline) VALUES ('mine', 'queue.depth', 100)`;
      for (let i = 62; i < 100; i++) await store(i, 400 + wiggle(i), 100 + wiggle(i));
      for (let i = 63; i < 100; i++) await reach(i);
      const held = reports.flatMap((r) => r.observations).filter((o) => o.sustainOnly);
      expect(held.length).toBeGreaterThan(0);
      expect(held.every((o) => o.service === 'mine' && o.baseline === 100)).toBe(true);

      // The log refuses a report: its observations go with the next one.
      await store(100, 2_000, 100);
      await store(101, 400, 100);
      refuse = true;
      clock = bucket(101) + 5_000;
      detection.accept({ source: 'otel.spans/0', lastMs: bucket(101) + 3_000 });
      await eventually('the report the log refused', () => (refused > 0 ? true : undefined));
      refuse = false;
      await reach(102);
      expect(reports.flatMap((r) => r.observations).map((o) => [o.bucketStartMs, o.value])).toContainEqual([bucket(100), 2_000]);
    } finally {
      await detection.stop();
    }
  });
});
