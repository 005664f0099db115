export * from './ingest.ts';
export * from './config.ts';
export * from './main.ts';
