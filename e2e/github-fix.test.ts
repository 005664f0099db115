// Fix pull requests end to end, in the control plane as `heph up` runs it on Kafka and PostgreSQL, against
// the GitHub stand-in (every request and response checked against GitHub's OpenAPI description) whose
// signed webhooks arrive at the console's /github/webhooks: a fix merged, deployed (its service.version
// seen in spans through ingest) and validated; failed checks closing the pull request and paging; a fix
// that fails validation reverted by a revert pull request the healer merges, and a page.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { createGitHubStandin, type GitHubStandin } from '@hephaestus/healer/github-standin';
import { loadConfig, type Sql } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { startControlPlane, upConfig, type ControlPlane } from '../cli/src/control-plane.ts';
import { eventually, startWebhookReceiver, testPlaneEnv } from './support.ts';

const playbook = `
id: raise-timeout
description: raise the agent's LLM timeout through a pull request
target: incident
match: { service: "fix-*", signal: error_rate }
guard: { concurrency: 3 }
steps:
  - name: raise the timeout
    action: github.fix_pr
    params: { path: "config/{{incident.service}}.yaml", find: "timeoutMs: 2000", replace: "timeoutMs: 8000", title: Raise the LLM timeout to 8 s }
    timeoutSeconds: 120
    retries: 0
verify: { signal: error_rate, windowSeconds: 4, max: 0.05 }
onFailure: escalate
`;

