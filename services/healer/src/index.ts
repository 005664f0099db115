export * from './healer.ts';
export * from './config.ts';
export * from './adapters/playbook-loader.ts';
export * from './adapters/remediation-store.ts';
export type { GitHubExecutor, GitHubContext, ActionResult } from './adapters/actions.ts';
export { unfinishedStatuses, type Remediation, type RemediationStatus, type StepRecord, type ActiveRemediation } from './domain/remediation.ts';
export * from './github/index.ts';
export * from './main.ts';
