// The console's guard on real PostgreSQL: authorization by route on the decoded path, the Host and
// Origin checks, JSON-only writes, identity from the token's name, refusals instead of 500s, the
// loopback-only open default, and amtool through it all with a bearer token.
import { execFile, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { createGitHubClient, createGitHubFixer } from '@hephaestus/healer';
import { listen, loadConfig, newRegistry, openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger, trickleBody } from '@hephaestus/platform/testing';
import { consoleConfig } from './config.ts';
import { createConsoleServer, type ConsoleOptions } from './console.ts';
import { ConsoleExposedError } from './guard.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const hourMs = 3_600_000;
const tokens = [{ name: 'alice', token: 's3cret' }];
const alice = { authorization: 'Bearer s3cret' };
const json = { 'content-type': 'application/json' };

const silence = (createdBy = 'mallory') => ({
  matchers: [{ name: 'service', value: 'checkout', isRegex: false, isEqual: true }],
  startsAt: new Date().toISOString(),
  endsAt: new Date(Date.now() + hourMs).toISOString(),
  createdBy,
  comment: 'deploying',
});

/** The same path spelled the ways a router or a proxy may read differently. */
const spellings = (p: string): string[] => {
  const rest = p.slice('/api'.length);
  return [p, `/%61pi${rest}`, `/%61%70%69${rest}`, `/API${rest}`, `//api${rest}`, `/api/.${rest}`, `/x/..${p}`, `/api%2F${rest.slice(1)}`, `${p}/`, `/./api${rest}`];
};

describe('console guard', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  const server = (extra: Partial<ConsoleOptions> = {}) =>
    createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), tokens, ...extra });

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    app = server();
    for (const [incidentId, service] of [['inc-1', 'checkout'], ['inc-2', 'payments']]) {
      await handleIncidentCommand(db.sql, {
        type: 'OpenIncident', at: new Date().toISOString(), incidentId: incidentId!, service: service!, signal: 'error_rate', severity: 'critical', summary: 'errors',
        value: 0.4, baseline: 0.01, calls: 100, errors: 40, windowStart: new Date().toISOString(), traceIds: [],
      });
    }
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await drop();
  });

  describe('authorization by route, on the path the router decodes', () => {
    const reads = ['/api/incidents', '/api/incidents/inc-1', '/api/services', '/api/topology', '/api/remediations', '/api/playbooks', '/api/silences', '/api/v2/silences', '/api/v2/alerts', '/api/v2/status', '/api/v2/receivers', '/api/spend', '/api/events/stream'];
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/api/incidents/inc-1/ack', { by: 'x' }],
      ['POST', '/api/incidents/inc-1/resolve', { by: 'x' }],
      ['POST', '/api/remediations/r-1/approve', { by: 'x' }],
      ['POST', '/api/remediations/r-1/reject', { by: 'x' }],
      ['POST', '/api/silences', silence()],
      ['POST', '/api/v2/silences', silence()],
      ['POST', '/api/v2/alerts', [{ labels: { alertname: 'Injected' } }]],
      ['DELETE', '/api/silences/00000000-0000-4000-8000-000000000000', undefined],
      ['DELETE', '/api/v2/silence/00000000-0000-4000-8000-000000000000', undefined],
    ];

    it.each(reads)('refuses every spelling of GET %s without a token (401), as the canonical path', async (route) => {
      for (const url of spellings(route)) {
        const answer = await app.inject({ url });
        expect(answer.statusCode, url).toBe(401);
        // Alertmanager's API v2 routes answer in its own `{code, message}` shape, which amtool reads.
        expect(answer.headers['content-type'], url).toMatch(/^application\/(problem\+)?json/);
      }
    });

    it.each(writes)('refuses every spelling of %s %s without a token (401), and nothing is written', async (method, route, payload) => {
      for (const url of spellings(route)) {
        const answer = await app.inject({ method: method as 'POST', url, headers: json, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });
        expect(answer.statusCode, url).toBe(401);
      }
      expect((await db.sql`SELECT count(*)::int AS n FROM silences`)[0]!.n).toBe(0);
      expect((await db.sql`SELECT acknowledged_by FROM incidents WHERE id = 'inc-1'`)[0]!.acknowledged_by).toBeNull();
      const alerts = await app.inject({ url: '/api/v2/alerts', headers: alice });
      expect(alerts.json()).not.toContainEqual(expect.objectContaining({ labels: { alertname: 'Injected' } }));
    });

    it('answers a decoded spelling with a token exactly as the canonical path', async () => {
      expect((await app.inject({ url: '/%61pi/incidents', headers: alice })).statusCode).toBe(200);
      expect((await app.inject({ url: '/API/incidents', headers: alice })).statusCode).toBe(404);
    });

    it('keeps health, readiness, metrics, the page, the OpenAPI document and the GitHub webhook open to tokenless callers', async () => {
      for (const url of ['/healthz', '/readyz', '/metrics', '/', '/console', '/api/openapi.json', '/%68ealthz']) {
        expect((await app.inject({ url })).statusCode, url).toBe(200);
      }
      const hooked = server({ githubWebhooks: async () => ({ status: 202, message: 'accepted' }) });
      const delivery = await hooked.inject({ method: 'POST', url: '/github/webhooks', payload: '{}', headers: { ...json, origin: 'https://github.com', host: 'console.example.com' } });
      expect(delivery.statusCode).toBe(202);
      await hooked.close();
    });
  });

  describe('writes: JSON only, from the console\'s own origin', () => {
    it('refuses a write without a JSON content type with 415, body or not (a cross-site form or no-cors fetch)', async () => {
      for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }]) {
        const bodyless = await app.inject({ method: 'POST', url: '/api/incidents/inc-2/ack', headers: { ...alice, ...headers } });
        expect(bodyless.statusCode, JSON.stringify(headers)).toBe(415);
        expect(bodyless.json()).toMatchObject({ status: 415, title: 'Unsupported Media Type' });
        const withBody = await app.inject({ method: 'POST', url: '/api/v2/silences', headers: { ...alice, ...headers }, payload: JSON.stringify(silence()) });
        expect(withBody.statusCode, JSON.stringify(headers)).toBe(415);
      }
      expect((await db.sql`SELECT status FROM incidents WHERE id = 'inc-2'`)[0]!.status).toBe('open');
    });

    it('refuses a write from a foreign Origin with 403 and accepts the console\'s own', async () => {
      for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:1', 'http://localhost.evil.example']) {
        const answer = await app.inject({ method: 'POST', url: '/api/incidents/inc-2/ack', headers: { ...alice, ...json, origin, host: '127.0.0.1:8080' }, payload: '{}' });
        expect(answer.statusCode, origin).toBe(403);
        expect(answer.headers['content-type']).toContain('application/problem+json');
      }
      const own = await app.inject({ method: 'POST', url: '/api/incidents/inc-2/ack', headers: { ...alice, ...json, origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' }, payload: '{}' });
      expect(own.statusCode).toBe(200);
    });

    it('takes the identity from the token\'s name, ignoring the by and createdBy a client sends', async () => {
      const ack = await app.inject({ method: 'POST', url: '/api/incidents/inc-1/ack', headers: alice, payload: { by: 'mallory' } });
      expect(ack.json()).toMatchObject({ acknowledgedBy: 'alice' });
      for (const url of ['/api/silences', '/api/v2/silences']) {
        const created = await app.inject({ method: 'POST', url, headers: alice, payload: silence('mallory') });
        expect(created.statusCode).toBe(200);
        expect((await app.inject({ url: `/api/v2/silence/${created.json().silenceID}`, headers: alice })).json()).toMatchObject({ createdBy: 'alice' });
      }
    });

    it('keeps what the client sends as by when the console has no tokens', async () => {
      const open = server({ tokens: [] });
      const ack = await open.inject({ method: 'POST', url: '/api/incidents/inc-2/resolve', payload: { by: 'bob' } });
      expect(ack.json().timeline.at(-1).data).toMatchObject({ reason: 'resolved by bob' });
      await open.close();
    });
  });

  describe('Host: the names the console answers to (DNS rebinding)', () => {
    it('refuses a foreign Host with 421 and a problem, on the API and the page, but not on health and metrics', async () => {
      for (const url of ['/api/incidents', '/']) {
        const answer = await app.inject({ url, headers: { ...alice, host: 'rebind.evil.example' } });
        expect(answer.statusCode, url).toBe(421);
        expect(answer.json()).toMatchObject({ status: 421, detail: expect.stringContaining('HEPH_CONSOLE_ALLOWED_HOSTS') });
      }
      for (const url of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ url, headers: { host: 'rebind.evil.example' } })).statusCode, url).toBe(200);
    });

    it('answers to the loopback names on any port and to HEPH_CONSOLE_URL\'s host by default', async () => {
      const advertised = server({ consoleUrl: 'https://heph.example.com' });
      for (const host of ['localhost', '127.0.0.1:8080', '[::1]:9', 'LOCALHOST:80', 'heph.example.com']) {
        expect((await advertised.inject({ url: '/api/incidents', headers: { ...alice, host } })).statusCode, host).toBe(200);
      }
      for (const host of ['127.0.0.2', 'heph.example.com.evil.example', 'evil.example:8080', 'a@localhost', 'localhost/x']) {
        expect((await advertised.inject({ url: '/api/incidents', headers: { ...alice, host } })).statusCode, `host ${host}`).toBe(421);
      }
      await advertised.close();
    });

    it('answers only to the configured names when HEPH_CONSOLE_ALLOWED_HOSTS is set, a port pinning that port', async () => {
      const named = server({ allowedHosts: ['heph.internal:8443', 'console.internal'] });
      const status = async (host: string) => (await named.inject({ url: '/api/incidents', headers: { ...alice, host } })).statusCode;
      expect(await status('heph.internal:8443')).toBe(200);
      expect(await status('console.internal:1234')).toBe(200);
      expect(await status('heph.internal:8080')).toBe(421);
      expect(await status('127.0.0.1')).toBe(421);
      await named.close();
    });
  });

  describe('no 500 for inputs within the limits', () => {
    it('refuses a NUL (%00) in a path or query with 400 and a problem', async () => {
      for (const url of ['/api/incidents/%00', '/api/services/a%00/series?signal=calls', '/api/services/a/series?signal=%00', '/api/remediations?service=%00', '/api/remediations/%00', '/api/silences/%00', '/api/silences?filter=a%3D%00', '/%00']) {
        const answer = await app.inject({ url, headers: alice });
        expect(answer.statusCode, url).toBe(400);
        expect(answer.json()).toMatchObject({ status: 400, detail: expect.stringContaining('NUL') });
      }
    });

    it('refuses JSON nested 40 to 99 levels (and deeper) with 400, in each API\'s error shape', async () => {
      for (const depth of [40, 64, 99, 10_000]) {
        const nested = `{"comment":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
        const ours = await app.inject({ method: 'POST', url: '/api/silences', headers: { ...alice, ...json }, payload: nested });
        expect(ours.statusCode, String(depth)).toBe(400);
        expect(ours.headers['content-type']).toContain('application/problem+json');
        const v2 = await app.inject({ method: 'POST', url: '/api/v2/alerts', headers: { ...alice, ...json }, payload: `[${nested}]` });
        expect(v2.statusCode, String(depth)).toBe(400);
        expect(v2.json()).toMatchObject({ code: 400, message: expect.stringContaining('nested deeper') });
        const ack = await app.inject({ method: 'POST', url: '/api/incidents/inc-1/ack', headers: { ...alice, ...json }, payload: nested });
        expect(ack.statusCode, String(depth)).toBe(400);
      }
    });

    it('refuses a NUL inside a JSON string with 400 instead of failing in PostgreSQL', async () => {
      const body = JSON.stringify(silence()).replace('deploying', 'deploy\\u0000ing');
      for (const url of ['/api/silences', '/api/v2/silences']) {
        const answer = await app.inject({ method: 'POST', url, headers: { ...alice, ...json }, payload: body });
        expect(answer.statusCode, url).toBe(400);
      }
    });

    it('answers a correctly signed but malformed GitHub webhook payload with 400, not 500', async () => {
      const secret = 'webhook-secret';
      const github = await createGitHubClient({ baseUrl: 'http://127.0.0.1:1', auth: { token: 'unused' }, log: testLogger(), retries: 0, throttle: false });
      const fixer = createGitHubFixer({ sql: db.sql, github, repository: 'acme/agents', log: testLogger(), webhookSecret: secret, pollSeconds: 3600, consoleUrl: 'http://127.0.0.1:8080' });
      const hooked = server({ githubWebhooks: fixer.handleWebhook });
      const deliver = (event: string, body: string) =>
        hooked.inject({
          method: 'POST',
          url: '/github/webhooks',
          payload: body,
          headers: { ...json, 'x-github-event': event, 'x-github-delivery': 'd-1', 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` },
        });
      for (const [event, body] of [
        ['check_run', 'null'],
        ['check_run', '5'],
        ['check_run', '"x"'],
        ['pull_request', '{"action":"closed","pull_request":{}}'],
        ['check_run', '{"action":"completed","check_run":{"pull_requests":[null]}}'],
        ['check_suite', '{"action":"completed","check_suite":{"pull_requests":5}}'],
      ]) {
        const answer = await deliver(event!, body!);
        expect(answer.statusCode, body).toBe(400);
        expect(answer.body).toMatch(/^payload not understood/);
      }
      expect((await deliver('check_run', '{"action":"completed","check_run":{"head_sha":"abc","pull_requests":[{"number":1}]}}')).statusCode).toBe(202);
      await fixer.stop();
      await hooked.close();
    });

    it('reads an empty JSON body as no body', async () => {
      const answer = await app.inject({ method: 'POST', url: '/api/incidents/nope/ack', headers: { ...alice, ...json } });
      expect(answer.statusCode).toBe(404);
    });
  });

  it('cuts a request whose body trickles in past the request timeout with 408, the connection closed', async () => {
    const slow = server({ requestTimeoutMs: 800 });
    const port = await listen(slow, '127.0.0.1', 0);
    const started = Date.now();
    const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/silences', headers: { 'content-type': 'application/json', 'content-length': '1000', authorization: 'Bearer s3cret' } });
    const answer = new Promise<{ status: number; closed: boolean }>((resolve, reject) => {
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => {
          const socket = request.socket;
          if (!socket || socket.destroyed) resolve({ status: response.statusCode!, closed: true });
          else socket.once('close', () => resolve({ status: response.statusCode!, closed: true }));
        });
      });
      request.on('error', reject);
    });
    request.flushHeaders();
    // A byte every 200 ms: the 1,000-byte body would take 200 s, and each byte keeps an idle timeout from firing.
    const trickle = trickleBody(request, ' '.repeat(1000));
    const answered = await answer;
    trickle.stop();
    expect(answered).toEqual({ status: 408, closed: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    // Cut off by the request's deadline, long before the body was complete.
    expect(trickle.written()).toBeLessThan(1000);
    request.destroy();
    await slow.close();
  });

  describe('open only on loopback', () => {
    it('refuses to listen beyond loopback without tokens, naming the variables', async () => {
      const open = server({ tokens: [] });
      await expect(listen(open, '0.0.0.0', 0)).rejects.toThrow(ConsoleExposedError);
      await expect(listen(open, '0.0.0.0', 0)).rejects.toThrow(/HEPH_CONSOLE_HOST=0\.0\.0\.0 .*HEPH_CONSOLE_TOKENS/);
      expect(open.server.listening).toBe(false);
      await open.close();
    });

    it('listens on a loopback address without tokens, and answers to that address', async () => {
      const open = server({ tokens: [] });
      const port = await listen(open, '127.0.0.1', 0);
      const answer = await fetch(`http://127.0.0.1:${port}/api/incidents`);
      expect(answer.status).toBe(200);
      await open.close();
    });

    it('reads named tokens and plain ones from HEPH_CONSOLE_TOKENS', () => {
      const config = loadConfig(consoleConfig, { HEPH_CONSOLE_TOKENS: 'alice:s3cret, plain-token ,bob:0ther:with:colons', HEPH_CONSOLE_ALLOWED_HOSTS: 'heph.internal,127.0.0.1:8080' });
      expect(config.HEPH_CONSOLE_TOKENS).toEqual([
        { name: 'alice', token: 's3cret' },
        { name: 'token-2', token: 'plain-token' },
        { name: 'bob', token: '0ther:with:colons' },
      ]);
      expect(config.HEPH_CONSOLE_ALLOWED_HOSTS).toEqual(['heph.internal', '127.0.0.1:8080']);
      expect(loadConfig(consoleConfig, {}).HEPH_CONSOLE_TOKENS).toEqual([]);
    });
  });
});

