// The remediation stream and its `remediations` projection, written in one transaction: used by the
// healer and by the console's approve and reject routes.
import { decideOnStream, readStream, type Sql, type TransactionSql } from '@hephaestus/platform';
import type { StoredEvent } from '@hephaestus/schemas';
import { remediationDecider, remediationStreamId, type Remediation, type RemediationCommand } from './remediation.ts';

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
