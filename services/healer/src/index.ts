export * from './healer.ts';
export * from './config.ts';
export type { GitHubExecutor, GitHubContext, ActionResult } from './adapters/actions.ts';
export * from './github/index.ts';
export * from './main.ts';
