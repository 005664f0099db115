// What a remediation's outcome means for its incident, decided here rather than by the healer: validated
// → mitigated (it says what cured the incident, also after it resolved); failed its verification →
// reopened when it resolved in the meantime, since the fault did not clear. A step that failed says
// nothing about the signal: the incident is left as it is. The incident decider takes each outcome once.
import type { HephEvent } from '@hephaestus/schemas';
import type { IncidentCommand } from '@hephaestus/aggregates';

/** A failed verification reopens an incident resolved up to this long before it. */
export const reopenAfterFailedVerificationMs = 24 * 3_600_000;

/** The incident command a remediation event calls for, at the event's own time; none for other events. */
export const incidentCommandFor = (event: HephEvent): Extract<IncidentCommand, { type: 'MitigateIncident' | 'ReopenIncident' }> | undefined => {
  switch (event.type) {
    case 'remediation.validated': {
      const { incidentId, remediationId, detail } = event.data;
      return { type: 'MitigateIncident', at: event.occurredAt, incidentId, remediationId, detail };
    }
    case 'remediation.failed': {
      const { incidentId, remediationId, reason, verificationFailed } = event.data;
      if (!verificationFailed) return undefined;
      return { type: 'ReopenIncident', at: event.occurredAt, incidentId, remediationId, reason: `remediation ${remediationId}: ${reason}`, withinMs: reopenAfterFailedVerificationMs };
    }
    default:
      return undefined;
  }
};
