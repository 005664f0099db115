// Action executors against a real HTTP server on loopback standing in for an agent's control endpoint.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybookStep } from '@hephaestus/schemas';
import { runAction } from './actions.ts';

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
      response.writeHead(request.url === '/control/missing' ? 404 : 202).end();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const step = (action: PlaybookStep['action'], params: Record<string, string> = {}): PlaybookStep => ({ name: action, action, params, timeoutSeconds: 2, retries: 2 });
  const context = (controlUrl?: string) => ({ controlUrl, controlToken: 'agent-secret', allowedHosts: ['127.0.0.1'], idempotencyKey: 'rem-1:0' });

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
});
