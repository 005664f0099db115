// The GitHub fixer the configuration asks for, or why there is none: a repository and credentials
// turn fix pull requests on; without them GitHub steps fail with that reason.
import type { Logger, Sql } from '@hephaestus/platform';
import { createGitHubClient, githubAuth, type GitHubConfig } from './client.ts';
import { createGitHubFixer, type GitHubFixer } from './fixer.ts';

export const githubFixerFromConfig = async (
  config: GitHubConfig,
  options: { sql: Sql; logger: Logger; consoleUrl?: string },
): Promise<{ fixer: GitHubFixer } | { reason: string }> => {
  if (!config.HEPH_GITHUB_REPOSITORY) return { reason: 'HEPH_GITHUB_REPOSITORY is not set' };
  const auth = githubAuth(config);
  if ('error' in auth) return { reason: auth.error };
  const github = await createGitHubClient({ baseUrl: config.HEPH_GITHUB_API_URL, auth, log: options.logger });
  const fixer = createGitHubFixer({
    sql: options.sql,
    github,
    repository: config.HEPH_GITHUB_REPOSITORY,
    log: options.logger,
    webhookSecret: config.HEPH_GITHUB_WEBHOOK_SECRET,
    reviewers: config.HEPH_GITHUB_REVIEWERS,
    autoMergeReverts: config.HEPH_GITHUB_AUTO_MERGE_REVERTS,
    pollSeconds: config.HEPH_GITHUB_POLL_SECONDS,
    consoleUrl: options.consoleUrl,
  });
  return { fixer };
};
