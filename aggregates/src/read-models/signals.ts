// The signal read model: a service's signal over time as the analyzer stored it, request signals from
// its rollups and every other signal from its series, read by the healer's verification and the
// console's series, forecasts and spend. The one module that reads those tables for another package.
import type { Sql } from '@hephaestus/platform';

/** One interval of a signal: `count` is its calls (request signals) or samples (series); `value` is null where it had no latency to measure. */
export type SignalPoint = { startMs: number; resolutionSeconds: number; value: number | null; count: number; min: number | null; max: number | null };

/** A signal's points of one service (and one operation, '' for the service as a whole), each moment once. */
export type SignalSeries = { service: string; operation: string; points: SignalPoint[] };

export type SignalQuery = {
  signal: string;
  fromMs: number;
  toMs: number;
  /** One service; every service when absent. */
  service?: string;
  /**
   * Series only (request signals are per service): this operation's series ('' the service-wide one);
   * `{ each: true }` every operation's apart; absent, the service-wide row, or the sum over the operations
   * where there is none (the analyzer writes LLM series per model and service-wide; another tool may not).
   */
  operation?: string | { each: true };
  /** One resolution; every resolution when absent, each moment once at the finest that still covers it. */
  resolutionSeconds?: number;
};

type RollupRow = { service: string; bucket_start: Date; resolution_seconds: number; calls: string; errors: string; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null };

const latency = (r: RollupRow, ms: number | null) => ({ value: ms, count: ms === null ? 0 : Number(r.calls) });

/** The signals the rollups hold (their value from a row), every other name is a series. */
const requestSignals: Record<string, (r: RollupRow) => { value: number | null; count: number }> = {
  calls: (r) => ({ value: Number(r.calls), count: Number(r.calls) }),
  errors: (r) => ({ value: Number(r.errors), count: Number(r.calls) }),
  error_rate: (r) => ({ value: Number(r.calls) > 0 ? Number(r.errors) / Number(r.calls) : 0, count: Number(r.calls) }),
  'latency.p50_ms': (r) => latency(r, r.p50_ms),
  'latency.p95_ms': (r) => latency(r, r.p95_ms),
  'latency.p99_ms': (r) => latency(r, r.p99_ms),
};

/** Whether the rollups hold this signal (one series per service, no operations). */
export const isRequestSignal = (signal: string): boolean => Object.hasOwn(requestSignals, signal);

/**
 * Points with each moment counted once: the finest resolution wins, and coarser buckets fill in only
 * the older time it no longer covers. `points` sorted by resolution, then time; returned by time.
 */
export const finestFirst = <P extends { startMs: number; resolutionSeconds: number }>(points: P[]): P[] => {
  let covered = Number.POSITIVE_INFINITY;
  let coveredAtResolution = Number.POSITIVE_INFINITY;
  const kept: P[] = [];
  for (const p of points) {
    if (p.resolutionSeconds !== coveredAtResolution && kept.length > 0) covered = Math.min(...kept.map((k) => k.startMs));
    coveredAtResolution = p.resolutionSeconds;
    if (p.startMs + p.resolutionSeconds * 1000 <= covered) kept.push(p);
  }
  return kept.sort((a, b) => a.startMs - b.startMs);
};

const readRollupPoints = async (sql: Sql, q: SignalQuery) => {
  const rows = await sql<RollupRow[]>`
    SELECT service, bucket_start, resolution_seconds, calls, errors, p50_ms, p95_ms, p99_ms FROM rollups
    WHERE bucket_start >= ${new Date(q.fromMs)} AND bucket_start < ${new Date(q.toMs)}
      ${q.service === undefined ? sql`` : sql`AND service = ${q.service}`}
      ${q.resolutionSeconds === undefined ? sql`` : sql`AND resolution_seconds = ${q.resolutionSeconds}`}
    ORDER BY service, resolution_seconds, bucket_start`;
  const valueOf = requestSignals[q.signal]!;
  return rows.map((r) => {
    const { value, count } = valueOf(r);
    return { service: r.service, operation: '', startMs: r.bucket_start.getTime(), resolutionSeconds: r.resolution_seconds, value, count, min: value, max: value };
  });
};

