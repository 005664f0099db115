// The Incident aggregate: its decider, and the command handler that appends its events and keeps the
// `incidents` projection in the same transaction.
export { incidentDecider, incidentStreamId, type Incident, type IncidentCommand } from './incident.ts';
export { handleIncidentCommand, openIncidents, projectIncidentEvent, type OpenIncidentRow } from './incident-store.ts';
