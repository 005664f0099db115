// The incident_traces table: an incident's exemplar traces, stored span by span when a signal opens or
// joins it, read by the console's waterfall, deleted past their retention. The one module that touches it.
import { chunksOf, pgText, type Sql } from '@hephaestus/platform';
import { exemplarSpans, type Exemplar, type ExemplarReason, type ExemplarSpan } from '../domain/correlation/exemplars.ts';

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

export type IncidentTrace = { traceId: string; reason: ExemplarReason; startTimeMs: number; durationMs: number; spans: ExemplarSpan[] };

/** An incident's exemplar traces, each with its spans in start order, failing ones first, then the slowest. */
export const readIncidentTraces = async (sql: Sql, incidentId: string): Promise<IncidentTrace[]> => {
  const rows = await sql<
    { trace_id: string; span_id: string; parent_span_id: string | null; reason: ExemplarReason; service: string; name: string; kind: string; start_time_ms: number; duration_ms: number; status: string; status_message: string | null; attributes: ExemplarSpan['attributes'] }[]
  >`SELECT trace_id, span_id, parent_span_id, reason, service, name, kind, start_time_ms, duration_ms, status, status_message, attributes
    FROM incident_traces WHERE incident_id = ${incidentId} ORDER BY trace_id, start_time_ms, span_id`;
  const traces = new Map<string, IncidentTrace>();
  for (const r of rows) {
    const trace = traces.get(r.trace_id) ?? { traceId: r.trace_id, reason: r.reason, startTimeMs: r.start_time_ms, durationMs: 0, spans: [] };
    traces.set(r.trace_id, trace);
    trace.spans.push({
      traceId: r.trace_id,
      spanId: r.span_id,
      ...(r.parent_span_id ? { parentSpanId: r.parent_span_id } : {}),
      service: r.service,
      name: r.name,
      kind: r.kind,
      startTimeMs: r.start_time_ms,
      durationMs: r.duration_ms,
      status: r.status,
      ...(r.status_message ? { statusMessage: r.status_message } : {}),
      attributes: r.attributes,
    });
  }
  for (const trace of traces.values()) {
    trace.startTimeMs = Math.min(...trace.spans.map((s) => s.startTimeMs));
    trace.durationMs = Math.max(...trace.spans.map((s) => s.startTimeMs + s.durationMs)) - trace.startTimeMs;
  }
  const order: Record<ExemplarReason, number> = { failing: 0, slow: 1, normal: 2 };
  return [...traces.values()].sort((a, b) => order[a.reason] - order[b.reason] || b.durationMs - a.durationMs);
};

/** Deletes exemplar traces stored before `beforeMs`. */
export const pruneIncidentTraces = async (sql: Sql, beforeMs: number): Promise<void> => {
  await sql`DELETE FROM incident_traces WHERE stored_at < ${new Date(beforeMs)}`;
};
