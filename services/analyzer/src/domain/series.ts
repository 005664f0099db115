// Turns telemetry into per-(service, operation, signal) series deltas at a fixed resolution: LLM usage
// from GenAI spans, every OTLP metric (gauges as levels; sums as increments, with cumulative counters
// differenced per stream and resets detected; histograms as their mean), and error-level log counts.
import type { LogRecordNormalized, MetricPoint, ModelPrice, SpanRecord } from '@hephaestus/schemas';
import { llmUsageOf } from './llm-usage.ts';
import { bucketStart, isCall } from './rollup.ts';

/** `sum`: the bucket's value is the sum (counts, tokens, cost); `mean`: sum / count (levels, latencies). */
export type Aggregation = 'sum' | 'mean';

export type SeriesDelta = {
  service: string;
  /** The model for GenAI signals, the span name of a call for `latency.mean_ms`, '' for service-wide series. */
  operation: string;
  signal: string;
  aggregation: Aggregation;
  bucketStartMs: number;
  sum: number;
  count: number;
  min: number;
  max: number;
};

/** Request latency per operation: the mean duration of the calls (server, consumer or root spans) of one span name. */
export const operationLatency = 'latency.mean_ms';

/**
 * Which operations of a service get their own latency series: the first `maxPerService` names seen
 * (a span name holding ids, `GET /users/123`, must not make a series per user). `known` seeds it with
 * the operations already stored, so a restart keeps the same ones.
 */
export const operationAdmission = (maxPerService: number, known: ReadonlyArray<{ service: string; operation: string }> = []) => {
  const admitted = new Map<string, Set<string>>();
  const full = new Set<string>();
  for (const k of known) admitted.set(k.service, (admitted.get(k.service) ?? new Set()).add(k.operation));
  return {
    /** Whether `operation` of `service` has (or now gets) a series. */
    admit(service: string, operation: string): boolean {
      const names = admitted.get(service) ?? new Set<string>();
      admitted.set(service, names);
      if (names.has(operation)) return true;
      if (names.size >= maxPerService) {
        full.add(service);
        return false;
      }
      names.add(operation);
      return true;
    },
    /** Services with more operations than get a series. */
    full: (): string[] => [...full],
  };
};

/** `latency.mean_ms` per (service, operation) of the calls among `spans`, for the operations `admit` lets in. */
export const callSeries = (spans: SpanRecord[], resolutionSeconds: number, admit: (service: string, operation: string) => boolean): SeriesDelta[] => {
  const out = new Deltas(resolutionSeconds);
  for (const span of spans) {
    if (!isCall(span) || span.name === '' || !admit(span.service, span.name)) continue;
    out.add(span.service, span.name, operationLatency, 'mean', span.startTimeMs + span.durationMs, Math.max(span.durationMs, 0));
  }
  return [...out.byKey.values()];
};

/** What a cumulative metric stream last reported, to turn its running totals into increments. */
export type StreamState = { startTimeUnixNano: string; timeUnixNano: string; value: number; count?: number; bucketCounts?: number[] };

/**
 * The q-quantile of an explicit-bucket histogram, interpolating linearly inside the bucket that holds
 * it (the first bucket's lower edge is taken as 0 or its upper edge, whichever is lower; the overflow
 * bucket answers its lower edge).
 */
export const histogramQuantile = (bounds: number[], counts: number[], q: number): number | undefined => {
  const total = counts.reduce((n, c) => n + c, 0);
  if (total <= 0 || counts.length !== bounds.length + 1) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= rank && c > 0) {
      if (i === bounds.length) return bounds[i - 1] ?? 0;
      const upper = bounds[i]!;
      const lower = i === 0 ? Math.min(0, upper) : bounds[i - 1]!;
      return lower + ((rank - seen) / c) * (upper - lower);
    }
    seen += c;
  }
  return bounds.at(-1);
};

class Deltas {
  readonly byKey = new Map<string, SeriesDelta>();
  readonly resolutionSeconds: number;
  constructor(resolutionSeconds: number) {
    this.resolutionSeconds = resolutionSeconds;
  }
  add(service: string, operation: string, signal: string, aggregation: Aggregation, timeMs: number, value: number, count = 1) {
    const start = bucketStart(timeMs, this.resolutionSeconds);
    const key = `${service}\u0000${operation}\u0000${signal}\u0000${start}`;
    const delta = this.byKey.get(key);
    const perUnit = count > 0 ? value / count : value;
    if (delta) {
      delta.sum += value;
      delta.count += count;
      delta.min = Math.min(delta.min, perUnit);
      delta.max = Math.max(delta.max, perUnit);
    } else {
      this.byKey.set(key, { service, operation, signal, aggregation, bucketStartMs: start, sum: value, count, min: perUnit, max: perUnit });
    }
  }
}

