export * from './ingest.ts';
export * from './config.ts';
