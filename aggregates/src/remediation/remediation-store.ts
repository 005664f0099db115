// The remediation stream and its `remediations` projection, written in one transaction: used by the
// healer and by the console's approve and reject routes; and the projection's reads, for both.
import { decideOnStream, readStream, type Sql, type TransactionSql } from '@hephaestus/platform';
import type { StoredEvent } from '@hephaestus/schemas';
import { remediationDecider, remediationStreamId, unfinishedStatuses, type Remediation, type RemediationCommand } from './remediation.ts';

const remediationStreamPrefix = remediationStreamId('');

export const decideRemediation = async (tx: TransactionSql, incidentId: string, command: RemediationCommand, at: Date): Promise<{ state: Remediation; events: StoredEvent[] }> => {
  const { state, events } = await decideOnStream(tx, remediationStreamId(incidentId), remediationDecider, command, { occurredAt: at, metadata: { correlationId: incidentId } });
  if (events.length > 0) await projectRemediation(tx, incidentId, state, at);
  return { state, events: events as StoredEvent[] };
};

/** The `remediations` row of a remediation in `state`, changed `at` (its first change started it). */
const projectRemediation = async (tx: TransactionSql, incidentId: string, state: Remediation, at: Date) => {
  if (state.status === 'none') return;
  const row =
    state.status === 'refused'
      ? { id: state.refused.remediationId, playbookId: state.refused.playbookId, service: state.refused.service }
      : { id: state.plan.remediationId, playbookId: state.plan.playbookId, service: state.plan.service };
  await tx`
    INSERT INTO remediations (id, incident_id, playbook_id, service, status, started_at, updated_at)
    VALUES (${row.id}, ${incidentId}, ${row.playbookId}, ${row.service}, ${state.status}, ${at}, ${at})
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`;
};

/**
 * Replays one remediation event onto the projection (`heph replay`): folds the stream's events so far,
 * as the decide that appended it did, and writes the row as it wrote it then.
 */
export const projectRemediationEvent = async (tx: TransactionSql, event: StoredEvent) => {
  const incidentId = event.streamId.slice(remediationStreamPrefix.length);
  const events = await readStream(tx, event.streamId);
  const upTo = events.filter((e) => e.version <= event.version);
  await projectRemediation(tx, incidentId, upTo.reduce(remediationDecider.evolve, remediationDecider.initialState()), new Date(event.occurredAt));
};

/** Decides one command on the remediation of `incidentId` (approve, reject…), projection included. */
export const handleRemediationCommand = (sql: Sql, incidentId: string, command: RemediationCommand, at = new Date()) =>
  sql.begin((tx) => decideRemediation(tx, incidentId, command, at));

/** The remediation of `incidentId` folded from its stream, with the events it was folded from. */
export const loadRemediation = async (sql: Sql, incidentId: string): Promise<{ state: Remediation; events: StoredEvent[] }> => {
  const events = await readStream(sql, remediationStreamId(incidentId));
  return { state: events.reduce(remediationDecider.evolve, remediationDecider.initialState()), events };
};

/** A remediation as the projection keeps it (times as ISO strings). */
export type RemediationRecord = { id: string; incidentId: string; playbookId: string; service: string; status: string; startedAt: string; updatedAt: string };

type RemediationRow = { id: string; incident_id: string; playbook_id: string; service: string; status: string; started_at: Date; updated_at: Date };

const toRemediationRecord = (r: RemediationRow): RemediationRecord => ({
  id: r.id,
  incidentId: r.incident_id,
  playbookId: r.playbook_id,
  service: r.service,
  status: r.status,
  startedAt: r.started_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export type RemediationFilter = { status?: string; service?: string; incidentId?: string; limit?: number };

/** Remediations that pass the filter, newest first. */
export const listRemediations = async (sql: Sql, filter: RemediationFilter = {}): Promise<RemediationRecord[]> => {
  const { status, service, incidentId, limit } = filter;
  const rows = await sql<RemediationRow[]>`
    SELECT * FROM remediations WHERE true
      ${status ? sql`AND status = ${status}` : sql``}
      ${service ? sql`AND service = ${service}` : sql``}
      ${incidentId ? sql`AND incident_id = ${incidentId}` : sql``}
    ORDER BY started_at DESC, id ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`;
  return rows.map(toRemediationRecord);
};

export const getRemediation = async (sql: Sql, remediationId: string): Promise<RemediationRecord | undefined> => {
  const [row] = await sql<RemediationRow[]>`SELECT * FROM remediations WHERE id = ${remediationId}`;
  return row && toRemediationRecord(row);
};

/** Remediations that may bear on the healer's guard: the unfinished ones and those changed since `sinceMs`. */
export const recentRemediations = async (sql: Sql | TransactionSql, sinceMs: number): Promise<RemediationRecord[]> =>
  (await sql<RemediationRow[]>`SELECT * FROM remediations WHERE updated_at >= ${new Date(sinceMs)} OR status IN ${sql(unfinishedStatuses)}`).map(toRemediationRecord);

/** Remediations in one of `statuses`, the longest started first. */
export const remediationsWithStatus = async (sql: Sql, statuses: string[]): Promise<RemediationRecord[]> =>
  (await sql<RemediationRow[]>`SELECT * FROM remediations WHERE status IN ${sql(statuses)} ORDER BY started_at`).map(toRemediationRecord);
