// The signal read model on real PostgreSQL: request signals from the rollups, every other signal from
// the series (one operation, each apart, or the service-wide row else the sum), each moment once.
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { finestFirst, readOperationLatencies, readSignal, readSignals } from './signals.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('finest first', () => {
  it('keeps the finest buckets and the coarse ones only for older time', () => {
    const p = (iso: string, resolutionSeconds: number) => ({ startMs: Date.parse(iso), resolutionSeconds });
    const kept = finestFirst([p('2026-03-10T12:00:10Z', 10), p('2026-03-10T12:00:20Z', 10), p('2026-03-10T11:59:00Z', 60), p('2026-03-10T12:00:00Z', 60)]);
    expect(kept.map((k) => [new Date(k.startMs).toISOString(), k.resolutionSeconds])).toEqual([
      ['2026-03-10T11:59:00.000Z', 60],
      ['2026-03-10T12:00:10.000Z', 10],
      ['2026-03-10T12:00:20.000Z', 10],
    ]);
  });
});

describe('signal read model', () => {
  const db = useFreshDatabase();
  beforeAll(async () => {
    await db.sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, p50_ms, p95_ms, p99_ms) VALUES
      ('planner', 10, ${new Date(t0)}, 100, 25, '\\x00', 300, 600, 800),
      ('planner', 10, ${new Date(t0 + 10_000)}, 50, 0, '\\x00', 90, 110, 120),
      ('planner', 10, ${new Date(t0 + 20_000)}, 0, 0, '\\x00', null, null, null),
      ('coder', 10, ${new Date(t0 + 10_000)}, 10, 1, '\\x00', 20, 40, 50)`;
    await db.sql`INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max) VALUES
      ('planner', 'gpt-4.1', 'gen_ai.cost_usd', 10, ${new Date(t0)}, 'sum', 0.5, 5, 0.1, 0.1),
      ('planner', 'gpt-4.1-mini', 'gen_ai.cost_usd', 10, ${new Date(t0)}, 'sum', 0.25, 5, 0.05, 0.05),
      ('planner', 'gpt-4.1', 'gen_ai.cost_usd', 10, ${new Date(t0 + 10_000)}, 'sum', 0.5, 5, 0.1, 0.1),
      ('planner', 'gpt-4.1-mini', 'gen_ai.cost_usd', 10, ${new Date(t0 + 10_000)}, 'sum', 0.25, 5, 0.05, 0.05),
      ('planner', '', 'gen_ai.cost_usd', 10, ${new Date(t0 + 10_000)}, 'sum', 0.75, 10, 0.05, 0.1),
      ('planner', '', 'gen_ai.cost_usd', 60, ${new Date(t0 - 60_000)}, 'sum', 2, 20, 0.05, 0.1),
      ('planner', '', 'gen_ai.cost_usd', 60, ${new Date(t0)}, 'sum', 9, 90, 0.05, 0.1),
      ('coder', '', 'gen_ai.cost_usd', 10, ${new Date(t0)}, 'sum', 0.125, 1, 0.125, 0.125),
      ('planner', '', 'process.memory.usage', 10, ${new Date(t0)}, 'mean', 3000, 3, 900, 1100),
      ('planner', 'GET /plan', 'latency.mean_ms', 10, ${new Date(t0)}, 'mean', 2000, 10, 150, 400),
      ('planner', 'GET /plan', 'latency.mean_ms', 10, ${new Date(t0 + 10_000)}, 'mean', 1000, 10, 50, 300),
      ('planner', 'POST /plan', 'latency.mean_ms', 10, ${new Date(t0)}, 'mean', 5000, 5, 900, 1500)`;
  });

  it('reads request signals from the rollups, counting calls; an interval without latency has none', async () => {
    const at = (signal: string) => readSignal(db.sql, { service: 'planner', signal, fromMs: t0, toMs: t0 + 30_000 });
    expect((await at('error_rate')).map((p) => [p.startMs, p.value, p.count])).toEqual([
      [t0, 0.25, 100],
      [t0 + 10_000, 0, 50],
      [t0 + 20_000, 0, 0],
    ]);
    expect((await at('latency.p99_ms')).map((p) => [p.value, p.count])).toEqual([[800, 100], [120, 50], [null, 0]]);
    expect((await at('latency.p50_ms')).map((p) => p.value)).toEqual([300, 90, null]);
    expect((await at('calls')).map((p) => p.value)).toEqual([100, 50, 0]);
    expect((await at('errors')).map((p) => p.value)).toEqual([25, 0, 0]);
    // The rollups are per service: an operation asked for does not narrow them.
    expect((await readSignal(db.sql, { service: 'planner', signal: 'calls', operation: 'GET /plan', fromMs: t0, toMs: t0 + 30_000 })).map((p) => p.value)).toEqual([100, 50, 0]);
  });

  it('reads any other signal from the series: the service-wide row, else the sum over operations; means as means', async () => {
    const planner = { service: 'planner', signal: 'gen_ai.cost_usd', resolutionSeconds: 10, fromMs: t0, toMs: t0 + 20_000 };
    expect((await readSignal(db.sql, planner)).map((p) => [p.startMs, p.value, p.count])).toEqual([
      [t0, 0.75, 10],
      [t0 + 10_000, 0.75, 10],
    ]);
    expect(await readSignal(db.sql, { service: 'planner', signal: 'process.memory.usage', resolutionSeconds: 10, fromMs: t0, toMs: t0 + 10_000 })).toEqual([
      { startMs: t0, resolutionSeconds: 10, value: 1000, count: 3, min: 900, max: 1100 },
    ]);
    // One operation's series, or the service-wide one alone.
    expect((await readSignal(db.sql, { ...planner, operation: 'gpt-4.1-mini' })).map((p) => p.value)).toEqual([0.25, 0.25]);
    expect((await readSignal(db.sql, { ...planner, operation: '' })).map((p) => p.startMs)).toEqual([t0 + 10_000]);
  });

  it('counts each moment once across resolutions when none is asked for', async () => {
    const points = await readSignal(db.sql, { service: 'planner', signal: 'gen_ai.cost_usd', operation: '', fromMs: t0 - 60_000, toMs: t0 + 60_000 });
    expect(points.map((p) => [p.startMs, p.resolutionSeconds, p.value])).toEqual([
      [t0 - 60_000, 60, 2],
      [t0 + 10_000, 10, 0.75],
    ]);
  });

  it('reads a signal of every service, and each operation apart', async () => {
    const totals = await readSignals(db.sql, { signal: 'gen_ai.cost_usd', operation: '', resolutionSeconds: 10, fromMs: t0, toMs: t0 + 20_000 });
    expect(totals.map((s) => [s.service, s.operation, s.points.map((p) => p.value)])).toEqual([
      ['coder', '', [0.125]],
      ['planner', '', [0.75]],
    ]);
    const models = await readSignals(db.sql, { service: 'planner', signal: 'gen_ai.cost_usd', operation: { each: true }, fromMs: t0, toMs: t0 + 20_000 });
    expect(models.map((s) => [s.operation, s.points.map((p) => p.value)])).toEqual([
      ['', [0.75]],
      ['gpt-4.1', [0.5, 0.5]],
      ['gpt-4.1-mini', [0.25, 0.25]],
    ]);
    expect((await readSignals(db.sql, { signal: 'error_rate', fromMs: t0, toMs: t0 + 20_000 })).map((s) => [s.service, s.points.length])).toEqual([
      ['coder', 1],
      ['planner', 2],
    ]);
  });

  it("reads a service's operations by calls, with their mean and worst latency", async () => {
    expect(await readOperationLatencies(db.sql, 'planner', t0, t0 + 20_000)).toEqual([
      { operation: 'GET /plan', calls: 20, meanMs: 150, worstMs: 400 },
      { operation: 'POST /plan', calls: 5, meanMs: 1000, worstMs: 1500 },
    ]);
    expect(await readOperationLatencies(db.sql, 'nobody', t0, t0 + 20_000)).toEqual([]);
  });
});
