import type { LogRecordNormalized, MetricPoint, SpanRecord } from '@hephaestus/schemas';
import { describe, expect, it } from 'vitest';
import { bucketValue, callSeries, histogramQuantile, logSeries, metricSeries, operationAdmission, operationLatency, spanSeries, type StreamState } from './series.ts';

const point = (p: Partial<MetricPoint> & Pick<MetricPoint, 'name' | 'kind' | 'timeMs'>): MetricPoint => ({
  service: 'planner',
  resource: {},
  scope: { name: 'x' },
  attributes: {},
  timeUnixNano: (BigInt(p.timeMs) * 1_000_000n).toString(),
  exemplars: [],
  ...p,
});

const find = (deltas: ReturnType<typeof metricSeries>, signal: string, bucketStartMs?: number) =>
  deltas.filter((d) => d.signal === signal && (bucketStartMs === undefined || d.bucketStartMs === bucketStartMs));

describe('series from metrics', () => {
  it('keeps gauges as the mean, minimum and maximum level in the bucket', () => {
    const deltas = metricSeries([point({ name: 'mem', kind: 'gauge', timeMs: 1000, value: 10 }), point({ name: 'mem', kind: 'gauge', timeMs: 2000, value: 30 })], new Map(), 10);
    expect(deltas).toEqual([{ service: 'planner', operation: '', signal: 'mem', aggregation: 'mean', bucketStartMs: 0, sum: 40, count: 2, min: 10, max: 30 }]);
    expect(bucketValue(deltas[0]!)).toBe(20);
  });

  it('adds delta sums as they come', () => {
    const deltas = metricSeries([point({ name: 'req', kind: 'sum', temporality: 'delta', monotonic: true, timeMs: 1000, value: 5 }), point({ name: 'req', kind: 'sum', temporality: 'delta', monotonic: true, timeMs: 3000, value: 7 })], new Map(), 10);
    expect(bucketValue(find(deltas, 'req')[0]!)).toBe(12);
  });

  it('differences cumulative counters per stream and survives a reset', () => {
    const streams = new Map<string, StreamState>();
    const counter = (timeMs: number, value: number, start = '0', attributes = {}) =>
      point({ name: 'tokens', kind: 'sum', temporality: 'cumulative', monotonic: true, timeMs, value, startTimeUnixNano: start, attributes });
    // The first report of a stream only sets its starting point.
    expect(metricSeries([counter(1000, 100)], streams, 10)).toEqual([]);
    expect(bucketValue(metricSeries([counter(11_000, 160)], streams, 10)[0]!)).toBe(60);
    // The process restarted: the value went down, so it is the increment since the restart.
    expect(bucketValue(metricSeries([counter(21_000, 15)], streams, 10)[0]!)).toBe(15);
    // A new start time is a reset too, even when the value is higher.
    expect(bucketValue(metricSeries([counter(31_000, 400, '5')], streams, 10)[0]!)).toBe(400);
    // Another attribute set is another stream.
    expect(metricSeries([counter(41_000, 1, '0', { model: 'b' })], streams, 10)).toEqual([]);
    // A report older than the last one is ignored.
    expect(metricSeries([counter(30_000, 999, '5')], streams, 10)).toEqual([]);
  });

  it('treats an up-down counter as a level', () => {
    const deltas = metricSeries([point({ name: 'queue', kind: 'sum', temporality: 'cumulative', monotonic: false, timeMs: 1000, value: -4 })], new Map(), 10);
    expect(deltas[0]).toMatchObject({ aggregation: 'mean', sum: -4, count: 1 });
  });

  it('turns histograms into the mean of the observations in the bucket', () => {
    const streams = new Map<string, StreamState>();
    const histogram = (timeMs: number, sum: number, count: number) => point({ name: 'latency', kind: 'histogram', temporality: 'cumulative', timeMs, sum, count, startTimeUnixNano: '0' });
    metricSeries([histogram(1000, 10, 10)], streams, 10);
    const deltas = metricSeries([histogram(11_000, 40, 20)], streams, 10);
    expect(bucketValue(deltas[0]!)).toBe(3);
    expect(bucketValue(metricSeries([point({ name: 'd', kind: 'histogram', temporality: 'delta', timeMs: 0, sum: 8, count: 4 })], streams, 10)[0]!)).toBe(2);
  });
});

