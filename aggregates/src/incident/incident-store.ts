// Runs an Incident command: reads the stream, decides, appends the events and updates the incidents
// projection in one transaction. Event ids derive from the stream and version, so a retry is a no-op.
import { decideOnStream, type Sql, type TransactionSql } from '@hephaestus/platform';
import type { EventDataOf, StoredEvent } from '@hephaestus/schemas';
import { incidentDecider, incidentStreamId, type IncidentCommand } from './incident.ts';

export type OpenIncidentRow = { id: string; service: string; signal: string; baseline: number; windowStart: Date; openedAt: Date };

export const openIncidents = async (sql: Sql): Promise<OpenIncidentRow[]> =>
  (
    await sql<{ id: string; service: string; signal: string; baseline: number; window_start: Date; opened_at: Date }[]>`
      SELECT id, service, signal, baseline, window_start, opened_at FROM incidents WHERE status = 'open'`
  ).map((r) => ({ id: r.id, service: r.service, signal: r.signal, baseline: r.baseline, windowStart: r.window_start, openedAt: r.opened_at }));

/** An incident as the projection keeps it (times as ISO strings), for the console and its Alertmanager API. */
export type IncidentRecord = {
  id: string;
  service: string;
  signal: string;
  status: string;
  severity: string;
  summary: string;
  labels: Record<string, string>;
  openedAt: string;
  resolvedAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  mitigatedAt: string | null;
};

type IncidentRow = {
  id: string;
  service: string;
  signal: string;
  status: string;
  severity: string;
  summary: string;
  labels: Record<string, string>;
  opened_at: Date;
  resolved_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  mitigated_at: Date | null;
};

const toIncidentRecord = (r: IncidentRow): IncidentRecord => ({
  id: r.id,
  service: r.service,
  signal: r.signal,
  status: r.status,
  severity: r.severity,
  summary: r.summary,
  labels: r.labels,
  openedAt: r.opened_at.toISOString(),
  resolvedAt: r.resolved_at?.toISOString() ?? null,
  acknowledgedAt: r.acknowledged_at?.toISOString() ?? null,
  acknowledgedBy: r.acknowledged_by,
  mitigatedAt: r.mitigated_at?.toISOString() ?? null,
});

export type IncidentFilter = {
  status?: 'open' | 'resolved';
  service?: string;
  severity?: string;
  /** Words anywhere in the summary, service, signal or id, case-insensitively. */
  q?: string;
  limit?: number;
};

/** Incidents that pass the filter, newest first. */
export const listIncidents = async (sql: Sql, filter: IncidentFilter = {}): Promise<IncidentRecord[]> => {
  const { status, service, severity, q, limit } = filter;
  const like = q ? `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : '';
  const rows = await sql<IncidentRow[]>`
    SELECT * FROM incidents WHERE true
      ${status ? sql`AND status = ${status}` : sql``}
      ${service ? sql`AND service = ${service}` : sql``}
      ${severity ? sql`AND severity = ${severity}` : sql``}
      ${q ? sql`AND (summary ILIKE ${like} OR service ILIKE ${like} OR signal ILIKE ${like} OR id ILIKE ${like})` : sql``}
    ORDER BY opened_at DESC ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`;
  return rows.map(toIncidentRecord);
};

export const getIncident = async (sql: Sql, incidentId: string): Promise<IncidentRecord | undefined> => {
  const [row] = await sql<IncidentRow[]>`SELECT * FROM incidents WHERE id = ${incidentId}`;
  return row && toIncidentRecord(row);
};

/** The incidents projection, updated in the transaction that appends the events; `heph replay` runs it over the store. */
export const projectIncidentEvent = async (tx: TransactionSql, event: StoredEvent) => {
  const id = (event.data as { incidentId: string }).incidentId;
  switch (event.type) {
    case 'incident.opened': {
      const d = event.data as EventDataOf<'incident.opened'>;
      const labels = d.labels ?? { alertname: d.signal, service: d.service, signal: d.signal, severity: d.severity };
      await tx`
        INSERT INTO incidents (id, service, signal, status, severity, summary, opened_at, control_url, baseline, window_start, labels, version)
        VALUES (${d.incidentId}, ${d.service}, ${d.signal}, 'open', ${d.severity}, ${d.summary}, ${event.occurredAt},
                ${d.controlUrl ?? null}, ${d.baseline}, ${d.windowStart}, ${tx.json(labels)}, ${event.version})
        ON CONFLICT (id) DO NOTHING`;
      return;
    }
    case 'incident.resolved':
      await tx`UPDATE incidents SET status = 'resolved', resolved_at = ${event.occurredAt}, version = ${event.version} WHERE id = ${id}`;
      return;
    case 'incident.reopened':
      await tx`UPDATE incidents SET status = 'open', resolved_at = NULL, acknowledged_at = NULL, acknowledged_by = NULL, mitigated_at = NULL, version = ${event.version} WHERE id = ${id}`;
      return;
    case 'incident.acknowledged':
      await tx`UPDATE incidents SET acknowledged_at = ${event.occurredAt}, acknowledged_by = ${(event.data as { by: string }).by}, version = ${event.version} WHERE id = ${id}`;
      return;
    case 'incident.mitigated':
      await tx`UPDATE incidents SET mitigated_at = ${event.occurredAt}, version = ${event.version} WHERE id = ${id}`;
      return;
    case 'incident.severity_changed': {
      const to = (event.data as EventDataOf<'incident.severity_changed'>).to;
      await tx`UPDATE incidents SET severity = ${to}, labels = labels || ${tx.json({ severity: to })}, version = ${event.version} WHERE id = ${id}`;
      return;
    }
    default:
      await tx`UPDATE incidents SET version = ${event.version} WHERE id = ${id}`;
  }
};

/** The latest incident of this service and signal resolved within the window, to reopen instead of opening anew. */
export const recentlyResolved = async (sql: Sql, service: string, signal: string, sinceMs: number): Promise<string | undefined> => {
  const [row] = await sql<{ id: string }[]>`
    SELECT id FROM incidents WHERE service = ${service} AND signal = ${signal} AND status = 'resolved' AND resolved_at >= ${new Date(sinceMs)}
    ORDER BY resolved_at DESC LIMIT 1`;
  return row?.id;
};

/** Runs one command against the incident's stream and updates the projection in the same transaction. */
export const handleIncidentCommand = async (sql: Sql, command: IncidentCommand): Promise<StoredEvent[]> =>
  sql.begin(async (tx) => {
    const { events } = await decideOnStream(tx, incidentStreamId(command.incidentId), incidentDecider, command, { occurredAt: new Date(command.at) });
    for (const event of events) await projectIncidentEvent(tx, event);
    return events;
  });
