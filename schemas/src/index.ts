export * from './topics.ts';
export * from './events.ts';
export * from './playbook.ts';
export * from './telemetry.ts';
export * from './otlp/codec.ts';
export * from './costs.ts';
export * from './matchers.ts';
export * from './silence.ts';
