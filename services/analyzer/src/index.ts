export * from './analyzer.ts';
export * from './config.ts';
export { readBuckets, recordServiceVersions } from './adapters/rollup-store.ts';
export { loadCosts } from './adapters/costs-loader.ts';
export { handleIncidentCommand } from './adapters/incident-store.ts';
export { readIncidentTraces, storeIncidentTraces, type IncidentTrace } from './adapters/incident-traces.ts';
export { loadObjectives } from './adapters/objectives-loader.ts';
export { loadSignalMeanings } from './adapters/signals-loader.ts';
