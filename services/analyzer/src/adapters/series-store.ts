// Series in PostgreSQL: deltas merge into their bucket (sums add, extremes widen); metric stream state
// is read and written in the batch's transaction; downsampling rolls fine buckets into coarser ones.
// Every multi-row statement is chunked under PostgreSQL's 65,535 bind parameters.
import { chunksOf, pgText, type Sql, type TransactionSql } from '@hephaestus/platform';
import { bucketValue, type SeriesDelta, type StreamState } from '../domain/series.ts';

/** Deltas whose stored key is the same (texts repaired for PostgreSQL) merged, as the upsert would. */
const storable = (resolutionSeconds: number, deltas: SeriesDelta[]) => {
  const rows = new Map<string, { service: string; operation: string; signal: string; resolution_seconds: number; bucket_start: Date; aggregation: string; sum: number; count: number; min: number; max: number }>();
  for (const d of deltas) {
    const service = pgText(d.service);
    const operation = pgText(d.operation);
    const signal = pgText(d.signal);
    const key = JSON.stringify([service, operation, signal, d.bucketStartMs]);
    const row = rows.get(key);
    if (row) {
      row.sum += d.sum;
      row.count += d.count;
      row.min = Math.min(row.min, d.min);
      row.max = Math.max(row.max, d.max);
    } else {
      rows.set(key, { service, operation, signal, resolution_seconds: resolutionSeconds, bucket_start: new Date(d.bucketStartMs), aggregation: d.aggregation, sum: d.sum, count: d.count, min: d.min, max: d.max });
    }
  }
  return [...rows.values()];
};

/** Upserts in chunks under the bind-parameter limit (a gauge of 7,000 points is 7,000 rows of 10). */
export const mergeSeries = async (tx: TransactionSql, resolutionSeconds: number, deltas: SeriesDelta[]) => {
  for (const rows of chunksOf(storable(resolutionSeconds, deltas), 10)) {
    await tx`
      INSERT INTO series ${tx(rows)}
      ON CONFLICT (service, signal, operation, resolution_seconds, bucket_start) DO UPDATE SET
        sum = series.sum + excluded.sum,
        count = series.count + excluded.count,
        min = LEAST(series.min, excluded.min),
        max = GREATEST(series.max, excluded.max)`;
  }
};

// Stream keys are JSON text (streamKey), so they are valid PostgreSQL text as they are.
export const loadStreams = async (tx: TransactionSql, keys: string[]): Promise<Map<string, StreamState>> => {
  const streams = new Map<string, StreamState>();
  for (const chunk of chunksOf(keys, 1)) {
    const rows = await tx<{ stream: string; state: StreamState }[]>`SELECT stream, state FROM metric_streams WHERE stream IN ${tx(chunk)}`;
    for (const r of rows) streams.set(r.stream, r.state);
  }
  return streams;
};

export const storeStreams = async (tx: TransactionSql, streams: Map<string, StreamState>) => {
  for (const chunk of chunksOf([...streams], 2)) {
    const rows = chunk.map(([stream, state]) => ({ stream, state: tx.json(state) }));
    await tx`INSERT INTO metric_streams ${tx(rows)} ON CONFLICT (stream) DO UPDATE SET state = excluded.state`;
  }
};

export type SeriesPoint = { service: string; operation: string; signal: string; startMs: number; value: number; max: number; count: number; aggregation: 'sum' | 'mean' };

/** Closed buckets with start in [fromMs, toMs), oldest first, as the values they stand for. */
export const readSeries = async (sql: Sql, resolutionSeconds: number, fromMs: number, toMs: number): Promise<SeriesPoint[]> => {
  const rows = await sql<{ service: string; operation: string; signal: string; bucket_start: Date; aggregation: 'sum' | 'mean'; sum: number; count: number; max: number }[]>`
    SELECT service, operation, signal, bucket_start, aggregation, sum, count, max FROM series
    WHERE resolution_seconds = ${resolutionSeconds} AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}
    ORDER BY bucket_start`;
  return rows.map((r) => ({
    service: r.service,
    operation: r.operation,
    signal: r.signal,
    startMs: r.bucket_start.getTime(),
    value: bucketValue(r),
    max: r.max,
    count: r.count,
    aggregation: r.aggregation,
  }));
};

/**
 * Rolls buckets of `from` seconds older than `olderThanMs` into buckets of `to` seconds, then deletes
 * the fine ones older than their retention. Sums add; means stay exact because sum and count both add.
 */
export const downsample = async (sql: Sql, from: number, to: number, olderThanMs: number, retentionMs: number, nowMs: number) => {
  // Whole coarse buckets only, each recomputed from all of its fine buckets: a rerun changes nothing.
  const end = Math.floor(olderThanMs / (to * 1000)) * to * 1000;
  const start = end - 2 * to * 1000;
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max)
      SELECT service, operation, signal, ${to}, date_bin(${`${to} seconds`}::interval, bucket_start, 'epoch'::timestamptz),
             aggregation, sum(sum), sum(count), min(min), max(max)
      FROM series
      WHERE resolution_seconds = ${from} AND bucket_start >= ${new Date(start)} AND bucket_start < ${new Date(end)}
      GROUP BY 1, 2, 3, 5, 6
      ON CONFLICT (service, signal, operation, resolution_seconds, bucket_start) DO UPDATE SET
        sum = excluded.sum, count = excluded.count, min = excluded.min, max = excluded.max`;
    await tx`DELETE FROM series WHERE resolution_seconds = ${from} AND bucket_start < ${new Date(nowMs - retentionMs)}`;
  });
};
