// What the healer reads of the analyzer's tables: the signal to verify with, a service's control URL,
// the fleet seen lately, an incident's evidence, and the recent remediations for the guard.
import { recentRemediations } from '@hephaestus/aggregates';
import { readStream, type Sql, type TransactionSql } from '@hephaestus/platform';
import { foldEvidence, type IncidentEvidence } from '../domain/evidence.ts';
import type { RecentRemediation } from '../domain/guard.ts';
import type { VerifyPoint } from '../domain/verify.ts';

/**
 * Closed intervals of one service's signal in [fromMs, toMs): `error_rate` and `latency_p99` from the
 * rollups (count = calls), any other name from the analyzer's series: the service-wide row, or the
 * sum over operations where there is none (count = samples).
 */
export const readSignal = async (sql: Sql, resolutionSeconds: number, service: string, signal: string, fromMs: number, toMs: number): Promise<VerifyPoint[]> => {
  if (signal === 'error_rate' || signal === 'latency_p99') {
    const rows = await sql<{ bucket_start: Date; calls: string; errors: string; p99_ms: number | null }[]>`
      SELECT bucket_start, calls, errors, p99_ms FROM rollups
      WHERE service = ${service} AND resolution_seconds = ${resolutionSeconds}
        AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}
      ORDER BY bucket_start`;
    return rows.map((r) => {
      const calls = Number(r.calls);
      const value = signal === 'error_rate' ? (calls > 0 ? Number(r.errors) / calls : 0) : (r.p99_ms ?? 0);
      return { startMs: r.bucket_start.getTime(), value, count: signal === 'latency_p99' && r.p99_ms === null ? 0 : calls };
    });
  }
  // The analyzer writes LLM series per model and service-wide (operation ''): the service-wide row when
  // there is one (summing both counted every call twice), else the sum over the operations there are.
  const rows = await sql<{ bucket_start: Date; aggregation: string; sum: number; count: number }[]>`
    SELECT bucket_start, min(aggregation) AS aggregation, sum(sum) AS sum, sum(count) AS count FROM series s
    WHERE service = ${service} AND signal = ${signal} AND resolution_seconds = ${resolutionSeconds}
      AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}
      AND (operation = '' OR NOT EXISTS (
        SELECT 1 FROM series w WHERE w.service = s.service AND w.signal = s.signal AND w.resolution_seconds = s.resolution_seconds
          AND w.bucket_start = s.bucket_start AND w.operation = ''))
    GROUP BY bucket_start ORDER BY bucket_start`;
  return rows.map((r) => ({
    startMs: r.bucket_start.getTime(),
    value: r.aggregation === 'sum' ? Number(r.sum) : Number(r.count) > 0 ? Number(r.sum) / Number(r.count) : 0,
    count: Number(r.count),
  }));
};

/** The newest control URL a service exported (heph.control.url), if any. */
export const controlUrlOf = async (sql: Sql, service: string): Promise<string | undefined> => {
  const [row] = await sql<{ control_url: string }[]>`
    SELECT control_url FROM rollups WHERE service = ${service} AND control_url IS NOT NULL ORDER BY bucket_start DESC LIMIT 1`;
  return row?.control_url;
};

/** Services that sent telemetry in the last 10 minutes: the fleet the blast radius is a share of. */
export const fleetServices = async (sql: Sql | TransactionSql, nowMs: number): Promise<string[]> => {
  const rows = await sql<{ service: string }[]>`SELECT DISTINCT service FROM rollups WHERE bucket_start >= ${new Date(nowMs - 600_000)}`;
  return rows.map((r) => r.service);
};

/** Remediations that may bear on the guard: unfinished ones and those touched since `sinceMs`. */
export const guardRemediations = async (sql: Sql | TransactionSql, sinceMs: number): Promise<RecentRemediation[]> =>
  (await recentRemediations(sql, sinceMs)).map((r) => ({ id: r.id, playbookId: r.playbookId, service: r.service, status: r.status, startedAtMs: Date.parse(r.startedAt), updatedAtMs: Date.parse(r.updatedAt) }));

/**
 * The incident's evidence (signals per service with their side, value, baseline and signature; severity;
 * ranking) folded from its stream up to `throughVersion`: the settled ranking's version, so that what
 * the healer decides on does not depend on how far behind it reads.
 */
export const incidentFacts = async (sql: Sql, incidentId: string, throughVersion = Number.POSITIVE_INFINITY): Promise<IncidentEvidence | undefined> =>
  foldEvidence((await readStream(sql, `incident-${incidentId}`)).filter((e) => e.version <= throughVersion));

/** The service.version of a service live at `atMs`: the newest first seen by then (for github.revert). */
export const serviceVersionAt = async (sql: Sql, service: string, atMs: number): Promise<string | undefined> => {
  const [row] = await sql<{ version: string }[]>`
    SELECT version FROM service_versions WHERE service = ${service} AND first_seen <= ${new Date(atMs)} ORDER BY first_seen DESC LIMIT 1`;
  return row?.version;
};
