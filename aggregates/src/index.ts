// The aggregates every service decides on (Incident, Remediation) with their stores and projections,
// the silences the console writes and the alert dispatcher reads, and the read models that own the
// queries of tables more than one service reads.
export * from './incident/index.ts';
export * from './remediation/index.ts';
export * from './silence/index.ts';
export * from './read-models/index.ts';
