import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../e2e/support.ts';
import { startSink } from './test-sink.ts';

type Agent = Awaited<ReturnType<typeof startAgent>>;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** agent.ts in its own process, as the fleet and e2e/support.ts run it. */
const startAgent = async (args: string[], env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [new URL('./agent.ts', import.meta.url).pathname, ...args], {
    env: { ...process.env, HEPH_AGENT_CONTROL_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  cleanups.push(stop);
  const [, workUrl, controlUrl] = await eventually('the agent to be ready', () => lines.map((l) => /work endpoint (\S+) control endpoint (\S+)/.exec(l)).find(Boolean) ?? undefined);
  return { workUrl: workUrl!, controlUrl: controlUrl!, lines, stop, exitCode: () => child.exitCode };
};

const post = async (url: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any };
};

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerSpanId = '00f067aa0ba902b7';

describe('the demo agent', () => {
  it('serves /work in the caller’s trace, with GenAI and tool spans, and carries the trace downstream through a CLIENT span', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const reviewer = await startAgent(['--service', 'reviewer', '--ingest', sink.url]);
    const coder = await startAgent(['--service', 'coder', '--ingest', sink.url, '--downstream', `reviewer=${reviewer.workUrl}`, '--metric-interval', '0.5']);

    const answer = await post(coder.workUrl, { task: 'fix the flaky checkout test' }, { traceparent: `00-${traceId}-${callerSpanId}-01` });
    expect(answer).toEqual({ status: 200, body: { service: 'coder', version: '1.4.2', task: 'fix the flaky checkout test', done: true } });
    await eventually('the memory gauge', () => sink.metrics.some((m) => m.service === 'coder' && m.name === 'process.memory.usage'));
    await coder.stop();
    await reviewer.stop();

    const trace = sink.spans.filter((s) => s.traceId === traceId);
    const server = (service: string) => trace.find((s) => s.service === service && s.kind === 'server')!;
    expect(server('coder')).toMatchObject({ name: 'POST /work', parentSpanId: callerSpanId, status: 'unset', attributes: { 'http.route': '/work', 'http.response.status_code': 200 } });
    expect(server('coder').resource).toMatchObject({ 'service.name': 'coder', 'service.version': '1.4.2', 'heph.control.url': coder.controlUrl });
    const client = trace.find((s) => s.service === 'coder' && s.kind === 'client' && s.name === 'POST')!;
    expect(client).toMatchObject({ parentSpanId: server('coder').spanId, attributes: { 'peer.service': 'reviewer', 'url.full': reviewer.workUrl, 'http.response.status_code': 200 } });
    // The callee continues the trace under the caller's CLIENT span: that edge is how the analyzer learns coder → reviewer.
    expect(server('reviewer').parentSpanId).toBe(client.spanId);

    for (const service of ['coder', 'reviewer']) {
      const llm = trace.filter((s) => s.service === service && s.attributes['gen_ai.operation.name'] === 'chat');
      expect(llm.length).toBeGreaterThanOrEqual(1);
      expect(llm[0]).toMatchObject({ kind: 'client', attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' } });
      const tool = trace.find((s) => s.service === service && s.attributes['gen_ai.operation.name'] === 'execute_tool');
      expect(tool).toMatchObject({ kind: 'internal', parentSpanId: server(service).spanId });
    }
    const memory = sink.metrics.find((m) => m.service === 'coder' && m.name === 'process.memory.usage')!;
    expect(memory).toMatchObject({ kind: 'gauge', unit: 'By' });
    expect(memory.value! / 2 ** 20).toBeCloseTo(256, -1);
  });

  it('lets a provider outage cascade to its caller, logs the errors, outlives a restart and is cured by switching the model', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const env = { HEPH_AGENT_CONTROL_TOKEN: 'control-secret' };
    const auth = { authorization: 'Bearer control-secret' };
    const researcher = await startAgent(['--service', 'researcher', '--ingest', sink.url], env);
    const planner = await startAgent(['--service', 'planner', '--ingest', sink.url, '--downstream', `researcher=${researcher.workUrl}`], env);

    expect((await post(`${researcher.controlUrl}/fault`, { name: 'provider-outage' })).status).toBe(401);
    const injected = await post(`${researcher.controlUrl}/fault`, { name: 'provider-outage' }, auth);
    expect(injected).toMatchObject({ status: 200, body: { detail: { fault: 'provider-outage' } } });
    const failed = await post(planner.workUrl, { task: 'upgrade the payment SDK' });
    expect(failed).toMatchObject({ status: 502, body: { error: 'researcher answered 502: openai gpt-4o-mini is unavailable: 503 Service Unavailable' } });

    const restarted = await post(`${researcher.controlUrl}/restart`, undefined, { ...auth, 'idempotency-key': 'r-1' });
    expect(restarted).toMatchObject({ status: 200, body: { detail: { cleared: [], remaining: ['provider-outage'] } } });
    expect(researcher.lines.some((l) => l.includes('restart requested by the healer'))).toBe(true);
    expect((await post(planner.workUrl, {})).status).toBe(502);

    const switched = await post(`${researcher.controlUrl}/config`, { model: 'gpt-4.1-mini' }, auth);
    expect(switched).toMatchObject({ status: 200, body: { detail: { model: 'gpt-4.1-mini' } } });
    expect((await post(planner.workUrl, {})).status).toBe(200);
    const health = await fetch(`${researcher.controlUrl}/health`, { headers: auth });
    expect(await health.json()).toMatchObject({ status: 'ok', faults: ['provider-outage'], llm: { model: 'gpt-4.1-mini' } });

    await planner.stop();
    await researcher.stop();
    const errors = sink.logs.filter((l) => l.severityNumber >= 17);
    expect(errors.filter((l) => l.service === 'researcher').map((l) => l.body)).toContain('work failed: openai gpt-4o-mini is unavailable: 503 Service Unavailable');
    const plannerError = errors.find((l) => l.service === 'planner')!;
    expect(plannerError.body).toMatch(/^work failed: researcher answered 502/);
    // Emitted within the failing request's span, so the error log joins its trace.
    expect(sink.spans.some((s) => s.traceId === plannerError.traceId && s.service === 'researcher' && s.status === 'error')).toBe(true);
    const failedLlm = sink.spans.find((s) => s.service === 'researcher' && s.attributes['gen_ai.request.model'] === 'gpt-4o-mini' && s.status === 'error');
    expect(failedLlm?.attributes['error.type']).toBe('service_unavailable');
    expect(sink.spans.some((s) => s.service === 'researcher' && s.attributes['gen_ai.request.model'] === 'gpt-4.1-mini' && s.status !== 'error')).toBe(true);
  });

  it('keeps the first demo agent’s contract without a token: an open POST /fault answers 202 with an error burst, and a restart clears it', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent: Agent = await startAgent(['--service', 'e2e-agent', '--ingest', sink.url, '--rate', '40']);
    expect(agent.lines.some((l) => /control endpoint http:\/\/127\.0\.0\.1:\d+\/control(\s|$)/.test(l))).toBe(true);

    const fault = await fetch(`${agent.controlUrl}/fault`, { method: 'POST' });
    expect(fault.status).toBe(202);
    expect(await fault.json()).toMatchObject({ detail: { fault: 'error-burst' } });
    await eventually('failing requests', () => sink.spans.filter((s) => s.kind === 'server' && s.status === 'error').length >= 20);

    const restart = () => fetch(`${agent.controlUrl}/restart`, { method: 'POST', headers: { 'idempotency-key': 'healer-1' } });
    expect((await restart()).status).toBe(202);
    expect((await restart()).headers.get('idempotent-replayed')).toBe('true');
    expect(agent.lines.filter((l) => l.includes('restart requested by the healer'))).toHaveLength(1);
    const health = await (await fetch(`${agent.controlUrl}/health`)).json();
    expect(health).toMatchObject({ faults: [] });
    // The healer finds the agent at the URL its spans carry.
    expect(sink.spans.find((s) => s.service === 'e2e-agent')?.resource['heph.control.url']).toBe(agent.controlUrl);
  });

  it('cuts the requests in flight short on a restart, as a new process would: the caller sees the connection reset, their SERVER spans never leave', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent = await startAgent(['--service', 'coder', '--ingest', sink.url]);
    await post(`${agent.controlUrl}/fault`, { name: 'latency-spike' });
    const inFlight = fetch(agent.workUrl, { method: 'POST', headers: { traceparent: `00-${traceId}-${callerSpanId}-01` }, body: '{}' }).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    // Its first LLM call now takes 2.5 s at least.
    await sleep(300);
    const restarted = await post(`${agent.controlUrl}/restart`);
    // The provider's throttling is outside the process: the restart loses the request and cures nothing.
    expect(restarted.body.detail).toMatchObject({ cleared: [], remaining: ['latency-spike'] });
    expect(await inFlight).toBeInstanceOf(TypeError);
    expect(agent.lines.some((l) => l.includes('restart requested by the healer: restarted, model client reset, 1 requests in flight lost; still suffering latency-spike'))).toBe(true);
    // The new incarnation serves, slowly.
    expect((await post(agent.workUrl, {})).status).toBe(200);
    await agent.stop();
    expect(sink.spans.filter((s) => s.traceId === traceId && s.kind === 'server')).toEqual([]);
  });

  it('deploys a bad version with a new service.version and a new error, and rolls it back', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent = await startAgent(['--service', 'coder', '--ingest', sink.url, '--rate', '20']);
    await post(`${agent.controlUrl}/fault`, { name: 'bad-deploy' });
    await eventually('failing tool calls on 1.5.0', () =>
      sink.spans.some((s) => s.resource['service.version'] === '1.5.0' && s.attributes['gen_ai.tool.name'] === 'run_tests' && s.attributes['error.type'] === 'TypeError'),
    );
    // A restart runs the same bad version.
    await post(`${agent.controlUrl}/restart`);
    expect((await (await fetch(`${agent.controlUrl}/health`)).json()).version).toBe('1.5.0');

    const rolledBack = await post(`${agent.controlUrl}/rollback`);
    expect(rolledBack.body).toMatchObject({ detail: { from: '1.5.0', version: '1.4.2' } });
    const since = sink.spans.length;
    await eventually('spans of 1.4.2 again', () => sink.spans.slice(since).some((s) => s.resource['service.version'] === '1.4.2'));
    expect(agent.lines.some((l) => l.includes('rolled back from 1.5.0 to 1.4.2'))).toBe(true);
  });

  it('sheds a saturated provider pool: ten times slower at 100 calls at once, back to usual at 8, slow again after a restart', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent = await startAgent(['--service', 'coder', '--ingest', sink.url]);
    const timed = async () => {
      const started = performance.now();
      expect((await post(agent.workUrl, { task: 'export invoices as CSV' })).status).toBe(200);
      return performance.now() - started;
    };
    await post(`${agent.controlUrl}/fault`, { name: 'latency-spike' });
    // One LLM call takes 0.25–1.65 s when healthy; saturated, at least 2.5 s.
    expect(await timed()).toBeGreaterThan(2_500);
    expect((await post(`${agent.controlUrl}/config`, { concurrency: 8 })).body).toMatchObject({ detail: { concurrency: { limit: 8 } } });
    expect(await timed()).toBeLessThan(2_500 * 2);
    await post(`${agent.controlUrl}/restart`);
    expect((await (await fetch(`${agent.controlUrl}/health`)).json()).llm.concurrency.limit).toBe(100);
  });

  it('answers a prompt loop from the cache once the healer turns it on: no provider calls, no spend', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent = await startAgent(['--service', 'coder', '--ingest', sink.url]);
    expect((await (await fetch(`${agent.controlUrl}/health`)).json()).llm.cache).toBe(false);
    await post(`${agent.controlUrl}/fault`, { name: 'spend-runaway' });
    await post(`${agent.controlUrl}/config`, { cache: true });
    // The simulated provider fails 0.2 % of calls even when healthy: a 502 is retried, as a client would.
    let answered = 0;
    for (let tries = 0; answered < 4 && tries < 12; tries++) if ((await post(agent.workUrl, { task: 'add a dark mode toggle' })).status === 200) answered++;
    expect(answered).toBe(4);
    await agent.stop();
    const llm = sink.spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    // The same task's prompts: the first `plan` call pays (30 times the usual answer), the repeats are cache hits.
    expect(llm.filter((s) => s.attributes['heph.cache.hit'] === true).length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...llm.map((s) => Number(s.attributes['gen_ai.usage.output_tokens'] ?? 0)))).toBeGreaterThan(60 * 30 - 1);
  });

  it('rolls back only to the version before the deploy', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent = await startAgent(['--service', 'coder', '--ingest', sink.url]);
    await post(`${agent.controlUrl}/fault`, { name: 'bad-deploy' });
    expect((await post(`${agent.controlUrl}/rollback`, { version: '0.9.0' })).status).toBeGreaterThanOrEqual(400);
    expect((await post(`${agent.controlUrl}/rollback`, { version: '1.4.2' })).body).toMatchObject({ detail: { from: '1.5.0', version: '1.4.2' } });
  });

  it('refuses an unknown fault and unknown options', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const agent = await startAgent(['--service', 'coder', '--ingest', sink.url]);
    const answer = await post(`${agent.controlUrl}/fault`, { name: 'gremlins' });
    expect(answer.status).toBe(500);
    expect(answer.body.detail).toMatch(/no fault 'gremlins'; the catalogue: error-burst, latency-spike/);

    const bad = spawn(process.execPath, [new URL('./agent.ts', import.meta.url).pathname, '--fault', 'gremlins'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    bad.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(bad, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/no fault 'gremlins'/);
  });
});
