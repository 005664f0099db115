// The Incident aggregate as a decider: pure decide/evolve over its event stream.
import type { EventDataOf, HephEvent, NewEvent, Severity, SignalName } from '@hephaestus/schemas';

export type Incident =
  | { status: 'none' }
  | { status: 'open' | 'resolved'; id: string; service: string; signal: SignalName; severity: Severity; openedAt: string };

export type IncidentCommand =
  | ({ type: 'OpenIncident'; at: string } & EventDataOf<'incident.opened'>)
  | ({ type: 'ResolveIncident'; at: string } & EventDataOf<'incident.resolved'>);

export const initialState = (): Incident => ({ status: 'none' });

export const decide = (command: IncidentCommand, state: Incident): NewEvent[] => {
  switch (command.type) {
    case 'OpenIncident': {
      if (state.status !== 'none') return [];
      const { type: _type, at: _at, ...data } = command;
      return [{ type: 'incident.opened', data }];
    }
    case 'ResolveIncident': {
      if (state.status !== 'open') return [];
      const { type: _type, at: _at, ...data } = command;
      return [{ type: 'incident.resolved', data }];
    }
  }
};

export const evolve = (state: Incident, event: Pick<HephEvent, 'type' | 'data' | 'occurredAt'>): Incident => {
  switch (event.type) {
    case 'incident.opened': {
      const data = event.data as EventDataOf<'incident.opened'>;
      return { status: 'open', id: data.incidentId, service: data.service, signal: data.signal, severity: data.severity, openedAt: event.occurredAt };
    }
    case 'incident.resolved':
      return state.status === 'none' ? state : { ...state, status: 'resolved' };
    default:
      return state;
  }
};

export const incidentStreamId = (incidentId: string) => `incident-${incidentId}`;

export const incidentDecider = { decide, evolve, initialState };