describe('GitHub fix pull requests end to end', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  let plane: ControlPlane;
  let sql: Sql;
  let github: GitHubStandin;
  let pager: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const run = randomBytes(3).toString('hex');
  const secret = randomBytes(16).toString('hex');

  beforeAll(async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const dir = await mkdtemp(join(tmpdir(), 'heph-github-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'raise-timeout.yaml'), playbook);
    pager = await startWebhookReceiver();
    cleanups.push(pager.close);
    // One configuration file per agent, so each scenario's merge leaves the others' files alone.
    const files = Object.fromEntries(['ok', 'red', 'bad'].map((s) => [`config/fix-${s}${run}.yaml`, 'model: gpt-4o\ntimeoutMs: 2000\n']));
    github = await createGitHubStandin({ owner: 'acme', repo: 'agents', files: { ...files, 'README.md': '# agents\n' } });
    cleanups.push(() => github.close());
    const config = loadConfig(upConfig, {
      ...testPlaneEnv(db.url, dir, `github-${run}`),
      HEPH_ALERT_WEBHOOK_URL: pager.url,
      HEPH_GITHUB_API_URL: github.url,
      HEPH_GITHUB_TOKEN: 'ghs_standin',
      HEPH_GITHUB_REPOSITORY: github.repository,
      HEPH_GITHUB_WEBHOOK_SECRET: secret,
      HEPH_GITHUB_AUTO_MERGE_REVERTS: 'true',
      // Webhooks carry the story; polling is the slow fallback, so a lost delivery would show as a timeout.
      HEPH_GITHUB_POLL_SECONDS: '30',
    });
    // A new group would first read every earlier test's telemetry still in Kafka.
    plane = await startControlPlane(config, testLogger());
    cleanups.push(() => plane.stop());
    sql = plane.runtime.db.sql;
    github.setWebhook({ url: `${plane.consoleUrl}/github/webhooks`, secret });
  }, 60_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const api = async (path: string) => (await (await fetch(`${plane.consoleUrl}${path}`)).json()) as any;
  /** Rollups for a service from two minutes ago to three minutes ahead, at this error rate: what verification reads. */
  const traffic = async (service: string, errorRate: number) => {
    const nowMs = Date.now();
    for (let t = Math.floor(nowMs / 2000) * 2000 - 120_000; t < nowMs + 180_000; t += 2000) {
      await sql`
        INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch)
        VALUES (${service}, 2, ${new Date(t)}, 100, ${Math.round(errorRate * 100)}, ${Buffer.alloc(0)})`;
    }
  };
  const openIncident = async (service: string) => {
    const incidentId = randomUUID();
    await handleIncidentCommand(sql, {
      type: 'OpenIncident', at: new Date().toISOString(), incidentId, service, signal: 'error_rate', severity: 'critical',
      summary: `error rate 40 % on ${service} (LLM calls time out after 2 s)`, value: 0.4, baseline: 0.01, windowStart: new Date(Date.now() - 10_000).toISOString(),
      traceIds: ['5b8efff798038103d269b633813fc60c'],
    });
    // The analyzer never judged this hand-opened incident: its settled ranking, which the healer acts on, is recorded here.
    await handleIncidentCommand(sql, { type: 'RankRootCauses', at: new Date().toISOString(), incidentId, candidates: [{ service, confidence: 0.9, evidence: ['the only affected service'] }], settled: true });
    return incidentId;
  };
  /** The new version goes live: a span carrying it, through ingest and the analyzer, as an agent would send it. */
  const deploy = async (service: string, version: string) => {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }, { key: 'service.version', value: { stringValue: version } }] },
        scopeSpans: [{ spans: [{ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name: 'handle', kind: 2, startTimeUnixNano: String(nowNs), endTimeUnixNano: String(nowNs + 5_000_000n), status: {} }] }],
      }],
    };
    const response = await fetch(`${plane.ingestUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    await eventually(`${service} ${version} to be seen`, async () => {
      const [row] = await sql`SELECT first_seen FROM service_versions WHERE service = ${service} AND version = ${version}`;
      return row;
    }, 60_000);
  };
  const pullFor = (incidentId: string, title: string) =>
    eventually(`a pull request "${title}" for ${incidentId}`, () => github.pullRequests().find((p) => p.title === title && p.body.includes(incidentId)), 30_000);
  const remediationOf = (incidentId: string, status: string) =>
    eventually(`the remediation of ${incidentId} to be ${status}`, async () => {
      const [found] = (await api(`/api/remediations?incident=${incidentId}`)).remediations;
      return found?.status === status ? found : undefined;
    }, 60_000);
  const fixEvents = async (incidentId: string) => {
    const rows = await sql<{ type: string }[]>`
      SELECT type FROM events WHERE stream_id IN (SELECT stream_id FROM events WHERE type = 'fix.pr_opened' AND data->>'incidentId' = ${incidentId})
      ORDER BY position`;
    return rows.map((r) => r.type);
  };

  it('opens a fix pull request that tells the story, follows its checks by webhook, and validates once the merge is live', async () => {
    const service = `fix-ok${run}`;
    await traffic(service, 0);
    const incidentId = await openIncident(service);
    const pr = await pullFor(incidentId, 'Raise the LLM timeout to 8 s');
    expect(github.fileAt(pr.head, `config/${service}.yaml`)).toBe('model: gpt-4o\ntimeoutMs: 8000\n');
    expect(pr.body).toContain(`error rate 40 % on ${service}`);
    expect(pr.body).toContain('5b8efff798038103d269b633813fc60c');
    await eventually('the labels', () => (github.pull(pr.number).labels.length >= 2 ? true : undefined));
    expect(github.pull(pr.number).labels).toEqual(expect.arrayContaining(['auto-fix', 'severity:critical']));
    await github.completeCheck(github.headOf(pr.head)!, 'success');
    await eventually('the checks to be recorded', async () => ((await fixEvents(incidentId)).includes('fix.checks_passed') ? true : undefined));
    await github.mergeAsHuman(pr.number);
    await deploy(service, '1.4.1');
    const done = await remediationOf(incidentId, 'validated');
    expect((await api(`/api/remediations/${done.id}`)).steps[0]).toMatchObject({ outcome: 'succeeded', detail: expect.stringContaining(`#${pr.number}`) });
    expect(await fixEvents(incidentId)).toEqual(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed']);
    // The analyzer marks the incident mitigated once it consumes the healer's remediation.validated.
    await eventually(`${incidentId} to be mitigated`, async () => ((await api(`/api/incidents/${incidentId}`)).mitigatedAt ? true : undefined));
    expect(github.deliveries.filter((d) => d.event === 'check_run')).toEqual(expect.arrayContaining([expect.objectContaining({ status: 202 })]));
  }, 90_000);

  it('closes the pull request with a comment naming the failed check, and pages', async () => {
    const service = `fix-red${run}`;
    await traffic(service, 0);
    const incidentId = await openIncident(service);
    const pr = await pullFor(incidentId, 'Raise the LLM timeout to 8 s');
    await github.completeCheck(github.headOf(pr.head)!, 'failure', { name: 'unit tests', summary: '3 tests failed in llm-client.test.ts' });
    const done = await remediationOf(incidentId, 'escalated');
    expect(github.pull(pr.number)).toMatchObject({ state: 'closed', merged: false });
    expect(github.comments(pr.number).join('\n')).toContain('unit tests');
    expect(await fixEvents(incidentId)).toEqual(['fix.pr_opened', 'fix.checks_failed', 'fix.closed']);
    const page = await eventually('the escalation page', () => pager.calls.find((c) => c.body.incident?.id === incidentId && String(c.body.incident.summary).startsWith('escalated:')));
    expect(page.body.incident.summary).toContain('unit tests');
    expect((await api(`/api/remediations/${done.id}`)).steps[0]).toMatchObject({ outcome: 'failed' });
  }, 90_000);

  it('reverts a merged fix that fails validation through a revert pull request, and pages', async () => {
    const service = `fix-bad${run}`;
    await traffic(service, 0.5);
    const incidentId = await openIncident(service);
    const pr = await pullFor(incidentId, 'Raise the LLM timeout to 8 s');
    await github.completeCheck(github.headOf(pr.head)!, 'success');
    await eventually('the checks to be recorded', async () => ((await fixEvents(incidentId)).includes('fix.checks_passed') ? true : undefined));
    // Someone calls it done once the fix merges; the failed verification says otherwise.
    const resolved = await fetch(`${plane.consoleUrl}/api/incidents/${incidentId}/resolve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'ana', reason: 'fix merged' }) });
    expect(resolved.status).toBe(200);
    await github.mergeAsHuman(pr.number);
    await deploy(service, '1.4.2');
    const revert = await eventually('the revert pull request', () => github.pullRequests().find((p) => p.number !== pr.number && p.title.startsWith('Revert') && p.body.includes(`#${pr.number}`)), 60_000);
    await github.completeCheck(github.headOf(revert.head)!, 'success');
    const done = await remediationOf(incidentId, 'escalated');
    expect(github.pull(revert.number)).toMatchObject({ merged: true, mergedBy: expect.any(String) });
    expect(github.fileAt(github.defaultBranch, `config/${service}.yaml`)).toBe('model: gpt-4o\ntimeoutMs: 2000\n');
    expect(await fixEvents(incidentId)).toEqual(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed', 'fix.validation_failed', 'fix.revert_opened', 'fix.reverted']);
    const detail = await api(`/api/remediations/${done.id}`);
    expect(detail.verification).toMatchObject({ ok: false });
    expect(detail.rollback).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
    await eventually('the escalation page', () => pager.calls.find((c) => c.body.incident?.id === incidentId && String(c.body.incident.summary).startsWith('escalated:')));
    const incident = await eventually('the incident to be reopened', async () => {
      const found = await api(`/api/incidents/${incidentId}`);
      return found.status === 'open' ? found : undefined;
    });
    expect(incident.timeline.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['incident.resolved', 'incident.reopened']));
  }, 120_000);

  it('kept to GitHub’s published API in every request, response and webhook', () => {
    expect(github.violations).toEqual([]);
    expect(github.requests.length).toBeGreaterThan(20);
  });
});