describe('amtool against the guarded console', () => {
  const exec = promisify(execFile);
  let db: Database;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  let url = '';
  let amtool = '';
  const httpConfig = path.join(mkdtempSync(path.join(tmpdir(), 'heph-amtool-')), 'http.yml');
  const run = async (...args: string[]) => (await exec(amtool, [`--alertmanager.url=${url}`, ...args], { env: { ...process.env, HOME: '/nonexistent' } })).stdout;

  beforeAll(async () => {
    process.env.AMTOOL ??= execFileSync(path.join(root, 'deploy/local/amtool'), { cwd: root, encoding: 'utf8' }).trim().split('\n').at(-1)!;
    amtool = process.env.AMTOOL;
    writeFileSync(httpConfig, 'authorization:\n  type: Bearer\n  credentials: s3cret\n');
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    app = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), tokens });
    url = `http://127.0.0.1:${await listen(app, '127.0.0.1', 0)}`;
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await drop();
  });

  it('adds, queries and expires a silence with a bearer token; the author is the token\'s name', async () => {
    const id = (await run(`--http.config.file=${httpConfig}`, 'silence', 'add', 'service=checkout', '--comment=deploy', '--author=someone-else', '--duration=1h')).trim();
    const listed = JSON.parse(await run(`--http.config.file=${httpConfig}`, 'silence', 'query', '-o', 'json'));
    expect(listed).toEqual([expect.objectContaining({ id, createdBy: 'alice' })]);
    await run(`--http.config.file=${httpConfig}`, 'silence', 'expire', id);
    expect(JSON.parse(await run(`--http.config.file=${httpConfig}`, 'silence', 'query', '-o', 'json'))).toEqual([]);
  });

  it('is refused without the token', async () => {
    await expect(run('silence', 'add', 'service=checkout', '--comment=x', '--duration=1h')).rejects.toThrow(/401|Unauthorized/i);
  });
});
