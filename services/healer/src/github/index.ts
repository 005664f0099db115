// The GitHub part of the healer: client, fixer, webhook endpoint, and the stand-in for tests and demos.
export { createGitHubClient, githubAuth, githubConfig, repositoryOf, type GitHubAuth, type GitHubClient, type GitHubConfig } from './client.ts';
export { createGitHubFixer, fixIdOf, type FixContext, type GitHubFixer, type GitHubFixerOptions, type UndoContext } from './fixer.ts';
export { webhookRequestListener } from './webhook-endpoint.ts';
export { createGitHubStandin, type GitHubStandin, type GitHubStandinOptions } from './standin.ts';
