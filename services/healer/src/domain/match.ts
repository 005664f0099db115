// Which playbook answers an incident: the first, in file order, whose service glob, signal, severity
// list, labels and error signature glob all match.
import { globMatches, type Playbook, type Severity, type SignalName } from '@hephaestus/schemas';

export type MatchedIncident = {
  service: string;
  signal: SignalName;
  severity?: Severity;
  /** The labels incident.opened carries (service, signal, severity, team / environment when known). */
  labels?: Record<string, string>;
  /** Error signatures seen on the incident's signals (Drain templates or error types). */
  signatures?: string[];
  /** The signal's value when the incident opened, and its usual value. */
  value?: number;
  baseline?: number;
};

const matches = (p: Playbook, incident: MatchedIncident): boolean => {
  const m = p.match;
  if (m.signal !== incident.signal || !globMatches(m.service, incident.service)) return false;
  if (m.severity && (!incident.severity || !m.severity.includes(incident.severity))) return false;
  if (m.labels && !Object.entries(m.labels).every(([k, v]) => incident.labels?.[k] === v)) return false;
  if (m.errorSignature !== undefined && !(incident.signatures ?? []).some((s) => globMatches(m.errorSignature!, s))) return false;
  if (m.direction !== undefined) {
    if (incident.value === undefined || incident.baseline === undefined) return false;
    if (m.direction === 'above' ? !(incident.value > incident.baseline) : !(incident.value < incident.baseline)) return false;
  }
  return true;
};

export const matchPlaybook = (playbooks: Playbook[], incident: MatchedIncident): Playbook | undefined => playbooks.find((p) => matches(p, incident));

/**
 * Whether a playbook that names an error signature could still match: the incident's signatures
 * arrive after incident.opened (the callers' first, the root cause's an interval later), so the
 * healer waits for one that matches before settling on a catch-all playbook.
 */
export const awaitsSignature = (playbooks: Playbook[], incident: MatchedIncident): boolean => {
  const candidates = playbooks.filter((p) => p.match.errorSignature !== undefined && matches({ ...p, match: { ...p.match, errorSignature: undefined } }, incident));
  return candidates.length > 0 && !candidates.some((p) => matches(p, incident));
};
