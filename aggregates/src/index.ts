// The aggregates every service decides on (Incident, Remediation) with their stores and projections,
// and the read models that own the queries of tables more than one service reads.
export * from './incident/index.ts';
export * from './remediation/index.ts';
export * from './read-models/index.ts';
