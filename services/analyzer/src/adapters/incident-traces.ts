// The incident_traces table: an incident's exemplar traces, stored span by span when a signal opens or
// joins it, deleted past their retention. Reads are the read model's (@hephaestus/aggregates read-models/incident-traces.ts).
import { chunksOf, pgText, type Sql } from '@hephaestus/platform';
import { exemplarSpans, type Exemplar } from '../domain/correlation/exemplars.ts';

/** Traces kept per incident, whatever joins it later. */
export const maxTracesPerIncident = 8;

/** Stores the exemplars the incident does not hold yet, up to its bound. Idempotent: a replay stores nothing twice. */
export const storeIncidentTraces = async (sql: Sql, incidentId: string, exemplars: readonly Exemplar[], storedAtMs: number): Promise<number> => {
  if (exemplars.length === 0) return 0;
  return sql.begin(async (tx) => {
    // One writer at a time per incident, so two passes cannot both fill the last places.
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`incident_traces:${incidentId}`}))`;
    const held = new Set((await tx<{ trace_id: string }[]>`SELECT DISTINCT trace_id FROM incident_traces WHERE incident_id = ${incidentId}`).map((r) => r.trace_id));
    const fresh = exemplars.filter((e) => !held.has(e.traceId)).slice(0, Math.max(0, maxTracesPerIncident - held.size));
    const rows = fresh.flatMap((e) =>
      exemplarSpans(e.spans).map((s) => ({
        incident_id: incidentId,
        trace_id: s.traceId,
        span_id: s.spanId,
        parent_span_id: s.parentSpanId ?? null,
        reason: e.reason,
        service: pgText(s.service),
        name: pgText(s.name),
        kind: s.kind,
        start_time_ms: s.startTimeMs,
        duration_ms: s.durationMs,
        status: s.status,
        status_message: s.statusMessage === undefined ? null : pgText(s.statusMessage),
        attributes: tx.json(Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => [pgText(k), typeof v === 'string' ? pgText(v) : v]))),
        stored_at: new Date(storedAtMs),
      })),
    );
    for (const chunk of chunksOf(rows, 14)) await tx`INSERT INTO incident_traces ${tx(chunk)} ON CONFLICT DO NOTHING`;
    return fresh.length;
  });
};

/** Deletes exemplar traces stored before `beforeMs`. */
export const pruneIncidentTraces = async (sql: Sql, beforeMs: number): Promise<void> => {
  await sql`DELETE FROM incident_traces WHERE stored_at < ${new Date(beforeMs)}`;
};
