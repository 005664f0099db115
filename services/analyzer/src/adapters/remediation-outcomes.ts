// consume heph.events → a remediation's outcome → the incident command it calls for → append. The healer
// records only its own stream; the incident's side (mitigated, reopened) is decided here, idempotently:
// a replayed event finds its outcome already recorded on the incident.
import { hasEvent, startingPositions, type ConsumedRecord, type Log, type Logger, type Sql } from '@hephaestus/platform';
import { hephEvent, topics, type HephEvent } from '@hephaestus/schemas';
import pRetry from 'p-retry';
import { incidentCommandFor } from '../domain/remediation-outcome.ts';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { appliedOffsets, storeAppliedOffset } from './rollup-store.ts';

const parse = (record: ConsumedRecord): HephEvent | undefined => {
  try {
    const parsed = hephEvent.safeParse(JSON.parse(record.value.toString()));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/**
 * `exclusive`: only this analyzer follows the outcomes (it holds the analyzer lock); it goes on from the
 * position it stored after its last batch (or where the shared group was), at once, instead of waiting
 * for a dead analyzer's session.
 */
export const startRemediationOutcomes = async (options: { sql: Sql; log: Log; logger: Logger; consumerGroupPrefix: string; exclusive?: boolean }) => {
  const { sql, logger } = options;
  const groupId = `${options.consumerGroupPrefix}-analyzer-remediations`;
  const handle = async ({ topic, partition, records }: { topic: string; partition: number; records: ConsumedRecord[] }) => {
    for (const record of records) {
      const event = parse(record);
      const command = event && incidentCommandFor(event);
      if (!event || !command) continue;
      // Only outcomes this control plane recorded: a shared topic may carry another's events.
      if (!(await hasEvent(sql, event.id))) {
        logger.warn({ eventId: event.id, type: event.type }, 'remediation event not in this event store, ignored');
        continue;
      }
      // The incident policy may append to the incident at the same moment: try again on a conflict.
      const appended = await pRetry(() => handleIncidentCommand(sql, command), { retries: 5, minTimeout: 50, maxTimeout: 500 });
      if (appended.length === 0) continue;
      const message = command.type === 'MitigateIncident' ? `incident mitigated by remediation ${command.remediationId}: ${command.detail}` : `incident reopened: ${command.reason}`;
      logger.info({ incidentId: command.incidentId, remediationId: command.remediationId }, message);
    }
    // After the batch's effects: a crash in between redelivers it, and each outcome is recorded once.
    if (options.exclusive) await sql.begin((tx) => storeAppliedOffset(tx, groupId, topic, partition, records.at(-1)!.offset + 1n));
  };
  return options.log.subscribe({
    groupId,
    topics: [topics.events],
    handle,
    ...(options.exclusive ? { exclusive: { from: startingPositions(await appliedOffsets(sql, groupId), await options.log.committed(groupId, [topics.events])) } } : {}),
  });
};
