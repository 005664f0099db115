export * from './topics.ts';
export * from './events.ts';
