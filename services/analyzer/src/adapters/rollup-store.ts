// Rollups in PostgreSQL: a batch of telemetry is applied in one transaction together with the offset it
// reached, so a redelivered batch (after a crash, before the log commit) is skipped, never counted twice.
import { DDSketch } from '@datadog/sketches-js';
import { pgText, type Sql, type TransactionSql } from '@hephaestus/platform';
import { maxExemplars, quantilesMs, type BucketDelta } from '../domain/rollup.ts';

export type StoredBucket = { service: string; startMs: number; calls: number; errors: number; controlUrl: string | null; errorTraceIds: string[] };

/** The first offset of this partition whose effects are not yet applied (locked when read in a transaction). */
export const appliedOffset = async (tx: Sql | TransactionSql, consumer: string, topic: string, partition: number): Promise<bigint> => {
  const [row] = await tx<{ next_offset: string }[]>`
    SELECT next_offset FROM applied_offsets
    WHERE consumer = ${consumer} AND topic = ${topic} AND partition = ${partition} FOR UPDATE`;
  return row ? BigInt(row.next_offset) : 0n;
};

/**
 * The first offset of this partition whose effects are not yet applied, locked for the transaction: its
 * row is made first when there is none, so two collectors applying a partition's very first batch at
 * once (a handover) take turns on it like on any other, and the second sees what the first applied.
 */
export const lockAppliedOffset = async (tx: TransactionSql, consumer: string, topic: string, partition: number): Promise<bigint> => {
  await tx`
    INSERT INTO applied_offsets (consumer, topic, partition, next_offset) VALUES (${consumer}, ${topic}, ${partition}, 0)
    ON CONFLICT (consumer, topic, partition) DO NOTHING`;
  return appliedOffset(tx, consumer, topic, partition);
};

/** Every partition's applied position of a consumer: where it goes on reading. */
export const appliedOffsets = async (sql: Sql, consumer: string): Promise<Array<{ topic: string; partition: number; offset: bigint }>> =>
  (await sql<{ topic: string; partition: number; next_offset: string }[]>`SELECT topic, partition, next_offset FROM applied_offsets WHERE consumer = ${consumer}`).map((r) => ({
    topic: r.topic,
    partition: r.partition,
    offset: BigInt(r.next_offset),
  }));

export const storeAppliedOffset = async (tx: TransactionSql, consumer: string, topic: string, partition: number, next: bigint) => {
  await tx`
    INSERT INTO applied_offsets (consumer, topic, partition, next_offset)
    VALUES (${consumer}, ${topic}, ${partition}, ${next.toString()})
    ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = excluded.next_offset`;
};

/**
 * Of these request ids (ingest's heph-request-id), the ones already applied; the rest are recorded as
 * applied now, in the caller's transaction, so a record and its retry never both count.
 */
export const claimRequests = async (tx: TransactionSql, requestIds: string[], atMs: number): Promise<Set<string>> => {
  if (requestIds.length === 0) return new Set();
  const ids = [...new Set(requestIds)];
  const inserted = await tx<{ request_id: string }[]>`
    INSERT INTO applied_requests (request_id, applied_at)
    SELECT id, ${new Date(atMs)} FROM unnest(${ids.map(pgText)}::text[]) AS id
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id`;
  const claimed = new Set(inserted.map((r) => r.request_id));
  return new Set(ids.filter((id) => !claimed.has(pgText(id))));
};

/** Forgets request ids applied before `beforeMs` (a retry comes within minutes, not hours). */
export const pruneAppliedRequests = async (sql: Sql, beforeMs: number): Promise<number> => {
  const deleted = await sql`DELETE FROM applied_requests WHERE applied_at < ${new Date(beforeMs)}`;
  return deleted.count;
};

