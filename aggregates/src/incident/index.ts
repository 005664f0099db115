// The Incident aggregate: its decider, and the command handler that appends its events and keeps the
// `incidents` projection in the same transaction.
export { incidentDecider, incidentStreamId, type Incident, type IncidentCommand } from './incident.ts';
export {
  getIncident,
  handleIncidentCommand,
  listIncidents,
  openIncidents,
  projectIncidentEvent,
  type IncidentFilter,
  type IncidentRecord,
  type OpenIncidentRow,
} from './incident-store.ts';
