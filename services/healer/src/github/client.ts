// The GitHub client: octokit with retries and GitHub's recommended throttling, authenticated by a token
// or as a GitHub App installation, pointed at any API base URL (the stand-in in tests).
import { App } from '@octokit/app';
import { Octokit as OctokitCore } from '@octokit/core';
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { env, type Logger } from '@hephaestus/platform';
import { z } from 'zod';

/** The GitHub part of the control plane's configuration (merged into `heph up`'s schema). */
export const githubConfig = z.object({
  HEPH_GITHUB_API_URL: z.url().default('https://api.github.com'),
  HEPH_GITHUB_TOKEN: z.string().min(1).optional(),
  HEPH_GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
  HEPH_GITHUB_APP_PRIVATE_KEY: z.string().min(1).optional(),
  HEPH_GITHUB_INSTALLATION_ID: z.coerce.number().int().positive().optional(),
  /** `owner/name` of the repository fix pull requests are opened against. */
  HEPH_GITHUB_REPOSITORY: z
    .string()
    .regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name')
    .optional(),
  HEPH_GITHUB_WEBHOOK_SECRET: z.string().min(1).optional(),
  HEPH_GITHUB_REVIEWERS: env.list(),
  HEPH_GITHUB_AUTO_MERGE_REVERTS: env.bool(false),
  HEPH_GITHUB_POLL_SECONDS: env.seconds(30),
});
export type GitHubConfig = z.infer<typeof githubConfig>;

export const GitHubOctokit = OctokitCore.plugin(restEndpointMethods, retry, throttling);
export type GitHubClient = InstanceType<typeof GitHubOctokit>;

export type GitHubAuth =
  | { token: string }
  | { appId: number; privateKey: string; installationId: number };

/** The credentials the configuration names, or why there are none. Never logged. */
export const githubAuth = (config: GitHubConfig): GitHubAuth | { error: string } => {
  if (config.HEPH_GITHUB_TOKEN) return { token: config.HEPH_GITHUB_TOKEN };
  if (config.HEPH_GITHUB_APP_ID && config.HEPH_GITHUB_APP_PRIVATE_KEY && config.HEPH_GITHUB_INSTALLATION_ID) {
    // Private keys set in one environment line carry their line breaks as \n.
    return { appId: config.HEPH_GITHUB_APP_ID, privateKey: config.HEPH_GITHUB_APP_PRIVATE_KEY.replace(/\\n/g, '\n'), installationId: config.HEPH_GITHUB_INSTALLATION_ID };
  }
  return { error: 'set HEPH_GITHUB_TOKEN, or HEPH_GITHUB_APP_ID, HEPH_GITHUB_APP_PRIVATE_KEY and HEPH_GITHUB_INSTALLATION_ID' };
};

export type ClientOptions = {
  baseUrl: string;
  auth: GitHubAuth;
  log: Logger;
  retries?: number;
  /** plugin-throttling spaces writes a second apart, as GitHub asks; tests against the stand-in may turn it off. */
  throttle?: boolean;
};

const clientOptions = (options: ClientOptions) => ({
  baseUrl: options.baseUrl.replace(/\/$/, ''),
  userAgent: 'hephaestus-healer',
  request: { retries: options.retries ?? 3, retryAfter: 1 },
  throttle: {
    enabled: options.throttle ?? true,
    // GitHub's guidance: wait out the primary limit a couple of times, then give up and say so.
    onRateLimit: (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      options.log.warn({ method: request.method, url: request.url, retryAfter, retryCount }, 'github rate limit reached');
      return retryCount < 2;
    },
    onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string }) => {
      options.log.warn({ method: request.method, url: request.url, retryAfter }, 'github secondary rate limit reached');
      return false;
    },
  },
});

/** An octokit authenticated with a token, or as the App's installation (tokens are minted and renewed by @octokit/app). */
export const createGitHubClient = async (options: ClientOptions): Promise<GitHubClient> => {
  const defaults = clientOptions(options);
  if ('token' in options.auth) return new GitHubOctokit({ ...defaults, auth: options.auth.token });
  const app = new App({
    appId: options.auth.appId,
    privateKey: options.auth.privateKey,
    Octokit: GitHubOctokit.defaults(defaults),
  });
  return (await app.getInstallationOctokit(options.auth.installationId)) as unknown as GitHubClient;
};

/** `owner/name` split for octokit's parameters. */
export const repositoryOf = (fullName: string): { owner: string; repo: string } => {
  const [owner, repo] = fullName.split('/');
  if (!owner || !repo) throw new Error(`not an owner/name repository: ${fullName}`);
  return { owner, repo };
};
