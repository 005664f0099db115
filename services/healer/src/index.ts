export * from './healer.ts';
export * from './config.ts';
export * from './adapters/playbook-loader.ts';
