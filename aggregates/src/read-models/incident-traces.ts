// The incident_traces read model: an incident's exemplar traces as the analyzer stored them span by
// span (services/analyzer adapters/incident-traces.ts writes and prunes them), read by the console's
// waterfall. The one module that reads the table.
import type { Sql } from '@hephaestus/platform';

/** Why a trace is an incident's exemplar: it failed, it was among the slowest, or it is a normal one to compare with. */
export type ExemplarReason = 'failing' | 'slow' | 'normal';

/** An exemplar's span as stored and drawn: its place in the trace, timing, status and a few attributes. */
export type ExemplarSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  service: string;
  name: string;
  kind: string;
  startTimeMs: number;
  durationMs: number;
  status: string;
  statusMessage?: string;
  attributes: Record<string, string | number | boolean>;
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
