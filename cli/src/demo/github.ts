// The demo's GitHub: the healer's GitHub stand-in (every call checked against GitHub's OpenAPI
// description) holding a repository whose history shipped the bad deploy, plus the CI and CD a real
// repository would have: checks pass on every pull request head, and a merged revert is deployed by
// rolling the agent back to the version the repository names again.
import { randomBytes } from 'node:crypto';
import { createGitHubStandin } from '@hephaestus/healer/github-standin';
import { badVersion, stableVersion } from './simulation.ts';

export type DemoGitHub = {
  /** The control plane's GitHub settings (HEPH_GITHUB_*), pointing at the stand-in. */
  env: Record<string, string>;
  /** Where the stand-in delivers its signed webhooks: the console's /github/webhooks once it listens. */
  deliverTo(consoleUrl: string): void;
  close(): Promise<void>;
};

const manifest = (service: string, version: string) => `service: ${service}\nversion: ${version}\n`;
const versionIn = (text: string | undefined) => text?.match(/^version: (.+)$/m)?.[1];

export const startDemoGitHub = async (options: {
  /** The agents a bad deploy may hit: each gets a release commit of the bad version, tagged `<service>@<version>`. */
  services: string[];
  /** Deploys `version` of `service` (the demo agent's rollback). */
  deploy: (service: string, version: string) => Promise<void>;
  say: (line: string) => void;
}): Promise<DemoGitHub> => {
  const path = (service: string) => `deploy/${service}.yaml`;
  const github = await createGitHubStandin({
    owner: 'acme',
    repo: 'agents',
    files: { 'README.md': '# agents\n', ...Object.fromEntries(options.services.map((s) => [path(s), manifest(s, stableVersion)])) },
  });
  for (const service of options.services) {
    const sha = github.commitFiles(github.defaultBranch, { [path(service)]: manifest(service, badVersion) }, `Release ${service} ${badVersion}`);
    github.tag(`${service}@${badVersion}`, sha);
  }
  const secret = randomBytes(16).toString('hex');
  const checked = new Set<string>();
  const deployed = new Set<number>();
  let stopped = false;
  // CI and CD, once a second: green checks on new heads; a merged pull request deploys what the default branch now names.
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const pr of github.pullRequests()) {
        const head = github.headOf(pr.head);
        if (pr.state === 'open' && head && !checked.has(head)) {
          checked.add(head);
          options.say(`github: CI passed on pull request #${pr.number} "${pr.title}"`);
          await github.completeCheck(head, 'success', { name: 'demo CI', summary: 'all tests passed' });
        }
        if (pr.merged && !deployed.has(pr.number)) {
          deployed.add(pr.number);
          for (const service of options.services) {
            const version = versionIn(github.fileAt(github.defaultBranch, path(service)));
            if (version === stableVersion) {
              options.say(`github: pull request #${pr.number} merged; deploying ${service} ${version}`);
              await options.deploy(service, version).catch((error: unknown) => options.say(`github: deploy of ${service} failed: ${String(error)}`));
            }
          }
        }
      }
    }
  })();
  return {
    env: {
      HEPH_GITHUB_API_URL: github.url,
      HEPH_GITHUB_TOKEN: 'demo-token',
      HEPH_GITHUB_REPOSITORY: github.repository,
      HEPH_GITHUB_WEBHOOK_SECRET: secret,
      HEPH_GITHUB_AUTO_MERGE_REVERTS: 'true',
      HEPH_GITHUB_POLL_SECONDS: '5',
    },
    deliverTo: (consoleUrl) => github.setWebhook({ url: `${consoleUrl}/github/webhooks`, secret }),
    close: async () => {
      stopped = true;
      await loop;
      await github.close();
    },
  };
};