/** A stored sketch, or undefined when its bytes are not one (written by hand or by another tool). */
const readSketch = (bytes: Buffer): DDSketch | undefined => {
  try {
    return bytes.length > 0 ? DDSketch.fromProto(bytes) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Adds each delta to its stored bucket. A stored sketch that cannot be read does not stop the
 * pipeline (one bad row must not hold back every span behind it): the bucket keeps its counts, its
 * quantiles restart from the new spans, and the bucket is returned so the caller can say so.
 */
export const mergeRollups = async (tx: TransactionSql, resolutionSeconds: number, deltas: BucketDelta[]): Promise<Array<{ service: string; bucketStartMs: number }>> => {
  const unreadable: Array<{ service: string; bucketStartMs: number }> = [];
  for (const delta of deltas) {
    const start = new Date(delta.bucketStartMs);
    const service = pgText(delta.service);
    const [existing] = await tx<{ sketch: Buffer }[]>`
      SELECT sketch FROM rollups
      WHERE service = ${service} AND resolution_seconds = ${resolutionSeconds} AND bucket_start = ${start} FOR UPDATE`;
    const sketch = delta.sketch;
    if (existing) {
      const stored = readSketch(existing.sketch);
      if (stored) sketch.merge(stored);
      else if (existing.sketch.length > 0) unreadable.push({ service: delta.service, bucketStartMs: delta.bucketStartMs });
    }
    const q = quantilesMs(sketch);
    await tx`
      INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, p50_ms, p95_ms, p99_ms, control_url, error_trace_ids)
      VALUES (${service}, ${resolutionSeconds}, ${start}, ${delta.calls}, ${delta.errors}, ${Buffer.from(sketch.toProto())},
              ${q.p50}, ${q.p95}, ${q.p99}, ${delta.controlUrl === undefined ? null : pgText(delta.controlUrl)}, ${delta.errorTraceIds.map(pgText)})
      ON CONFLICT (service, resolution_seconds, bucket_start) DO UPDATE SET
        calls = rollups.calls + excluded.calls,
        errors = rollups.errors + excluded.errors,
        sketch = excluded.sketch,
        p50_ms = excluded.p50_ms, p95_ms = excluded.p95_ms, p99_ms = excluded.p99_ms,
        control_url = coalesce(excluded.control_url, rollups.control_url),
        error_trace_ids = (rollups.error_trace_ids || excluded.error_trace_ids)[1:${maxExemplars}]`;
  }
  return unreadable;
};

/** Buckets with start in [fromMs, toMs), per service, oldest first. */
export const readBuckets = async (sql: Sql, resolutionSeconds: number, fromMs: number, toMs: number, service?: string) => {
  const rows = await sql<{ service: string; bucket_start: Date; calls: string; errors: string; control_url: string | null; error_trace_ids: string[] }[]>`
    SELECT service, bucket_start, calls, errors, control_url, error_trace_ids FROM rollups
    WHERE resolution_seconds = ${resolutionSeconds}
      AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}
      ${service === undefined ? sql`` : sql`AND service = ${service}`}
    ORDER BY service, bucket_start`;
  const byService = new Map<string, StoredBucket[]>();
  for (const r of rows) {
    const list = byService.get(r.service) ?? [];
    list.push({ service: r.service, startMs: r.bucket_start.getTime(), calls: Number(r.calls), errors: Number(r.errors), controlUrl: r.control_url, errorTraceIds: r.error_trace_ids });
    byService.set(r.service, list);
  }
  return byService;
};

/** The resource attribute prefix of a limit a service reports for one of its gauges. */
export const limitAttributePrefix = 'heph.limit.';

/** `heph.limit.<signal>` resource attributes as limits: a positive finite number, or a string of one. */
export const limitsOf = (resource: Record<string, unknown>): Array<{ signal: string; limit: number }> => {
  const out: Array<{ signal: string; limit: number }> = [];
  for (const [key, value] of Object.entries(resource)) {
    if (!key.startsWith(limitAttributePrefix) || key.length === limitAttributePrefix.length) continue;
    const limit = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    if (Number.isFinite(limit) && limit > 0) out.push({ signal: key.slice(limitAttributePrefix.length), limit });
  }
  return out;
};

/**
 * The limits each service reported in this batch (`heph.limit.<signal>` resource attributes), the
 * newest per (service, signal): one upsert for the batch.
 */
export const recordServiceLimits = async (tx: TransactionSql, items: Array<{ service: string; timeMs: number; resource: Record<string, unknown> }>) => {
  const newest = new Map<string, { service: string; signal: string; limit: number; at: number }>();
  // The points of one resource share its attributes object: read each once.
  const read = new Map<Record<string, unknown>, ReturnType<typeof limitsOf>>();
  for (const item of items) {
    let limits = read.get(item.resource);
    if (!limits) read.set(item.resource, (limits = limitsOf(item.resource)));
    for (const { signal, limit } of limits) {
      const service = pgText(item.service);
      const key = JSON.stringify([service, signal]);
      const seen = newest.get(key);
      if (!seen || item.timeMs >= seen.at) newest.set(key, { service, signal: pgText(signal), limit, at: item.timeMs });
    }
  }
  if (newest.size === 0) return;
  const rows = [...newest.values()];
  await tx`
    INSERT INTO service_limits (service, signal, limit_value, reported_at)
    SELECT * FROM unnest(${rows.map((r) => r.service)}::text[], ${rows.map((r) => r.signal)}::text[],
                         ${rows.map((r) => r.limit)}::float8[], ${rows.map((r) => new Date(r.at).toISOString())}::timestamptz[])
    ON CONFLICT (service, signal) DO UPDATE SET limit_value = excluded.limit_value, reported_at = excluded.reported_at
    WHERE excluded.reported_at >= service_limits.reported_at`;
};

/**
 * The `service.version` each service reported in this batch: one upsert for the batch, so the healer
 * sees a deploy go live. Arrays bound through unnest: four parameters whatever the batch's size.
 */
export const recordServiceVersions = async (tx: TransactionSql, spans: Array<{ service: string; startTimeMs: number; resource: Record<string, unknown> }>) => {
  const seen = new Map<string, { service: string; version: string; first: number; last: number }>();
  for (const span of spans) {
    const reported = span.resource['service.version'];
    if (typeof reported !== 'string' || reported === '') continue;
    const service = pgText(span.service);
    const version = pgText(reported);
    const key = JSON.stringify([service, version]);
    const entry = seen.get(key) ?? { service, version, first: span.startTimeMs, last: span.startTimeMs };
    entry.first = Math.min(entry.first, span.startTimeMs);
    entry.last = Math.max(entry.last, span.startTimeMs);
    seen.set(key, entry);
  }
  if (seen.size === 0) return;
  const rows = [...seen.values()];
  await tx`
    INSERT INTO service_versions (service, version, first_seen, last_seen)
    SELECT * FROM unnest(${rows.map((r) => r.service)}::text[], ${rows.map((r) => r.version)}::text[],
                         ${rows.map((r) => new Date(r.first).toISOString())}::timestamptz[], ${rows.map((r) => new Date(r.last).toISOString())}::timestamptz[])
    ON CONFLICT (service, version) DO UPDATE SET
      first_seen = LEAST(service_versions.first_seen, excluded.first_seen),
      last_seen = GREATEST(service_versions.last_seen, excluded.last_seen)`;
};