const readSeriesPoints = async (sql: Sql, q: SignalQuery) => {
  const { operation } = q;
  const sumsOperations = operation === undefined;
  const rows = await sql<{ service: string; operation: string; bucket_start: Date; resolution_seconds: number; aggregation: string; sum: number; count: number; min: number; max: number }[]>`
    SELECT service, ${sumsOperations ? sql`''` : sql`operation`} AS operation, bucket_start, resolution_seconds,
           min(aggregation) AS aggregation, sum(sum) AS sum, sum(count) AS count, min(min) AS min, max(max) AS max
    FROM series s
    WHERE signal = ${q.signal} AND bucket_start >= ${new Date(q.fromMs)} AND bucket_start < ${new Date(q.toMs)}
      ${q.service === undefined ? sql`` : sql`AND service = ${q.service}`}
      ${q.resolutionSeconds === undefined ? sql`` : sql`AND resolution_seconds = ${q.resolutionSeconds}`}
      ${
        typeof operation === 'string'
          ? sql`AND operation = ${operation}`
          : operation
            ? sql``
            : sql`AND (operation = '' OR NOT EXISTS (
                SELECT 1 FROM series w WHERE w.service = s.service AND w.signal = s.signal AND w.resolution_seconds = s.resolution_seconds
                  AND w.bucket_start = s.bucket_start AND w.operation = ''))`
      }
    GROUP BY service, ${sumsOperations ? sql`` : sql`operation,`} resolution_seconds, bucket_start
    ORDER BY service, operation, resolution_seconds, bucket_start`;
  return rows.map((r) => {
    const count = Number(r.count);
    return {
      service: r.service,
      operation: r.operation,
      startMs: r.bucket_start.getTime(),
      resolutionSeconds: r.resolution_seconds,
      value: r.aggregation === 'sum' ? Number(r.sum) : count > 0 ? Number(r.sum) / count : 0,
      count,
      min: Number(r.min),
      max: Number(r.max),
    };
  });
};

/** A signal over [fromMs, toMs), one series per service (and per operation when asked), oldest point first. */
export const readSignals = async (sql: Sql, q: SignalQuery): Promise<SignalSeries[]> => {
  const points = isRequestSignal(q.signal) ? await readRollupPoints(sql, q) : await readSeriesPoints(sql, q);
  const bySeries = new Map<string, SignalSeries>();
  for (const { service, operation, ...point } of points) {
    const key = `${service}\u0000${operation}`;
    const series = bySeries.get(key) ?? { service, operation, points: [] };
    bySeries.set(key, series);
    series.points.push(point);
  }
  return [...bySeries.values()].map((s) => ({ ...s, points: finestFirst(s.points) }));
};

/** One service's signal over [fromMs, toMs), oldest point first (see SignalQuery for the operation). */
export const readSignal = async (sql: Sql, q: Omit<SignalQuery, 'service' | 'operation'> & { service: string; operation?: string }): Promise<SignalPoint[]> =>
  (await readSignals(sql, q))[0]?.points ?? [];

export type OperationLatency = { operation: string; calls: number; meanMs: number; worstMs: number };

/** The operations a service's calls go to (span names, as the analyzer keeps their mean latency) over [fromMs, toMs), the busiest 50 first. */
export const readOperationLatencies = async (sql: Sql, service: string, fromMs: number, toMs: number): Promise<OperationLatency[]> => {
  const rows = await sql<{ operation: string; calls: number; mean_ms: number | null; worst_ms: number }[]>`
    SELECT operation, sum(count) AS calls, sum(sum) / nullif(sum(count), 0) AS mean_ms, max(max) AS worst_ms FROM series
    WHERE service = ${service} AND signal = 'latency.mean_ms' AND operation <> '' AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}
    GROUP BY operation ORDER BY sum(count) DESC, operation LIMIT 50`;
  return rows.map((r) => ({ operation: r.operation, calls: Number(r.calls), meanMs: Number(r.mean_ms ?? 0), worstMs: Number(r.worst_ms) }));
};
