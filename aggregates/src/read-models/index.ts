// Query modules over the analyzer's tables that other packages read: each table's reads live in one module.
export { readIncidentTraces, type ExemplarReason, type ExemplarSpan, type IncidentTrace } from './incident-traces.ts';
export { controlUrlOf, readServiceActivity, servicesSeenSince, type ServiceActivity } from './service-activity.ts';
export { readServiceLimits } from './service-limits.ts';
export { serviceVersionAt, versionFirstSeenSince, versionLastSeenSince } from './service-versions.ts';
export {
  finestFirst,
  isRequestSignal,
  readOperationLatencies,
  readSignal,
  readSignals,
  type OperationLatency,
  type SignalPoint,
  type SignalQuery,
  type SignalSeries,
} from './signals.ts';
export { readTopology, type TopologyEdge } from './topology.ts';