export const spanSeries = (spans: SpanRecord[], prices: ModelPrice[], resolutionSeconds: number): SeriesDelta[] => {
  const out = new Deltas(resolutionSeconds);
  for (const span of spans) {
    const usage = llmUsageOf(span, prices);
    if (!usage) continue;
    const at = span.startTimeMs + span.durationMs;
    for (const operation of [usage.model, '']) {
      out.add(usage.service, operation, 'gen_ai.calls', 'sum', at, 1);
      out.add(usage.service, operation, 'gen_ai.errors', 'sum', at, usage.failed ? 1 : 0);
      out.add(usage.service, operation, 'gen_ai.input_tokens', 'sum', at, usage.inputTokens);
      out.add(usage.service, operation, 'gen_ai.output_tokens', 'sum', at, usage.outputTokens);
      if (usage.costUsd !== undefined) {
        out.add(usage.service, operation, 'gen_ai.cost_usd', 'sum', at, usage.costUsd);
        // Every call's cost over the successful calls only: what one useful answer costs.
        out.add(usage.service, operation, 'gen_ai.cost_per_success_usd', 'mean', at, usage.costUsd, usage.failed ? 0 : 1);
      }
      if (usage.cacheHit !== undefined) out.add(usage.service, operation, 'gen_ai.cache_hits', 'sum', at, usage.cacheHit ? 1 : 0);
      if (usage.cacheHit !== undefined) out.add(usage.service, operation, 'gen_ai.cache_lookups', 'sum', at, 1);
    }
  }
  return [...out.byKey.values()];
};

/** The identity of a metric stream: its service, name and attribute set. */
export const streamKey = (point: MetricPoint): string =>
  JSON.stringify([point.service, point.name, Object.entries(point.attributes).sort(([a], [b]) => (a < b ? -1 : 1))]);

/**
 * Metric points to series deltas. `streams` holds each cumulative stream's last report and is updated
 * in place: a counter's first report only sets the starting point; a report whose start time changed
 * or whose value went down is a reset, and its value is the increment since then.
 */
export const metricSeries = (points: MetricPoint[], streams: Map<string, StreamState>, resolutionSeconds: number): SeriesDelta[] => {
  const out = new Deltas(resolutionSeconds);
  const sorted = [...points].sort((a, b) => (BigInt(a.timeUnixNano) < BigInt(b.timeUnixNano) ? -1 : 1));
  for (const point of sorted) {
    const add = (aggregation: Aggregation, value: number, count = 1) => out.add(point.service, '', point.name, aggregation, point.timeMs, value, count);
    const cumulative = point.temporality === 'cumulative';
    if (point.kind === 'gauge' || (point.kind === 'sum' && point.monotonic === false)) {
      if (point.value !== undefined) add('mean', point.value);
      continue;
    }
    if (point.kind === 'sum') {
      if (point.value === undefined) continue;
      if (!cumulative) {
        add('sum', point.value);
        continue;
      }
      const increment = increase(streams, point, point.value, 0);
      if (increment) add('sum', increment.value);
      continue;
    }
    // Histograms, exponential histograms and summaries: the mean of what was observed in the bucket.
    if (point.sum === undefined || point.count === undefined) continue;
    const p95 = (buckets: number[] | undefined) => {
      const q = point.bounds && buckets ? histogramQuantile(point.bounds, buckets, 0.95) : undefined;
      if (q !== undefined) out.add(point.service, '', `${point.name}.p95`, 'mean', point.timeMs, q);
    };
    if (!cumulative || point.kind === 'summary') {
      if (point.count > 0) add('mean', point.sum, point.count);
      if (point.kind === 'histogram') p95(point.bucketCounts);
      continue;
    }
    const previous = streams.get(streamKey(point));
    const increment = increase(streams, point, point.sum, point.count);
    if (increment && increment.count > 0) {
      add('mean', increment.value, increment.count);
      // The buckets filled since the last report (all of them after a reset).
      const now = point.bucketCounts;
      const before = increment.count === point.count ? undefined : previous?.bucketCounts;
      if (point.kind === 'histogram' && now) p95(before && before.length === now.length ? now.map((c, i) => c - before[i]!) : now);
    }
  }
  return [...out.byKey.values()];
};

const increase = (streams: Map<string, StreamState>, point: MetricPoint, value: number, count: number) => {
  const key = streamKey(point);
  const last = streams.get(key);
  const start = point.startTimeUnixNano ?? '0';
  streams.set(key, { startTimeUnixNano: start, timeUnixNano: point.timeUnixNano, value, count, bucketCounts: point.bucketCounts });
  if (!last) return undefined;
  if (BigInt(point.timeUnixNano) <= BigInt(last.timeUnixNano)) {
    streams.set(key, last);
    return undefined;
  }
  const reset = last.startTimeUnixNano !== start || value < last.value || count < (last.count ?? 0);
  return reset ? { value, count } : { value: value - last.value, count: count - (last.count ?? 0) };
};

/** Error-level log records (severity number 17 and above: ERROR, FATAL) and all records, per service. */
export const logSeries = (records: LogRecordNormalized[], resolutionSeconds: number): SeriesDelta[] => {
  const out = new Deltas(resolutionSeconds);
  for (const record of records) {
    out.add(record.service, '', 'logs.records', 'sum', record.timeMs, 1);
    out.add(record.service, '', 'logs.errors', 'sum', record.timeMs, record.severityNumber >= 17 ? 1 : 0);
  }
  return [...out.byKey.values()];
};

/** The value a bucket stands for. */
export const bucketValue = (delta: Pick<SeriesDelta, 'aggregation' | 'sum' | 'count'>): number =>
  delta.aggregation === 'sum' ? delta.sum : delta.count > 0 ? delta.sum / delta.count : 0;
