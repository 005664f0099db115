// Action executors against a real HTTP server on loopback standing in for an agent's control endpoint.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@hephaestus/platform';
import type { PlaybookStep } from '@hephaestus/schemas';
import { healerConfig } from '../config.ts';
import { describeAction, runAction, type GitHubExecutor } from './actions.ts';

type Hit = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

describe('playbook actions', () => {
  const hits: Hit[] = [];
  let failuresLeft = 0;
  let base = '';
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      hits.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      if (failuresLeft > 0) {
        failuresLeft--;
        return response.writeHead(503).end();
      }
      response.writeHead(request.url === '/control/missing' ? 404 : request.url?.startsWith('/redirect') ? 302 : 202, request.url?.startsWith('/redirect') ? { location: 'http://169.254.169.254/' } : {}).end();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const step = (action: PlaybookStep['action'], params: Record<string, string> = {}): PlaybookStep => ({ name: action, action, params, timeoutSeconds: 2, retries: 2 });
  const context = (controlUrl?: string) => ({ controlUrl, controlToken: 'agent-secret', allowedHosts: ['127.0.0.1'], allowedOrigins: [base], idempotencyKey: 'rem-1:0' });

  it('restarts an agent through its control URL with its token and an idempotency key', async () => {
    const result = await runAction(step('agent.restart'), context(`${base}/control`));
    expect(result).toEqual({ ok: true, detail: `POST ${base}/control/restart answered 202` });
    expect(hits.at(-1)).toMatchObject({ method: 'POST', url: '/control/restart', headers: { authorization: 'Bearer agent-secret', 'idempotency-key': 'rem-1:0' } });
  });

  it('changes the config of an agent with typed values', async () => {
    await runAction(step('agent.set_config', { model: 'gpt-4.1-mini', cache: 'false', concurrency: '4' }), context(`${base}/control`));
    expect(hits.at(-1)!.url).toBe('/control/config');
    expect(JSON.parse(hits.at(-1)!.body)).toEqual({ model: 'gpt-4.1-mini', cache: false, concurrency: 4 });
  });

  it('retries a server error with the same key, and does not retry a client error', async () => {
    failuresLeft = 1;
    const before = hits.length;
    expect(await runAction(step('agent.restart'), context(`${base}/control`))).toMatchObject({ ok: true });
    expect(hits.slice(before).map((h) => h.headers['idempotency-key'])).toEqual(['rem-1:0', 'rem-1:0']);
    const missing = await runAction(step('http', { url: `${base}/control/missing` }), context());
    expect(missing).toMatchObject({ ok: false, error: expect.stringContaining('404') });
  });

  it('refuses hosts off the allow-list and agents without a control URL, calling nothing', async () => {
    const before = hits.length;
    expect(await runAction(step('http', { url: 'http://169.254.169.254/latest' }), context())).toMatchObject({ ok: false, error: expect.stringContaining('allow-list') });
    expect(await runAction(step('agent.restart'), context())).toMatchObject({ ok: false, error: expect.stringContaining('heph.control.url') });
    expect(hits.length).toBe(before);
  });

  const values = { 'incident.id': 'inc 1', 'incident.service': 'planner/a', 'incident.signal': 'error_rate', 'incident.severity': 'critical', 'remediation.id': 'rem-1' };

  it('templates incident fields into parameters, URL-encoded inside the URL', async () => {
    const result = await runAction(step('http', { url: `${base}/hook/{{incident.service}}?incident={{incident.id}}`, body: '{"text":"{{incident.service}} {{incident.severity}}"}' }), { ...context(), values });
    expect(result).toMatchObject({ ok: true });
    expect(hits.at(-1)).toMatchObject({ url: '/hook/planner%2Fa?incident=inc%201', body: '{"text":"planner/a critical"}', headers: { 'content-type': 'application/json' } });
  });

  it('checks the allow-list after templating and refuses unknown fields', async () => {
    const before = hits.length;
    const evil = { ...values, 'incident.service': 'x@169.254.169.254' };
    expect(await runAction(step('http', { url: 'http://{{incident.service}}/' }), { ...context(), values: evil })).toMatchObject({ ok: false, error: expect.stringMatching(/allow-list|not a URL/) });
    expect(await runAction(step('http', { url: `${base}/{{incident.secret}}` }), { ...context(), values })).toMatchObject({ ok: false, error: expect.stringContaining('unknown template field {{incident.secret}}') });
    expect(hits.length).toBe(before);
  });

  it('does not follow a redirect off the allow-list', async () => {
    expect(await runAction(step('http', { url: `${base}/redirect` }), context())).toMatchObject({ ok: false, error: expect.stringContaining('302') });
  });

  it('rolls an agent back to a version through its control URL', async () => {
    expect(await runAction(step('agent.rollback', { version: '1.4.2' }), context(`${base}/control`))).toMatchObject({ ok: true });
    expect(hits.at(-1)).toMatchObject({ url: '/control/rollback', body: '{"version":"1.4.2"}' });
  });

  it('describes a dry run without calling anything', async () => {
    const before = hits.length;
    expect(describeAction(step('agent.restart'), context(`${base}/control`))).toEqual({ ok: true, detail: `dry run: would POST ${base}/control/restart` });
    expect(hits.length).toBe(before);
  });

  it('hands GitHub actions to the configured executor, and fails them without one', async () => {
    const seen: string[] = [];
    const github: GitHubExecutor = {
      run: async (s, c) => (seen.push(`${s.action} ${c.idempotencyKey} ${c.service}`), { ok: true, detail: 'opened #7' }),
      undo: async () => ({ ok: true, detail: 'closed #7' }),
    };
    const githubContext = { remediationId: 'rem-1', incidentId: 'inc-1', service: 'planner' };
    expect(await runAction(step('github.fix_pr', { path: 'a.ts' }), { ...context(), github, githubContext })).toEqual({ ok: true, detail: 'opened #7' });
    expect(seen).toEqual(['github.fix_pr rem-1:0 planner']);
    expect(await runAction(step('github.revert'), { ...context(), githubContext })).toEqual({ ok: false, error: 'GitHub is not configured (HEPH_GITHUB_TOKEN or HEPH_GITHUB_APP_ID)' });
  });

  describe('a control URL from telemetry cannot redirect the healer', () => {
    const refusedWithoutCall = async (controlUrl: string, error: RegExp, extra: object = {}) => {
      const before = hits.length;
      const result = await runAction(step('agent.restart'), { ...context(controlUrl), ...extra });
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(error) });
      expect(hits.length).toBe(before);
    };

    it('refuses a query or fragment that would swallow the action path (POST /steal?x=/restart)', async () => {
      await refusedWithoutCall(`${base}/steal?x=`, /query or fragment/);
      await refusedWithoutCall(`${base}/steal#`, /query or fragment/);
      await refusedWithoutCall(`${base}/control?`, /query or fragment/);
    });

    it('refuses userinfo, dot segments and percent-escapes in the control URL', async () => {
      await refusedWithoutCall(`http://agent@127.0.0.1:${new URL(base).port}/control`, /userinfo/);
      await refusedWithoutCall(`${base}/control/../steal`, /plain path/);
      await refusedWithoutCall(`${base}/control/./x`, /plain path/);
      await refusedWithoutCall(`${base}/steal%2F..%2Fx`, /plain path/);
      await refusedWithoutCall('file:///etc/passwd', /not an http\(s\) URL/);
    });

    it('calls only allow-listed origins: another port on an allowed host is refused, the reason naming the origin', async () => {
      const origins = { allowedOrigins: [base] };
      expect(await runAction(step('agent.restart'), { ...context(`${base}/control`), ...origins })).toMatchObject({ ok: true });
      expect(hits.at(-1)).toMatchObject({ url: '/control/restart', headers: { authorization: 'Bearer agent-secret' } });
      await refusedWithoutCall('http://127.0.0.1:1/control', /^origin http:\/\/127\.0\.0\.1:1 is not on the healer's allow-list \(HEPH_HEALER_ALLOWED_ORIGINS\)$/, origins);
      await refusedWithoutCall(`https://127.0.0.1:${new URL(base).port}/control`, /origin https:\/\/127\.0\.0\.1:\d+ is not on/, origins);
    });

    it('appends the action path as a segment with the URL API, keeping a trailing slash clean', async () => {
      expect(describeAction(step('agent.rollback'), context(`${base}/agents/planner-1/`))).toEqual({ ok: true, detail: `dry run: would POST ${base}/agents/planner-1/rollback` });
      expect(describeAction(step('agent.restart'), context(base))).toEqual({ ok: true, detail: `dry run: would POST ${base}/restart` });
    });

    it('with hosts only on the allow-list (no origins), calls an agent without a token, and refuses to send one', async () => {
      const hostsOnly = { allowedOrigins: [] };
      await refusedWithoutCall(`${base}/control`, /^HEPH_AGENT_CONTROL_TOKEN is set but HEPH_HEALER_ALLOWED_ORIGINS is not/, hostsOnly);
      expect(await runAction(step('agent.restart'), { ...context(`${base}/control`), ...hostsOnly, controlToken: undefined })).toMatchObject({ ok: true });
      expect(hits.at(-1)).toMatchObject({ url: '/control/restart' });
      expect(hits.at(-1)!.headers.authorization).toBeUndefined();
    });

    it('sends the agent control token to the agent control endpoint only, not to a playbook http step', async () => {
      expect(await runAction(step('http', { url: `${base}/hook` }), context())).toMatchObject({ ok: true });
      expect(hits.at(-1)!.headers.authorization).toBeUndefined();
    });

    it('reads HEPH_HEALER_ALLOWED_ORIGINS as origins and refuses one with a path, query or other scheme', () => {
      const config = loadConfig(healerConfig, { HEPH_HEALER_ALLOWED_ORIGINS: 'http://127.0.0.1:7001, HTTP://Agent.Internal:80/' });
      expect(config.HEPH_HEALER_ALLOWED_ORIGINS).toEqual(['http://127.0.0.1:7001', 'http://agent.internal']);
      expect(loadConfig(healerConfig, {}).HEPH_HEALER_ALLOWED_ORIGINS).toEqual([]);
      for (const bad of ['http://127.0.0.1:7001/control', 'http://127.0.0.1:7001/?x', 'ftp://127.0.0.1', '127.0.0.1:7001']) {
        expect(() => loadConfig(healerConfig, { HEPH_HEALER_ALLOWED_ORIGINS: bad }), bad).toThrow(/HEPH_HEALER_ALLOWED_ORIGINS\.0: expected origins like/);
      }
    });
  });
});
