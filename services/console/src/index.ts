export * from './console.ts';
export * from './config.ts';
