import { afterEach, describe, expect, it, vi } from 'vitest';
import { startControlServer, type ControlServer, type ControlServerOptions } from './control-server.ts';

const token = 'control-secret';
let server: ControlServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const start = async (options: Partial<ControlServerOptions> = {}) => {
  server = await startControlServer({ token, onRestart: vi.fn(), onConfig: vi.fn(), ...options });
  return server;
};

/** Calls the endpoint as the healer does (services/healer/src/adapters/actions.ts): bearer token, idempotency key. */
const post = async (url: string, options: { key?: string; body?: string; auth?: string | null } = {}) => {
  const headers: Record<string, string> = {};
  if (options.auth !== null) headers.authorization = options.auth ?? `Bearer ${token}`;
  if (options.key) headers['idempotency-key'] = options.key;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method: 'POST', headers, body: options.body });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
};
const get = async (url: string, auth = `Bearer ${token}`) => {
  const response = await fetch(url, { headers: { authorization: auth } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('control endpoint', () => {
  it('listens on loopback and gives its URL for heph.control.url', async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/control$/);
  });

  it('refuses calls without the right bearer token with 401, and runs no hook', async () => {
    const onRestart = vi.fn();
    const { url } = await start({ onRestart });
    for (const auth of [null, 'Bearer wrong', `Basic ${token}`, 'Bearer ', `Bearer ${token}x`]) {
      const answer = await post(`${url}/restart`, { auth });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(answer.body).toMatchObject({ status: 401, detail: 'missing or wrong bearer token' });
    }
    expect((await get(`${url}/health`, 'Bearer nope')).status).toBe(401);
    expect(onRestart).not.toHaveBeenCalled();
  });

  it('restarts through the agent hook and sends its result back', async () => {
    const onRestart = vi.fn(async () => ({ restarts: 1 }));
    const { url } = await start({ onRestart });
    const answer = await post(`${url}/restart`, { key: 'remediation-1/step-0' });
    expect(answer).toMatchObject({ status: 200, body: { action: 'restart', detail: { restarts: 1 } } });
    expect(onRestart).toHaveBeenCalledTimes(1);
  });

  it('acts once for one idempotency key and answers a replay with the first answer', async () => {
    let restarts = 0;
    const { url } = await start({ onRestart: async () => ({ restarts: ++restarts }) });
    const first = await post(`${url}/restart`, { key: 'k1' });
    const replay = await post(`${url}/restart`, { key: 'k1' });
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(restarts).toBe(1);
    await post(`${url}/restart`, { key: 'k2' });
    await post(`${url}/restart`);
    expect(restarts).toBe(3);
  });

  it('acts once when the same key arrives again while the first call is still running', async () => {
    let release!: () => void;
    const onRestart = vi.fn(() => new Promise<void>((resolve) => (release = resolve)));
    const { url } = await start({ onRestart });
    const calls = [post(`${url}/restart`, { key: 'k' }), post(`${url}/restart`, { key: 'k' })];
    await vi.waitFor(() => expect(onRestart).toHaveBeenCalled());
    release();
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(onRestart).toHaveBeenCalledTimes(1);
  });

  it('answers 500 when the hook fails, and acts again when the healer retries with the same key', async () => {
    const onRestart = vi.fn().mockRejectedValueOnce(new Error('model client would not reset')).mockResolvedValueOnce(undefined);
    const { url } = await start({ onRestart });
    const failed = await post(`${url}/restart`, { key: 'k' });
    expect(failed).toMatchObject({ status: 500, body: { detail: 'the action failed: model client would not reset' } });
    expect((await post(`${url}/restart`, { key: 'k' })).status).toBe(200);
    expect(onRestart).toHaveBeenCalledTimes(2);
  });

  it('applies a validated config change through the hook', async () => {
    const onConfig = vi.fn(async (config: unknown) => ({ now: config }));
    const { url } = await start({ onConfig });
    const body = { model: 'gpt-4.1-mini', cache: false, circuitBreaker: 'open', concurrency: 2 };
    const answer = await post(`${url}/config`, { key: 'c1', body: JSON.stringify(body) });
    expect(answer).toMatchObject({ status: 200, body: { action: 'config', applied: body, detail: { now: body } } });
    expect(onConfig).toHaveBeenCalledWith(body);
  });

  it('refuses a config body that is not valid with 400 and a message', async () => {
    const onConfig = vi.fn();
    const { url } = await start({ onConfig });
    const cases: Array<[string, RegExp]> = [
      ['{"circuitBreaker":"half"}', /circuitBreaker/],
      ['{"concurrency":0}', /concurrency/],
      ['{"concurrency":1.5}', /concurrency/],
      ['{"cache":"off"}', /cache/],
      ['{"modle":"gpt-4o"}', /modle/],
      ['{}', /at least one of/],
      ['not json', /not JSON/],
    ];
    for (const [body, message] of cases) {
      const answer = await post(`${url}/config`, { body });
      expect(answer.status, body).toBe(400);
      expect(String(answer.body.detail), body).toMatch(message);
    }
    expect(onConfig).not.toHaveBeenCalled();
  });

  it('answers health with the hook details, and 503 when the agent says it is unhealthy', async () => {
    let healthy = true;
    const { url } = await start({ health: () => ({ healthy, model: 'gpt-4o-mini' }) });
    expect(await get(`${url}/health`)).toEqual({ status: 200, body: { status: 'ok', healthy: true, model: 'gpt-4o-mini' } });
    healthy = false;
    expect((await get(`${url}/health`)).status).toBe(503);
  });

  it('serves the agent\'s own actions behind the same token and idempotency', async () => {
    const fault = vi.fn((body: unknown) => ({ injected: body }));
    const { url } = await start({ actions: { fault } });
    expect((await post(`${url}/fault`, { auth: 'Bearer wrong' })).status).toBe(401);
    const answer = await post(`${url}/fault`, { key: 'f1', body: JSON.stringify({ name: 'error-burst' }) });
    expect(answer).toMatchObject({ status: 200, body: { action: 'fault', detail: { injected: { name: 'error-burst' } } } });
    await post(`${url}/fault`, { key: 'f1', body: JSON.stringify({ name: 'error-burst' }) });
    expect(fault).toHaveBeenCalledTimes(1);
    expect((await post(`${url}/fault`)).status).toBe(200);
    expect(fault).toHaveBeenLastCalledWith(undefined);
    await expect(startControlServer({ token, actions: { restart: () => undefined } })).rejects.toThrow(/not a name/);
  });

  it('answers 404 for unknown routes and missing hooks, 405 for a wrong method, 413 for a large body', async () => {
    const { url } = await start({ onRestart: undefined });
    expect((await post(`${url}/fault`)).status).toBe(404);
    expect(await post(`${url}/restart`)).toMatchObject({ status: 404, body: { detail: 'this agent registered no restart hook' } });
    const wrongMethod = await fetch(`${url}/restart`, { headers: { authorization: `Bearer ${token}` } });
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'POST']);
    expect((await post(`${url}/config`, { body: JSON.stringify({ model: 'x'.repeat(70_000) }) })).status).toBe(413);
  });
});