describe('histogram quantiles', () => {
  it('interpolates inside the bucket that holds the quantile', () => {
    // 100 observations: 50 in (0, 10], 40 in (10, 100], 10 in (100, 1000].
    expect(histogramQuantile([10, 100, 1000], [50, 40, 10, 0], 0.5)).toBe(10);
    expect(histogramQuantile([10, 100, 1000], [50, 40, 10, 0], 0.95)).toBe(550);
    expect(histogramQuantile([10], [0, 5], 0.95)).toBe(10);
    expect(histogramQuantile([10, 100], [0, 0, 0], 0.95)).toBeUndefined();
  });

  it('takes the p95 of the observations since the last report of a cumulative histogram', () => {
    const streams = new Map<string, StreamState>();
    const histogram = (timeMs: number, bucketCounts: number[]) =>
      point({ name: 'llm.latency', kind: 'histogram', temporality: 'cumulative', timeMs, startTimeUnixNano: '0', bounds: [100, 1000], bucketCounts, sum: 1, count: bucketCounts.reduce((a, b) => a + b, 0) });
    metricSeries([histogram(1000, [100, 0, 0])], streams, 10);
    // Since then: 10 more observations, all slow.
    const deltas = metricSeries([histogram(11_000, [100, 0, 10])], streams, 10);
    expect(bucketValue(deltas.find((d) => d.signal === 'llm.latency.p95')!)).toBe(1000);
  });
});

describe('series from spans and logs', () => {
  it('counts LLM tokens and cost per model and per service', () => {
    const span = { service: 'planner', kind: 'client', status: 'ok', startTimeMs: 1000, durationMs: 500, attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 100 } } as unknown as SpanRecord;
    const deltas = spanSeries([span, span], [{ model: 'gpt-4o', inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 }], 10);
    const cost = deltas.filter((d) => d.signal === 'gen_ai.cost_usd');
    expect(cost.map((d) => [d.operation, bucketValue(d)])).toEqual([['gpt-4o', 0.007], ['', 0.007]]);
    expect(bucketValue(deltas.find((d) => d.signal === 'gen_ai.input_tokens' && d.operation === '')!)).toBe(2000);
    expect(bucketValue(deltas.find((d) => d.signal === 'gen_ai.cost_per_success_usd' && d.operation === '')!)).toBeCloseTo(0.0035, 10);
  });

  it('counts error-level log records', () => {
    const record = (severityNumber: number) => ({ service: 'planner', timeMs: 1000, severityNumber }) as LogRecordNormalized;
    const deltas = logSeries([record(9), record(17), record(21)], 10);
    expect(bucketValue(deltas.find((d) => d.signal === 'logs.errors')!)).toBe(2);
    expect(bucketValue(deltas.find((d) => d.signal === 'logs.records')!)).toBe(3);
  });
});

describe('latency per operation', () => {
  const call = (service: string, name: string, endMs: number, durationMs: number, extra: Partial<SpanRecord> = {}) =>
    ({ service, name, kind: 'server', status: 'ok', startTimeMs: endMs - durationMs, durationMs, parentSpanId: 'p', attributes: {}, resource: {}, ...extra }) as unknown as SpanRecord;

  it('is the mean duration of the calls of each span name, per bucket of their end; spans inside a call are not calls', () => {
    const admit = operationAdmission(20).admit;
    const deltas = callSeries(
      [call('shop', 'GET /cart', 1000, 100), call('shop', 'GET /cart', 2000, 300), call('shop', 'POST /pay', 3000, 900), call('shop', 'GET /cart', 12_000, 50), call('shop', 'SELECT', 4000, 5000, { kind: 'client' } as Partial<SpanRecord>)],
      10,
      admit,
    );
    expect(deltas.map((d) => [d.operation, d.bucketStartMs, bucketValue(d), d.count])).toEqual([
      ['GET /cart', 0, 200, 2],
      ['POST /pay', 0, 900, 1],
      ['GET /cart', 10_000, 50, 1],
    ]);
    expect(deltas.every((d) => d.signal === operationLatency && d.aggregation === 'mean')).toBe(true);
  });

  it('gives a series to the first operations of a service only, the same ones after a restart', () => {
    const first = operationAdmission(2);
    expect(['GET /users/1', 'GET /users/2', 'GET /users/3', 'GET /users/1'].map((name) => first.admit('api', name))).toEqual([true, true, false, true]);
    expect(first.admit('other', 'GET /users/3')).toBe(true);
    expect(first.full()).toEqual(['api']);
    // Restarted with what is stored: the same two keep their series, a newcomer gets none.
    const again = operationAdmission(2, [{ service: 'api', operation: 'GET /users/2' }, { service: 'api', operation: 'GET /users/1' }]);
    expect(['GET /users/3', 'GET /users/1', 'GET /users/2'].map((name) => again.admit('api', name))).toEqual([false, true, true]);
  });
});
