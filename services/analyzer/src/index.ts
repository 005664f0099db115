export * from './analyzer.ts';
export * from './config.ts';
export { readBuckets, recordServiceVersions } from './adapters/rollup-store.ts';
export { storeIncidentTraces } from './adapters/incident-traces.ts';
export { loadObjectives } from './adapters/objectives-loader.ts';
export { loadSignalMeanings } from './adapters/signals-loader.ts';
export * from './main.ts';
