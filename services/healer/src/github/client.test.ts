// The GitHub client against the stand-in: token and GitHub App installation authentication, and the
// configuration fragment's defaults.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '@hephaestus/platform/testing';
import { createGitHubClient, githubAuth, githubConfig } from './client.ts';
import { createGitHubStandin, type GitHubStandin } from './standin.ts';

const log = testLogger();
let standin: GitHubStandin;

beforeAll(async () => {
  standin = await createGitHubStandin({ owner: 'acme', repo: 'agents', files: { 'README.md': '# agents\n' } });
});
afterAll(async () => {
  await standin.close();
  expect(standin.violations).toEqual([]);
});

describe('github client', () => {
  it('authenticates with a token against a configurable base URL', async () => {
    const github = await createGitHubClient({ baseUrl: standin.url, auth: { token: 'ghp_test' }, log, throttle: false });
    const { data } = await github.rest.repos.get({ owner: 'acme', repo: 'agents' });
    expect(data).toMatchObject({ full_name: 'acme/agents', default_branch: 'main' });
    expect(standin.requests.at(-1)).toMatchObject({ operation: 'repos/get', authorization: 'token ghp_test' });
  });

  it('authenticates as a GitHub App installation: a signed JWT buys an installation token', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const github = await createGitHubClient({ baseUrl: standin.url, auth: { appId: 42, privateKey, installationId: 7 }, log, throttle: false });
    await github.rest.repos.get({ owner: 'acme', repo: 'agents' });
    const minted = standin.requests.find((r) => r.operation === 'apps/create-installation-access-token');
    expect(minted?.authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(standin.requests.at(-1)).toMatchObject({ operation: 'repos/get', authorization: expect.stringMatching(/^token ghs_standin\d+$/) });
  });

  it('reads its configuration from the environment, a token before an App, with safe defaults', () => {
    const config = githubConfig.parse({ HEPH_GITHUB_REPOSITORY: 'acme/agents', HEPH_GITHUB_TOKEN: 't', HEPH_GITHUB_APP_ID: '1', HEPH_GITHUB_REVIEWERS: 'alice, bob' });
    expect(config).toMatchObject({ HEPH_GITHUB_API_URL: 'https://api.github.com', HEPH_GITHUB_REVIEWERS: ['alice', 'bob'], HEPH_GITHUB_AUTO_MERGE_REVERTS: false, HEPH_GITHUB_POLL_SECONDS: 30 });
    expect(githubAuth(config)).toEqual({ token: 't' });
    expect(githubAuth(githubConfig.parse({ HEPH_GITHUB_APP_ID: '1', HEPH_GITHUB_APP_PRIVATE_KEY: 'line1\\nline2', HEPH_GITHUB_INSTALLATION_ID: '9' }))).toEqual({ appId: 1, privateKey: 'line1\nline2', installationId: 9 });
    expect(githubAuth(githubConfig.parse({}))).toHaveProperty('error');
    expect(() => githubConfig.parse({ HEPH_GITHUB_REPOSITORY: 'not a repo' })).toThrow(/owner\/name/);
  });
});
