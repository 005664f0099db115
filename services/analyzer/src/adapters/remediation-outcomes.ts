// consume heph.events → a remediation's outcome → the incident command it calls for → append. The healer
// records only its own stream; the incident's side (mitigated, reopened) is decided here, idempotently:
// a replayed event finds its outcome already recorded on the incident.
import { hasEvent, type ConsumedRecord, type Log, type Logger, type Sql } from '@hephaestus/platform';
import { hephEvent, topics, type HephEvent } from '@hephaestus/schemas';
import pRetry from 'p-retry';
import { incidentCommandFor } from '../domain/remediation-outcome.ts';
import { handleIncidentCommand } from '@hephaestus/aggregates';

const parse = (record: ConsumedRecord): HephEvent | undefined => {
  try {
    const parsed = hephEvent.safeParse(JSON.parse(record.value.toString()));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

export const startRemediationOutcomes = (options: { sql: Sql; log: Log; logger: Logger; consumerGroupPrefix: string }) => {
  const { sql, logger } = options;
  const handle = async ({ records }: { records: ConsumedRecord[] }) => {
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
  };
  return options.log.subscribe({ groupId: `${options.consumerGroupPrefix}-analyzer-remediations`, topics: [topics.events], handle });
};
