export * from './topics.ts';
export * from './events.ts';
export * from './playbook.ts';
