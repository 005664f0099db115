import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { decodeLogsProtobuf, decodeMetricsProtobuf, decodeTracesProtobuf, toAttributeRecord } from '@hephaestus/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmGuard } from './llm-guard.ts';
import { startTelemetry, type Telemetry } from './telemetry.ts';

type Received = { path: string; contentType: string | undefined; authorization: string | undefined; body: Buffer };

/** A tiny OTLP/HTTP receiver on loopback that keeps what it is sent and answers as ingest does. */
const startReceiver = async () => {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        authorization: request.headers.authorization,
        body: Buffer.concat(chunks),
      });
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    paths: () => received.map((r) => r.path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

let telemetry: Telemetry | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  await receiver?.close();
  telemetry = undefined;
  receiver = undefined;
});

const decoded = <T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
};

describe('startTelemetry', () => {
  it('exports traces, metrics and logs as OTLP protobuf with the token, announcing the control URL', async () => {
    receiver = await startReceiver();
    // Made before the telemetry starts, as an agent may well do.
    const guard = createLlmGuard({ provider: 'openai', model: 'gpt-4o-mini', concurrency: 1, cache: { ttlMs: 1000, maxEntries: 10 }, breaker: { failureThreshold: 3, resetMs: 1000 } });
    telemetry = await startTelemetry({
      serviceName: 'planner',
      serviceVersion: '1.4.2',
      endpoint: `${receiver.endpoint}/`,
      token: 'ingest-token',
      control: { token: 'control-token', onRestart: () => undefined, health: () => ({ model: 'gpt-4o-mini' }) },
      resourceAttributes: { 'deployment.environment.name': 'test' },
    });
    const { tracer, meter, logger, controlUrl } = telemetry;
    expect(controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/control$/);
    const health = await fetch(`${controlUrl}/health`, { headers: { authorization: 'Bearer control-token' } });
    expect(await health.json()).toEqual({ status: 'ok', model: 'gpt-4o-mini' });

    tracer.startSpan('POST /v1/plan').end();
    meter.createCounter('plans').add(1);
    logger.emit({ body: 'plan ready', severityText: 'INFO' });
    await guard.call('hi', async () => ({ model: 'gpt-4o-mini', usage: { prompt_tokens: 3, completion_tokens: 1 } }));
    await telemetry.shutdown();

    for (const path of ['/v1/traces', '/v1/metrics', '/v1/logs']) expect(receiver.paths()).toContain(path);
    for (const request of receiver.received) {
      expect(request.contentType).toBe('application/x-protobuf');
      expect(request.authorization).toBe('Bearer ingest-token');
    }
    const traces = receiver.received.filter((r) => r.path === '/v1/traces').flatMap((r) => decoded(decodeTracesProtobuf(r.body)).resourceSpans);
    const resource = toAttributeRecord(traces[0]?.resource.attributes ?? []);
    expect(resource).toMatchObject({
      'service.name': 'planner',
      'service.version': '1.4.2',
      'heph.control.url': controlUrl,
      'deployment.environment.name': 'test',
      'telemetry.sdk.language': 'nodejs',
    });
    expect(resource['service.instance.id']).toMatch(/^[0-9a-f-]{36}$/);
    const spanNames = traces.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.name)));
    expect(spanNames).toEqual(expect.arrayContaining(['POST /v1/plan', 'chat gpt-4o-mini']));

    const metricNames = receiver.received
      .filter((r) => r.path === '/v1/metrics')
      .flatMap((r) => decoded(decodeMetricsProtobuf(r.body)).resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name))));
    expect(metricNames).toEqual(expect.arrayContaining(['plans', 'gen_ai.client.token.usage', 'gen_ai.client.operation.duration']));
    const logBodies = receiver.received
      .filter((r) => r.path === '/v1/logs')
      .flatMap((r) => decoded(decodeLogsProtobuf(r.body)).resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((s) => s.logRecords.map((l) => l.body?.stringValue))));
    expect(logBodies).toContain('plan ready');

    // The control endpoint goes with the telemetry.
    await expect(fetch(`${controlUrl}/health`)).rejects.toThrow();
  });

  it('runs one setup at a time, and can start again after shutdown', async () => {
    receiver = await startReceiver();
    const first = await startTelemetry({ serviceName: 'a', endpoint: receiver.endpoint });
    await expect(startTelemetry({ serviceName: 'b', endpoint: receiver.endpoint })).rejects.toThrow(/already started/);
    await first.shutdown();
    telemetry = await startTelemetry({ serviceName: 'b', endpoint: receiver.endpoint });
    telemetry.tracer.startSpan('after restart').end();
    await telemetry.shutdown();
    const traces = receiver.received.filter((r) => r.path === '/v1/traces').flatMap((r) => decoded(decodeTracesProtobuf(r.body)).resourceSpans);
    expect(traces.map((r) => toAttributeRecord(r.resource.attributes)['service.name'])).toEqual(['b']);
  });

  it('keeps the agent working when nothing listens at the endpoint', async () => {
    const nowhere = await startReceiver();
    const endpoint = nowhere.endpoint;
    await nowhere.close();
    telemetry = await startTelemetry({ serviceName: 'offline', endpoint, exportTimeoutMs: 500 });
    const guard = createLlmGuard({ provider: 'openai', model: 'gpt-4o-mini', concurrency: 1, cache: { ttlMs: 1000, maxEntries: 10 }, breaker: { failureThreshold: 3, resetMs: 1000 } });
    await expect(guard.call('hi', async () => 'hello')).resolves.toBe('hello');
    telemetry.logger.emit({ body: 'still here' });
    await expect(telemetry.shutdown()).resolves.toBeUndefined();
  });

  it('flushes on SIGTERM when asked, then ends the process as the signal would', async () => {
    receiver = await startReceiver();
    const agent = `
      const { startTelemetry } = await import(${JSON.stringify(pathToFileURL(new URL('./telemetry.ts', import.meta.url).pathname).href)});
      const telemetry = await startTelemetry({ serviceName: 'sigterm-agent', endpoint: process.env.OTLP_ENDPOINT, shutdownOn: ['SIGTERM'] });
      telemetry.tracer.startSpan('last words').end();
      setInterval(() => {}, 1000);
      console.log('ready');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', agent], {
      env: { ...process.env, OTLP_ENDPOINT: receiver.endpoint },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    expect(line.toString()).toContain('ready');
    child.kill('SIGTERM');
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    expect(receiver.paths()).toContain('/v1/traces');
  });
});
