// Query modules over the analyzer's tables that other packages read: each table's reads live in one module.
export { readIncidentTraces, type ExemplarReason, type ExemplarSpan, type IncidentTrace } from './incident-traces.ts';
export { readServiceLimits } from './service-limits.ts';
