// The GitHub fix flow end to end: real PostgreSQL, the GitHub stand-in over real HTTP (every request,
// response and webhook checked against GitHub's published description), octokit pointed at it.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appendToStream, deterministicId, migrate, readStream, type Sql } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { recordServiceVersions } from '@hephaestus/analyzer';
import type { NewEvent, PlaybookStep } from '@hephaestus/schemas';
import { createGitHubClient } from './client.ts';
import { createGitHubFixer, fixIdOf, type FixContext, type GitHubFixerOptions } from './fixer.ts';
import { createGitHubStandin, type GitHubStandin } from './standin.ts';
import { webhookRequestListener } from './webhook-endpoint.ts';

const log = testLogger();
const secret = 'webhook-secret-for-tests';
const config = 'timeoutMs: 2000\nmodel: gpt-4o\n';
const traceId = '0af7651916cd43dd8448eb211c80319c';

let db: { url: string; drop: () => Promise<void> };
let sql: Sql;
const standins: GitHubStandin[] = [];
const servers: Server[] = [];
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  db = await freshDatabase();
  sql = postgres(db.url, { max: 4, onnotice: () => {} });
  await migrate(sql, log);
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  for (const s of standins.splice(0)) {
    await s.close();
    // The stand-in cannot drift from GitHub: nothing any test sent or received broke the description.
    expect(s.violations).toEqual([]);
  }
});
afterAll(async () => {
  await sql.end();
  await db.drop();
});

const eventually = async <T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000): Promise<T> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const openIncident = async (incidentId: string) => {
  const streamId = `incident-${incidentId}`;
  const events: NewEvent[] = [
    {
      type: 'incident.opened',
      data: { incidentId, service: 'planner', signal: 'error_rate', severity: 'critical', summary: 'planner error rate 42% over a 2% baseline', value: 0.42, baseline: 0.02, windowStart: '2026-01-01T10:00:00.000Z', traceIds: [traceId] },
    },
    { type: 'incident.signal_attached', data: { incidentId, service: 'researcher', signal: 'latency_p99', summary: 'researcher p99 latency 2100 ms', value: 2100, onsetAt: '2026-01-01T10:00:10.000Z' } },
    { type: 'incident.root_cause_ranked', data: { incidentId, candidates: [{ service: 'planner', confidence: 0.8, evidence: ['timeouts calling the model provider'] }] } },
  ];
  await sql.begin((tx) => appendToStream(tx, streamId, 0, events.map((e, i) => ({ ...e, id: deterministicId(streamId, i + 1), occurredAt: new Date('2026-01-01T10:00:20.000Z') }))));
};

