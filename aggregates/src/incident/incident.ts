// The Incident aggregate as a decider: pure decide/evolve over its event stream. Its timeline is the
// stream: opened, signals attached, acknowledged, mitigated (a remediation validated), severity
// changes, root causes ranked, resolved and reopened when the fault recurs soon after.
import type { EventDataOf, EventFact, NewEvent, Severity, SignalName } from '@hephaestus/schemas';

type Candidates = EventDataOf<'incident.root_cause_ranked'>['candidates'];

export type Incident =
  | { status: 'none' }
  | {
      status: 'open' | 'resolved';
      id: string;
      service: string;
      signal: SignalName;
      severity: Severity;
      openedAt: string;
      resolvedAt?: string;
      acknowledgedBy?: string;
      mitigatedBy?: string;
      /** Remediations whose outcome the incident recorded (mitigated by it, or reopened when it failed): a replayed outcome changes nothing. */
      remediationOutcomes: Set<string>;
      /** `service/signal` of every signal attached, the opening one included. */
      signals: Set<string>;
      rootCauses: Candidates;
      /** The ranking the healer acts on was recorded (one interval of event time after opening). */
      settled: boolean;
    };

export type IncidentCommand =
  | ({ type: 'OpenIncident'; at: string } & EventDataOf<'incident.opened'>)
  | ({ type: 'AttachSignal'; at: string } & EventDataOf<'incident.signal_attached'>)
  | { type: 'AcknowledgeIncident'; at: string; incidentId: string; by: string }
  | { type: 'MitigateIncident'; at: string; incidentId: string; remediationId: string; detail: string }
  | ({ type: 'ResolveIncident'; at: string } & EventDataOf<'incident.resolved'>)
  | { type: 'ReopenIncident'; at: string; incidentId: string; reason: string; withinMs: number; remediationId?: string }
  | { type: 'ChangeSeverity'; at: string; incidentId: string; to: Severity; reason: string }
  | { type: 'RankRootCauses'; at: string; incidentId: string; candidates: Candidates; settled?: boolean };

export const initialState = (): Incident => ({ status: 'none' });

const signalKey = (service: string, signal: string) => `${service}/${signal}`;

const strip = <C extends { type: string; at: string }>(command: C): Omit<C, 'type' | 'at'> => {
  const { type: _type, at: _at, ...data } = command;
  return data;
};

export const decide = (command: IncidentCommand, state: Incident): NewEvent[] => {
  if (command.type === 'OpenIncident') return state.status === 'none' ? [{ type: 'incident.opened', data: strip(command) }] : [];
  if (state.status === 'none') return [];
  const incidentId = state.id;
  switch (command.type) {
    case 'AttachSignal':
      if (state.status !== 'open' || state.signals.has(signalKey(command.service, command.signal))) return [];
      return [{ type: 'incident.signal_attached', data: strip(command) }];
    case 'AcknowledgeIncident':
      return state.status === 'open' && !state.acknowledgedBy ? [{ type: 'incident.acknowledged', data: { incidentId, by: command.by } }] : [];
    case 'MitigateIncident':
      // Recorded even when the incident already resolved: it says what cured it.
      return !state.mitigatedBy && !state.remediationOutcomes.has(command.remediationId)
        ? [{ type: 'incident.mitigated', data: { incidentId, remediationId: command.remediationId, detail: command.detail } }]
        : [];
    case 'ResolveIncident':
      return state.status === 'open' ? [{ type: 'incident.resolved', data: strip(command) }] : [];
    case 'ReopenIncident': {
      if (state.status !== 'resolved' || !state.resolvedAt) return [];
      if (Date.parse(command.at) - Date.parse(state.resolvedAt) > command.withinMs) return [];
      if (command.remediationId !== undefined && state.remediationOutcomes.has(command.remediationId)) return [];
      return [{ type: 'incident.reopened', data: { incidentId, reason: command.reason, ...(command.remediationId ? { remediationId: command.remediationId } : {}) } }];
    }
    case 'ChangeSeverity':
      return state.status === 'open' && state.severity !== command.to
        ? [{ type: 'incident.severity_changed', data: { incidentId, from: state.severity, to: command.to, reason: command.reason } }]
        : [];
    case 'RankRootCauses': {
      const same = JSON.stringify(state.rootCauses) === JSON.stringify(command.candidates);
      const settles = command.settled === true && !state.settled;
      if (state.status !== 'open' || (same && !settles)) return [];
      return [{ type: 'incident.root_cause_ranked', data: { incidentId, candidates: command.candidates, ...(settles ? { settled: true } : {}) } }];
    }
  }
};

export const evolve = (state: Incident, event: EventFact): Incident => {
  if (event.type === 'incident.opened') {
    const d = event.data;
    return {
      status: 'open',
      id: d.incidentId,
      service: d.service,
      signal: d.signal,
      severity: d.severity,
      openedAt: event.occurredAt,
      signals: new Set([signalKey(d.service, d.signal)]),
      rootCauses: [],
      settled: false,
      remediationOutcomes: new Set(),
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'incident.signal_attached': {
      const d = event.data;
      return { ...state, signals: new Set([...state.signals, signalKey(d.service, d.signal)]) };
    }
    case 'incident.acknowledged':
      return { ...state, acknowledgedBy: event.data.by };
    case 'incident.mitigated': {
      const { remediationId } = event.data;
      return { ...state, mitigatedBy: remediationId, remediationOutcomes: new Set([...state.remediationOutcomes, remediationId]) };
    }
    case 'incident.resolved':
      return { ...state, status: 'resolved', resolvedAt: event.occurredAt };
    case 'incident.reopened': {
      const { remediationId } = event.data;
      const remediationOutcomes = remediationId ? new Set([...state.remediationOutcomes, remediationId]) : state.remediationOutcomes;
      return { ...state, status: 'open', resolvedAt: undefined, acknowledgedBy: undefined, mitigatedBy: undefined, remediationOutcomes };
    }
    case 'incident.severity_changed':
      return { ...state, severity: event.data.to };
    case 'incident.root_cause_ranked': {
      const d = event.data;
      return { ...state, rootCauses: d.candidates, settled: state.settled || d.settled === true };
    }
    default:
      return state;
  }
};

export const incidentStreamId = (incidentId: string) => `incident-${incidentId}`;

export const incidentDecider = { decide, evolve, initialState };
