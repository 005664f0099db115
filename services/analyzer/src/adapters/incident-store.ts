// Runs an Incident command: reads the stream, decides, appends the events and updates the incidents
// projection in one transaction. Event ids derive from the stream and version, so a retry is a no-op.
import { appendToStream, deterministicId, readStream, type Sql, type TransactionSql } from '@hephaestus/platform';
import type { EventDataOf, StoredEvent } from '@hephaestus/schemas';
import { incidentDecider, incidentStreamId, type IncidentCommand } from '../domain/incident.ts';

export type OpenIncidentRow = { id: string; service: string; signal: string; baseline: number; windowStart: Date; openedAt: Date };

export const openIncidents = async (sql: Sql): Promise<OpenIncidentRow[]> =>
  (
    await sql<{ id: string; service: string; signal: string; baseline: number; window_start: Date; opened_at: Date }[]>`
      SELECT id, service, signal, baseline, window_start, opened_at FROM incidents WHERE status = 'open'`
  ).map((r) => ({ id: r.id, service: r.service, signal: r.signal, baseline: r.baseline, windowStart: r.window_start, openedAt: r.opened_at }));

const project = async (tx: TransactionSql, event: StoredEvent) => {
  if (event.type === 'incident.opened') {
    const d = event.data as EventDataOf<'incident.opened'>;
    await tx`
      INSERT INTO incidents (id, service, signal, status, severity, summary, opened_at, control_url, baseline, window_start, version)
      VALUES (${d.incidentId}, ${d.service}, ${d.signal}, 'open', ${d.severity}, ${d.summary}, ${event.occurredAt},
              ${d.controlUrl ?? null}, ${d.baseline}, ${d.windowStart}, ${event.version})
      ON CONFLICT (id) DO NOTHING`;
  } else if (event.type === 'incident.resolved') {
    await tx`UPDATE incidents SET status = 'resolved', resolved_at = ${event.occurredAt}, version = ${event.version} WHERE id = ${(event.data as { incidentId: string }).incidentId}`;
  }
};

export const handleIncidentCommand = async (sql: Sql, command: IncidentCommand): Promise<StoredEvent[]> =>
  sql.begin(async (tx) => {
    const streamId = incidentStreamId(command.incidentId);
    const past = await readStream(tx, streamId);
    const state = past.reduce(incidentDecider.evolve, incidentDecider.initialState());
    const decided = incidentDecider.decide(command, state);
    const result = await appendToStream(
      tx,
      streamId,
      past.length,
      decided.map((e, i) => ({ ...e, id: deterministicId(streamId, past.length + i + 1), occurredAt: new Date(command.at) })),
    );
    if (!result.ok) throw new Error(`incident ${command.incidentId}: concurrent change (${result.error.code})`);
    for (const event of result.events) await project(tx, event);
    return result.events;
  });