/** The stand-in, a webhook endpoint on loopback that hands deliveries to the fixer, and the fixer. */
const setup = async (overrides: Partial<GitHubFixerOptions> & { webhooks?: boolean; throttle?: boolean; collaborators?: string[] } = {}) => {
  const standin = await createGitHubStandin({ owner: 'acme', repo: 'agents', files: { 'config/planner.yaml': config, 'README.md': '# agents\n' }, collaborators: overrides.collaborators });
  standins.push(standin);
  const github = await createGitHubClient({ baseUrl: standin.url, auth: { token: 'test-token' }, log, retries: 0, throttle: overrides.throttle ?? false });
  const fixer = createGitHubFixer({ sql, github, repository: standin.repository, log, webhookSecret: secret, reviewers: ['alice'], pollSeconds: 3600, deployPollMs: 50, consoleUrl: 'http://127.0.0.1:8080', ...overrides });
  stops.push(fixer.stop);
  if (overrides.webhooks !== false) {
    const server = createServer(webhookRequestListener(fixer));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    standin.setWebhook({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/github/webhooks`, secret });
  }
  return { standin, fixer, github };
};

const fixStep = (timeoutSeconds = 20): PlaybookStep => ({
  name: 'raise the planner timeout',
  action: 'github.fix_pr',
  params: { path: 'config/planner.yaml', find: 'timeoutMs: 2000', replace: 'timeoutMs: 8000', title: 'Raise the planner timeout to 8 s' },
  timeoutSeconds,
  retries: 0,
});
const contextFor = (key: string, incidentId: string): FixContext => ({ idempotencyKey: key, remediationId: `rem-${incidentId}`, incidentId, service: 'planner', serviceVersion: '1.4.0' });
const eventTypes = async (key: string) => (await readStream(sql, `fix-${fixIdOf(key)}`)).map((e) => e.type);
const deploy = (service: string, version: string) =>
  sql.begin((tx) => recordServiceVersions(tx, [{ service, startTimeMs: Date.now(), resource: { 'service.name': service, 'service.version': version } }]));

describe('github fixer', () => {
  it('opens a fix pull request that tells the story, follows signed webhooks to a human merge and waits for the deploy', async () => {
    // With GitHub's write throttling on, as in production: writes a second apart.
    const { standin, fixer } = await setup({ throttle: true });
    await openIncident('inc-e2e');
    const running = fixer.run(fixStep(), contextFor('rem-inc-e2e:0', 'inc-e2e'));

    const opened = await eventually(() => (standin.pullRequests()[0]?.reviewers.length ? standin.pullRequests()[0] : undefined), 'the pull request');
    const fixId = fixIdOf('rem-inc-e2e:0');
    expect(opened).toMatchObject({ title: 'Raise the planner timeout to 8 s', head: `heph/fix-${fixId}`, base: 'main', state: 'open', labels: ['auto-fix', 'severity:critical'], reviewers: ['alice'] });
    expect(standin.fileAt(`heph/fix-${fixId}`, 'config/planner.yaml')).toBe('timeoutMs: 8000\nmodel: gpt-4o\n');
    expect(standin.fileAt(`heph/fix-${fixId}`, 'README.md')).toBe('# agents\n');
    expect(standin.fileAt('main', 'config/planner.yaml')).toBe(config);
    for (const part of ['planner error rate 42% over a 2% baseline', '| error_rate | planner | 0.420 | 0.0200 |', '| latency_p99 | researcher | 2100 |', '`planner`, confidence 80 %: timeouts calling the model provider', `\`${traceId}\``, 'http://127.0.0.1:8080/#/incidents/inc-e2e', 'root cause ranked: planner', 'timeoutMs: 8000']) {
      expect(opened.body).toContain(part);
    }

    const head = standin.headOf(`heph/fix-${fixId}`)!;
    await standin.completeCheck(head, 'success', { name: 'test' });
    await eventually(async () => (await eventTypes('rem-inc-e2e:0')).includes('fix.checks_passed'), 'checks passed through the webhook');
    expect(standin.deliveries.filter((d) => d.event === 'check_suite').map((d) => d.status)).toEqual([202]);

    const mergeSha = await standin.mergeAsHuman(opened.number, 'octo-reviewer');
    await eventually(async () => (await eventTypes('rem-inc-e2e:0')).includes('fix.merged'), 'the merge');
    await deploy('planner', '1.4.1');

    expect(await running).toEqual({ ok: true, detail: `pull request #${opened.number} merged as ${mergeSha.slice(0, 7)}; planner 1.4.1 is live` });
    const events = await readStream(sql, `fix-${fixId}`);
    expect(events.map((e) => e.type)).toEqual(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed']);
    expect(events[2]!.data).toMatchObject({ number: opened.number, mergeSha, by: 'octo-reviewer' });
    expect(events[0]!.metadata).toEqual({ correlationId: 'inc-e2e', causationId: 'rem-inc-e2e' });
    expect(await fixer.validated(contextFor('rem-inc-e2e:0', 'inc-e2e'), 'error rate back under 2% for 120 s')).toEqual({ ok: true, detail: `fix ${fixId} validated` });
    expect((await eventTypes('rem-inc-e2e:0')).at(-1)).toBe('fix.validated');
  });

  it('closes the pull request with a comment naming the failed check and fails the step', async () => {
    const { standin, fixer } = await setup();
    await openIncident('inc-red');
    const running = fixer.run(fixStep(), contextFor('rem-inc-red:0', 'inc-red'));
    const pr = await eventually(() => standin.pullRequests()[0], 'the pull request');
    await eventually(async () => (await eventTypes('rem-inc-red:0')).includes('fix.pr_opened'), 'the opened event');
    await standin.completeCheck(standin.headOf(pr.head)!, 'failure', { name: 'integration', summary: '3 tests failed: planner times out at 8000 ms' });

    const result = await running;
    expect(result).toEqual({ ok: false, error: `pull request #${pr.number} closed: checks failed: check 'integration' concluded failure (integration failed: 3 tests failed: planner times out at 8000 ms)` });
    expect(standin.pull(pr.number)).toMatchObject({ state: 'closed', merged: false });
    expect(standin.comments(pr.number)[0]).toContain("check 'integration' concluded failure");
    expect(await eventTypes('rem-inc-red:0')).toEqual(['fix.pr_opened', 'fix.checks_failed', 'fix.closed']);
  });

  it('follows checks by polling when no webhook is delivered', async () => {
    const { standin, fixer } = await setup({ webhooks: false, webhookSecret: undefined, pollSeconds: 0.1 });
    await openIncident('inc-poll');
    const running = fixer.run(fixStep(), contextFor('rem-inc-poll:0', 'inc-poll'));
    const pr = await eventually(() => standin.pullRequests()[0], 'the pull request');
    await standin.setStatus(standin.headOf(pr.head)!, 'success', 'ci/build', 'build passed');
    await eventually(async () => (await eventTypes('rem-inc-poll:0')).includes('fix.checks_passed'), 'checks passed through polling');
    await standin.mergeAsHuman(pr.number);
    await eventually(async () => (await eventTypes('rem-inc-poll:0')).includes('fix.merged'), 'the merge through polling');
    await deploy('planner', '1.4.2');
    expect(await running).toMatchObject({ ok: true });
    expect(standin.deliveries).toEqual([]);
    const passed = (await readStream(sql, `fix-${fixIdOf('rem-inc-poll:0')}`)).find((e) => e.type === 'fix.checks_passed')!;
    expect(passed.data).toMatchObject({ detail: 'ci/build: success' });
  });

  it('judges the checks of the newest head after someone pushes to the fix branch', async () => {
    const { standin, fixer } = await setup();
    await openIncident('inc-push');
    const running = fixer.run(fixStep(), contextFor('rem-inc-push:0', 'inc-push'));
    const pr = await eventually(() => standin.pullRequests()[0], 'the pull request');
    await eventually(async () => (await eventTypes('rem-inc-push:0')).includes('fix.pr_opened'), 'the opened event');
    const first = standin.headOf(pr.head)!;
    const checkReads = () => standin.requests.filter((r) => r.operation === 'checks/list-for-ref').length;
    await eventually(() => checkReads() >= 1, 'the first look at the checks');
    const pushed = standin.commitFiles(pr.head, { 'config/planner.yaml': 'timeoutMs: 6000\nmodel: gpt-4o\n' }, 'Make it 6 s');
    await eventually(() => checkReads() >= 2, 'a look at the checks after the synchronize webhook');
    // Green checks on the replaced head do not count.
    await standin.completeCheck(first, 'success');
    await eventually(() => checkReads() >= 3, 'a look at the checks after the check_suite webhook');
    expect(await eventTypes('rem-inc-push:0')).toEqual(['fix.pr_opened']);
    await standin.completeCheck(pushed, 'success');
    await eventually(async () => (await eventTypes('rem-inc-push:0')).includes('fix.checks_passed'), 'checks of the pushed head');
    const passed = (await readStream(sql, `fix-${fixIdOf('rem-inc-push:0')}`))[1]!;
    expect(passed.data).toMatchObject({ headSha: pushed });
    expect(standin.deliveries.map((d) => `${d.event}.${d.action}`)).toContain('pull_request.synchronize');
    await fixer.stop();
    expect(await running).toEqual({ ok: false, error: 'the healer is stopping' });
  });

  it('refuses a webhook with a bad or missing signature and accepts one signed with the secret', async () => {
    const { fixer } = await setup({ webhooks: false });
    const body = JSON.stringify({ action: 'completed', check_suite: { head_sha: 'a'.repeat(40), pull_requests: [] } });
    const headers = (signature?: string) => ({ 'x-github-event': 'check_suite', 'x-github-delivery': 'd-1', ...(signature ? { 'x-hub-signature-256': signature } : {}) });
    expect(await fixer.handleWebhook({ headers: headers(`sha256=${createHmac('sha256', 'wrong-secret').update(body).digest('hex')}`), body })).toEqual({ status: 401, message: 'signature does not match' });
    expect((await fixer.handleWebhook({ headers: headers(), body })).status).toBe(400);
    const tampered = body.replace('completed', 'requested');
    expect((await fixer.handleWebhook({ headers: headers(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`), body: tampered })).status).toBe(401);
    expect(await fixer.handleWebhook({ headers: headers(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`), body })).toEqual({ status: 202, message: 'accepted' });
  });

  it('answers a correctly signed but malformed payload on the plain node:http endpoint with 400, and keeps serving', async () => {
    const { fixer } = await setup({ webhooks: false });
    const server = createServer(webhookRequestListener(fixer));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/github/webhooks`;
    const deliver = (event: string, body: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': 'd-2', 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` },
        body,
      });
    for (const [event, body] of [
      ['check_run', 'null'],
      ['check_run', '"x"'],
      ['pull_request', '{"action":"closed","pull_request":{}}'],
      ['check_run', '{"action":"completed","check_run":{"pull_requests":[null]}}'],
      ['check_suite', '{"action":"completed","check_suite":{"pull_requests":5}}'],
    ] as const) {
      const answer = await deliver(event, body);
      expect(answer.status, body).toBe(400);
      expect(await answer.text()).toMatch(/^payload not understood/);
    }
    const good = await deliver('check_run', '{"action":"completed","check_run":{"head_sha":"abc","pull_requests":[{"number":1}]}}');
    expect(good.status).toBe(202);
  });

  it('opens one pull request for one idempotency key, even when a restarted healer runs the step again', async () => {
    const first = await setup();
    await openIncident('inc-crash');
    const context = contextFor('rem-inc-crash:0', 'inc-crash');
    // The first healer gives up (as if killed) while the checks run.
    expect(await first.fixer.run(fixStep(0.5), context)).toMatchObject({ ok: false, error: expect.stringContaining('checks still running') });
    await first.fixer.stop();
    const restarted = createGitHubFixer({ sql, github: first.github, repository: first.standin.repository, log, webhookSecret: secret, pollSeconds: 0.1, deployPollMs: 50 });
    stops.push(restarted.stop);
    const running = restarted.run(fixStep(), context);
    const [pr] = first.standin.pullRequests();
    await first.standin.completeCheck(first.standin.headOf(pr!.head)!, 'success');
    await eventually(async () => (await eventTypes('rem-inc-crash:0')).includes('fix.checks_passed'), 'checks passed');
    await first.standin.mergeAsHuman(pr!.number);
    await eventually(async () => (await eventTypes('rem-inc-crash:0')).includes('fix.merged'), 'the merge');
    await deploy('planner', '1.4.3');
    expect(await running).toMatchObject({ ok: true });
    // A third run after success changes nothing and opens nothing.
    expect(await restarted.run(fixStep(), context)).toMatchObject({ ok: true });
    expect(first.standin.pullRequests()).toHaveLength(1);
    expect(first.standin.requests.filter((r) => r.operation === 'pulls/create')).toHaveLength(1);
    expect(first.standin.requests.filter((r) => r.operation === 'git/create-ref')).toHaveLength(1);
    expect(await eventTypes('rem-inc-crash:0')).toEqual(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed']);
  });

  it('reverts the commit tagged with a bad service.version, merges the revert when policy allows, and waits for the deploy', async () => {
    const { standin, fixer } = await setup({ autoMergeReverts: true });
    await openIncident('inc-bad-deploy');
    const bad = standin.commitFiles('main', { 'config/planner.yaml': 'timeoutMs: 200\nmodel: gpt-4o\n', 'config/flags.yaml': 'streaming: true\n' }, 'Lower the planner timeout and stream');
    standin.tag('planner@1.5.0', bad);
    standin.commitFiles('main', { 'README.md': '# agents\n\nLater work.\n' }, 'Docs');
    const context = { ...contextFor('rem-inc-bad-deploy:0', 'inc-bad-deploy'), serviceVersion: '1.5.0' };
    const running = fixer.run({ name: 'revert the bad deploy', action: 'github.revert', params: {}, timeoutSeconds: 20, retries: 0 }, context);
    const pr = await eventually(() => standin.pullRequests()[0], 'the revert pull request');
    expect(pr.title).toBe('Revert "Lower the planner timeout and stream"');
    expect(pr.body).toContain(`Reverts \`${bad}\``);
    expect(standin.fileAt(pr.head, 'config/planner.yaml')).toBe(config);
    expect(standin.fileAt(pr.head, 'config/flags.yaml')).toBeUndefined();
    expect(standin.fileAt(pr.head, 'README.md')).toBe('# agents\n\nLater work.\n');
    expect(standin.commit(standin.headOf(pr.head)!)!.message).toBe(`Revert "Lower the planner timeout and stream"\n\nThis reverts commit ${bad}.`);
    await eventually(async () => (await eventTypes('rem-inc-bad-deploy:0')).includes('fix.pr_opened'), 'the opened event');
    await standin.completeCheck(standin.headOf(pr.head)!, 'success');
    await eventually(() => standin.pull(pr.number).merged, 'the healer merging the revert');
    await deploy('planner', '1.5.1');
    expect(await running).toMatchObject({ ok: true, detail: expect.stringContaining('planner 1.5.1 is live') });
    expect(standin.fileAt('main', 'config/planner.yaml')).toBe(config);
    const events = await readStream(sql, `fix-${fixIdOf('rem-inc-bad-deploy:0')}`);
    expect(events.map((e) => e.type)).toEqual(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed']);
    expect(events[0]!.data).toMatchObject({ kind: 'revert', reverts: '1.5.0' });
    expect(events[2]!.data).toMatchObject({ by: 'hephaestus' });
  });

  it('counts a revert as deployed when the version it brings back, seen before, reports again after the merge', async () => {
    const { standin, fixer } = await setup({ autoMergeReverts: true });
    await openIncident('inc-back');
    await deploy('reviewer', '2.0.0');
    const bad = standin.commitFiles('main', { 'config/reviewer.yaml': 'model: broken\n' }, 'Ship reviewer 2.1.0');
    standin.tag('reviewer@2.1.0', bad);
    await deploy('reviewer', '2.1.0');
    const running = fixer.run({ name: 'revert', action: 'github.revert', params: {}, timeoutSeconds: 20, retries: 0 }, { ...contextFor('rem-inc-back:0', 'inc-back'), service: 'reviewer', serviceVersion: '2.1.0' });
    const pr = await eventually(() => standin.pullRequests()[0], 'the revert pull request');
    await eventually(async () => (await eventTypes('rem-inc-back:0')).includes('fix.pr_opened'), 'the opened event');
    await standin.completeCheck(standin.headOf(pr.head)!, 'success');
    await eventually(() => standin.pull(pr.number).merged, 'the healer merging the revert');
    // Still the bad version for a moment after the merge: not deployed yet.
    await deploy('reviewer', '2.1.0');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await eventTypes('rem-inc-back:0')).not.toContain('fix.deployed');
    await deploy('reviewer', '2.0.0');
    expect(await running).toMatchObject({ ok: true, detail: expect.stringContaining('reviewer 2.0.0 is live') });
  });

  it('fails a revert clearly when no tag names the bad version', async () => {
    const { fixer, standin } = await setup();
    const result = await fixer.run({ name: 'revert', action: 'github.revert', params: { version: '9.9.9' }, timeoutSeconds: 5, retries: 0 }, contextFor('rem-inc-none:0', 'inc-none'));
    expect(result).toEqual({ ok: false, error: 'no tag planner@9.9.9 or v9.9.9 in acme/agents: cannot tell which commit shipped it' });
    expect(standin.pullRequests()).toEqual([]);
  });

  it('keeps the pull request open when GitHub refuses a reviewer who is not a collaborator', async () => {
    const { standin, fixer } = await setup({ collaborators: ['bob'] });
    await openIncident('inc-reviewer');
    const running = fixer.run(fixStep(1), contextFor('rem-inc-reviewer:0', 'inc-reviewer'));
    expect(await running).toMatchObject({ ok: false, error: expect.stringContaining('checks still running') });
    expect(standin.pullRequests()).toMatchObject([{ state: 'open', labels: ['auto-fix', 'severity:critical'], reviewers: [] }]);
    expect(await eventTypes('rem-inc-reviewer:0')).toEqual(['fix.pr_opened']);
  });

  it('fails a fix clearly when the text to replace is absent', async () => {
    const { fixer, standin } = await setup();
    const step = { ...fixStep(), params: { path: 'config/planner.yaml', find: 'timeoutMs: 9999', replace: 'timeoutMs: 1' } };
    expect(await fixer.run(step, contextFor('rem-inc-absent:0', 'inc-absent'))).toEqual({ ok: false, error: 'config/planner.yaml does not contain the text to replace ("timeoutMs: 9999")' });
    expect(standin.pullRequests()).toEqual([]);
  });

  it('undoes a merged fix with a revert pull request, merged by the healer when policy allows', async () => {
    const { standin, fixer } = await setup({ autoMergeReverts: true, pollSeconds: 0.1 });
    await openIncident('inc-undo');
    const context = contextFor('rem-inc-undo:0', 'inc-undo');
    const running = fixer.run(fixStep(), context);
    const fix = await eventually(() => standin.pullRequests()[0], 'the fix pull request');
    await standin.completeCheck(standin.headOf(fix.head)!, 'success');
    await eventually(async () => (await eventTypes('rem-inc-undo:0')).includes('fix.checks_passed'), 'checks passed');
    await standin.mergeAsHuman(fix.number);
    await deploy('planner', '1.4.4');
    expect(await running).toMatchObject({ ok: true });
    expect(standin.fileAt('main', 'config/planner.yaml')).toBe('timeoutMs: 8000\nmodel: gpt-4o\n');

    const undoing = fixer.undo({ idempotencyKey: context.idempotencyKey, remediationId: context.remediationId, incidentId: context.incidentId, service: 'planner' });
    const revert = await eventually(() => standin.pullRequests().find((p) => p.head.startsWith('heph/undo-') && p.labels.length > 0), 'the revert pull request');
    expect(revert.title).toBe('Revert "Raise the planner timeout to 8 s"');
    expect(revert.labels).toEqual(['auto-fix']);
    expect(revert.body).toContain('Paths restored to their state before that commit: `config/planner.yaml`.');
    await standin.completeCheck(standin.headOf(revert.head)!, 'success');
    const result = await undoing;
    expect(result).toMatchObject({ ok: true, detail: expect.stringContaining(`revert pull request #${revert.number} merged as`) });
    expect(standin.fileAt('main', 'config/planner.yaml')).toBe(config);
    const events = await readStream(sql, `fix-${fixIdOf(context.idempotencyKey)}`);
    expect(events.map((e) => e.type)).toEqual(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed', 'fix.validation_failed', 'fix.revert_opened', 'fix.reverted']);
    expect(events[5]!.data).toMatchObject({ number: revert.number, revertsNumber: fix.number, autoMerge: true });
  });

  it('leaves the revert pull request of an undo to a human when policy does not allow merging it', async () => {
    const { standin, fixer } = await setup({ autoMergeReverts: false, pollSeconds: 0.1, undoTimeoutSeconds: 1 });
    await openIncident('inc-undo-human');
    const context = contextFor('rem-inc-undo-human:0', 'inc-undo-human');
    const running = fixer.run(fixStep(), context);
    const fix = await eventually(() => standin.pullRequests()[0], 'the fix pull request');
    await standin.completeCheck(standin.headOf(fix.head)!, 'success');
    await eventually(async () => (await eventTypes(context.idempotencyKey)).includes('fix.checks_passed'), 'checks passed');
    await standin.mergeAsHuman(fix.number);
    await deploy('planner', '1.4.5');
    await running;
    const undoing = fixer.undo(context);
    const revert = await eventually(() => standin.pullRequests().find((p) => p.head.startsWith('heph/undo-')), 'the revert pull request');
    await standin.completeCheck(standin.headOf(revert.head)!, 'success');
    expect(await undoing).toEqual({ ok: false, error: `revert pull request #${revert.number} awaits a human merge` });
    expect(standin.pull(revert.number)).toMatchObject({ state: 'open', merged: false });
    expect((await readStream(sql, `fix-${fixIdOf(context.idempotencyKey)}`)).at(-1)!.data).toMatchObject({ autoMerge: false });
  });
});

describe('github stand-in', () => {
  it("answers a request that breaks GitHub's description with 500 and records the violation", async () => {
    const standin = await createGitHubStandin({ owner: 'acme', repo: 'agents', files: { 'README.md': '# agents\n' } });
    try {
      const response = await fetch(`${standin.url}/repos/acme/agents/git/refs`, {
        method: 'POST',
        headers: { authorization: 'token test', 'content-type': 'application/json' },
        body: JSON.stringify({ ref: 42 }),
      });
      expect(response.status).toBe(500);
      const body = (await response.json()) as { errors: string[] };
      expect(body.errors).toEqual(expect.arrayContaining(['request body/ref must be string {"type":"string"}', "request body must have required property 'sha' {\"missingProperty\":\"sha\"}"]));
      expect(standin.violations).toEqual([{ direction: 'request', operation: 'git/create-ref', errors: body.errors }]);
      const unknown = await fetch(`${standin.url}/repos/acme/agents/pulls?colour=blue`, { headers: { authorization: 'token test' } });
      expect(unknown.status).toBe(500);
      expect(standin.violations[1]!.errors).toEqual(['request query parameter colour is not part of pulls/list']);
    } finally {
      await standin.close();
    }
  });
});
