// The GitHub part of the healer: client, fixer, webhook endpoint. The stand-in (tests, demos) is
// `@hephaestus/healer/github-standin`, so production never loads GitHub's OpenAPI description.
export { createGitHubClient, githubAuth, githubConfig, repositoryOf, type GitHubAuth, type GitHubClient, type GitHubConfig } from './client.ts';
export { createGitHubFixer, fixIdOf, type FixContext, type GitHubFixer, type GitHubFixerOptions, type UndoContext } from './fixer.ts';
export { webhookRequestListener } from './webhook-endpoint.ts';
export { githubFixerFromConfig } from './from-config.ts';
