// The OTLP/HTTP receiver against the real Kafka broker: what it answers, and what reaches the log.
import { execFileSync } from 'node:child_process';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLog, listen, loadConfig, newRegistry, type ConsumedRecord, type Log } from '@hephaestus/platform';
import { kafkaBrokers, startGroupAtEnd, testLogger, trickleBody } from '@hephaestus/platform/testing';
import { decodeTracesJson, decodeTracesProtobuf, encodeTracesProtobuf, otlpRoot, toSpanRecords } from '@hephaestus/schemas';
import { ingestConfig, ingestToken } from './config.ts';
import { createIngestServer } from './ingest.ts';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const exportRequest = (service: string, spans: Array<{ name: string; traceId?: string; spanId?: string }>) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [
        {
          scope: { name: 'test' },
          spans: spans.map((s) => ({
            traceId: s.traceId ?? hex(16),
            spanId: s.spanId ?? hex(8),
            name: s.name,
            kind: 2,
            startTimeUnixNano: '1700000000000000000',
            endTimeUnixNano: '1700000000250000000',
            status: { code: 2, message: 'boom' },
          })),
        },
      ],
    },
  ],
});

describe('ingest on kafka', () => {
  let log: Log;
  let app: FastifyInstance;
  const received: ConsumedRecord[] = [];
  let stopConsumer: () => Promise<void>;

  beforeAll(async () => {
    log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'ingest-test' }, testLogger());
    await log.ensureTopics();
    app = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 64 * 1024, writeTimeoutMs: 5000 });
    // Only this file's records: a new group would first read every earlier test's spans.
    const groupId = `ingest-test-${hex(4)}`;
    await startGroupAtEnd(groupId, ['otel.spans']);
    const subscription = await log.subscribe({ groupId, topics: ['otel.spans'], handle: async ({ records }) => void received.push(...records) });
    stopConsumer = subscription.stop;
  });
  afterAll(async () => {
    await stopConsumer();
    await app.close();
    await log.close();
  });

  const messagesFor = async (service: string, count = 1) => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const mine = received.filter((r) => r.key === service);
      if (mine.length >= count) return mine;
      await sleep(50);
    }
    throw new Error(`no message for ${service} reached otel.spans`);
  };

  it('writes a JSON export as one OTLP protobuf message per resource, keyed by service.name', async () => {
    const service = `svc-${hex(4)}`;
    const response = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: exportRequest(service, [{ name: 'GET /a' }, { name: 'GET /b' }]) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('application/json');
    expect(response.json()).toEqual({});
    const [message] = await messagesFor(service);
    expect(message!.headers).toMatchObject({ 'content-type': 'application/x-protobuf', 'heph-record-count': '2', 'heph-schema-version': '1' });
    // The value is a plain ExportTraceServiceRequest: the OTLP message type alone reads it.
    const official = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest').decode(message!.value) as any;
    expect(official.resourceSpans[0].scopeSpans[0].spans.map((s: any) => s.name)).toEqual(['GET /a', 'GET /b']);
    const decoded = decodeTracesProtobuf(message!.value);
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(toSpanRecords(decoded.value).map((s) => [s.service, s.status, s.durationMs])).toEqual([[service, 'error', 250], [service, 'error', 250]]);
  });

  it('marks each record with a request id derived from the body: a retry of the same body, gzipped or not, carries the same ids', async () => {
    const service = `retry-${hex(4)}`;
    const body = JSON.stringify(exportRequest(service, [{ name: 'GET /a' }]));
    const other = JSON.stringify(exportRequest(service, [{ name: 'GET /b' }]));
    const post = (payload: string | Buffer, gzip = false) =>
      app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, payload });
    expect((await post(body)).statusCode).toBe(200);
    expect((await post(gzipSync(body), true)).statusCode).toBe(200);
    expect((await post(other)).statusCode).toBe(200);
    const ids = (await messagesFor(service, 3)).map((m) => m.headers['heph-request-id']);
    expect(ids[0]).toMatch(/^[0-9a-f]{32}-0$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('accepts protobuf, gzip-compressed, and answers in protobuf', async () => {
    const service = `svc-${hex(4)}`;
    const decoded = decodeTracesJson(JSON.stringify(exportRequest(service, [{ name: 'proto' }])));
    if (!decoded.ok) throw new Error(decoded.error.message);
    const response = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      payload: gzipSync(encodeTracesProtobuf(decoded.value)),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-protobuf');
    await messagesFor(service);
  });

  it('keeps the valid spans and reports the invalid ones through partial success', async () => {
    const service = `svc-${hex(4)}`;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: exportRequest(service, [{ name: 'good' }, { name: 'zero trace id', traceId: '0'.repeat(32) }]),
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringContaining('invalid trace id') } });
    const [message] = await messagesFor(service);
    expect(message!.headers['heph-record-count']).toBe('1');
  });

  it('refuses malformed JSON and protobuf with 400 and a message', async () => {
    const json = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: '{"resourceSpans": [' });
    expect(json.statusCode).toBe(400);
    expect(json.json()).toMatchObject({ code: 3, message: expect.stringMatching(/invalid OTLP JSON/) });
    const proto = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/x-protobuf' }, payload: Buffer.from([0x0a, 0xff, 0xff, 0xff]) });
    expect(proto.statusCode).toBe(400);
    // The error body is a google.rpc.Status in protobuf: field 1 (code) = 3, field 2 (message).
    expect(proto.headers['content-type']).toBe('application/x-protobuf');
    expect([...proto.rawPayload.subarray(0, 3)]).toEqual([0x08, 0x03, 0x12]);
  });

  it('refuses an unsupported content type with 415', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(response.statusCode).toBe(415);
    expect(response.json().message).toContain('application/x-protobuf');
  });

  it('refuses a body over the limit with 413, also when it only inflates past the limit', async () => {
    const big = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: `{"x":"${'a'.repeat(70 * 1024)}"}` });
    expect(big.statusCode).toBe(413);
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const response = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: bomb });
    expect(response.statusCode).toBe(413);
    expect(response.json().message).toContain('inflates past');
  });

  it('refuses a missing or wrong bearer token with 401 and writes nothing', async () => {
    const guarded = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: ['s3cret-token'], maxBodyBytes: 1 << 20, writeTimeoutMs: 5000 });
    const service = `svc-${hex(4)}`;
    const payload = exportRequest(service, [{ name: 'x' }]);
    for (const authorization of [undefined, 'Bearer wrong', 's3cret-token']) {
      const response = await guarded.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, payload });
      expect(response.statusCode).toBe(401);
    }
    const ok = await guarded.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret-token' }, payload });
    expect(ok.statusCode).toBe(200);
    expect(await messagesFor(service)).toHaveLength(1);
    await guarded.close();
  });

  it('refuses the resources of a service its token may not speak for (partial success), keeping its own', async () => {
    const guarded = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: [{ name: 'agents', token: 'tokA', services: ['agent-*'] }], maxBodyBytes: 1 << 20, writeTimeoutMs: 5000 });
    const own = `agent-${hex(4)}`;
    const foreign = `checkout-${hex(4)}`;
    // The attack: failing spans (every test span fails) and a control URL for a service the token does not own.
    const withControl = (service: string) => {
      const request = exportRequest(service, [{ name: 'GET /x' }, { name: 'GET /y' }]);
      request.resourceSpans[0]!.resource.attributes.push({ key: 'heph.control.url', value: { stringValue: 'http://127.0.0.1:9/steal?x=' } });
      return request.resourceSpans[0]!;
    };
    for (const format of ['json', 'protobuf'] as const) {
      const body = { resourceSpans: [withControl(own), withControl(foreign)] };
      const decoded = decodeTracesJson(JSON.stringify(body));
      if (!decoded.ok) throw new Error(decoded.error.message);
      const payload = format === 'json' ? JSON.stringify(body) : Buffer.from(encodeTracesProtobuf(decoded.value));
      const contentType = format === 'json' ? 'application/json' : 'application/x-protobuf';
      const response = await guarded.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': contentType, authorization: 'Bearer tokA' }, payload });
      expect(response.statusCode).toBe(200);
      if (format === 'json') {
        expect(response.json()).toEqual({ partialSuccess: { rejectedSpans: '2', errorMessage: `2 spans refused: token 'agents' may not speak for service.name '${foreign}'` } });
      } else {
        const answer = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse').decode(response.rawPayload) as any;
        expect(Number(answer.partialSuccess?.rejectedSpans)).toBe(2);
        expect(answer.partialSuccess?.errorMessage).toContain(`may not speak for service.name '${foreign}'`);
      }
      // A request with only foreign resources writes nothing and says so.
      const alone = await guarded.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', authorization: 'Bearer tokA' }, payload: JSON.stringify({ resourceSpans: [withControl(foreign)] }) });
      expect(alone.statusCode).toBe(200);
      expect(alone.json().partialSuccess.rejectedSpans).toBe('2');
    }
    const resourceOf = (message: ConsumedRecord) => {
      const decoded = decodeTracesProtobuf(message.value);
      if (!decoded.ok) throw new Error(decoded.error.message);
      return Object.fromEntries(decoded.value.resourceSpans[0]!.resource.attributes.map((a) => [a.key, a.value]));
    };
    const ownMessages = await messagesFor(own, 2);
    for (const m of ownMessages) expect(resourceOf(m)['heph.control.url']).toEqual({ stringValue: 'http://127.0.0.1:9/steal?x=' });
    // A later request of the own service has arrived too: nothing of the foreign one, sent before it, was written.
    const marker = await guarded.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', authorization: 'Bearer tokA' }, payload: exportRequest(own, [{ name: 'marker' }]) });
    expect(marker.statusCode).toBe(200);
    await messagesFor(own, 3);
    expect(received.filter((r) => r.key === foreign)).toHaveLength(0);
    await guarded.close();
  });

  it('reads HEPH_INGEST_TOKENS as [name:]token[=glob;glob…], a plain token speaking for any service', () => {
    const config = loadConfig(ingestConfig, { HEPH_INGEST_TOKENS: 'agents:tokA=agent-*;planner,ops:tokB,plain,padded==,bare=svc' });
    expect(config.HEPH_INGEST_TOKENS).toEqual([
      { name: 'agents', token: 'tokA', services: ['agent-*', 'planner'] },
      { name: 'ops', token: 'tokB', services: ['*'] },
      { name: 'token-3', token: 'plain', services: ['*'] },
      { name: 'token-4', token: 'padded==', services: ['*'] },
      { name: 'token-5', token: 'bare', services: ['svc'] },
    ]);
    expect(config.HEPH_INGEST_BODY_TIMEOUT_SECONDS).toBe(30);
    expect(ingestToken('abc', 0)).toEqual({ name: 'token-1', token: 'abc', services: ['*'] });
  });

  it('serves /metrics that promtool accepts without findings', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('heph_ingest_requests_total{signal="traces",code="200"}');
    const promtool = process.env.PROMTOOL;
    if (!promtool) throw new Error('PROMTOOL is not set: run through `npm test` (its global setup provides promtool)');
    expect(execFileSync(promtool, ['check', 'metrics'], { input: response.body, encoding: 'utf8' })).toBe('');
  });
});

describe('ingest when the log is down', () => {
  it('answers 503 with Retry-After and never 2xx for data it did not keep', async () => {
    // Nothing listens on port 1 of the loopback: every write fails.
    const log = createKafkaLog({ brokers: ['127.0.0.1:1'], clientId: 'ingest-down-test', requestTimeoutMs: 500 }, testLogger());
    const app = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 1 << 20, writeTimeoutMs: 3000 });
    const response = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: exportRequest('down', [{ name: 'lost?' }]) });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await app.close();
    await log.close();
  });
});

describe('ingest with large resource batches', () => {
  it('splits a resource batch over the record limit into several messages that together hold every span', async () => {
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'ingest-split-test' }, testLogger());
    const app = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 1 << 20, writeTimeoutMs: 10_000, maxRecordBytes: 4096 });
    const received: ConsumedRecord[] = [];
    const splitGroup = `ingest-split-${hex(4)}`;
    await startGroupAtEnd(splitGroup, ['otel.spans']);
    const subscription = await log.subscribe({ groupId: splitGroup, topics: ['otel.spans'], handle: async ({ records }) => void received.push(...records) });
    const service = `big-${hex(4)}`;
    const names = Array.from({ length: 120 }, (_, i) => `span ${i}`);
    for (const format of ['json', 'protobuf'] as const) {
      const request = exportRequest(`${service}-${format}`, names.map((name) => ({ name })));
      const decoded = decodeTracesJson(JSON.stringify(request));
      if (!decoded.ok) throw new Error(decoded.error.message);
      const response = await app.inject({
        method: 'POST',
        url: '/v1/traces',
        headers: { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' },
        payload: format === 'json' ? JSON.stringify(request) : Buffer.from(encodeTracesProtobuf(decoded.value)),
      });
      expect(response.statusCode).toBe(200);
    }
    for (const format of ['json', 'protobuf']) {
      const key = `${service}-${format}`;
      const deadline = Date.now() + 30_000;
      let spans: string[] = [];
      let messages: ConsumedRecord[] = [];
      while (Date.now() < deadline && spans.length < names.length) {
        messages = received.filter((r) => r.key === key);
        spans = messages.flatMap((m) => {
          const decoded = decodeTracesProtobuf(m.value);
          if (!decoded.ok) throw new Error(decoded.error.message);
          return toSpanRecords(decoded.value).map((s) => s.name);
        });
        await sleep(50);
      }
      expect(messages.length).toBeGreaterThan(1);
      expect(messages.every((m) => m.value.length <= 4096)).toBe(true);
      expect(messages.reduce((n, m) => n + Number(m.headers['heph-record-count']), 0)).toBe(names.length);
      expect(spans.sort()).toEqual([...names].sort());
    }
    await subscription.stop();
    await app.close();
    await log.close();
  });
});

describe('ingest reading bodies off the socket', () => {
  type Answer = { status: number; body: string; closed: boolean; ms: number };
  /** A raw request whose body the test writes itself, slowly or never. */
  const open = (port: number, headers: Record<string, string>): { request: ClientRequest; answer: Promise<Answer> } => {
    const started = Date.now();
    const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/traces', headers: { 'content-type': 'application/json', ...headers } });
    const answer = new Promise<Answer>((resolve, reject) => {
      request.on('response', (response: IncomingMessage) => {
        let body = '';
        response.on('data', (c: Buffer) => (body += c.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, body, closed: response.headers.connection === 'close', ms: Date.now() - started }));
      });
      request.on('error', reject);
    });
    request.flushHeaders();
    return { request, answer };
  };
  const nullLog = { send: async () => {}, ready: async () => true } as unknown as Log;

  it('refuses a wrong token before reading the body: a 15 MiB upload announced is answered at once, unread', async () => {
    const app = createIngestServer({ log: nullLog, logger: testLogger(), registry: newRegistry(), tokens: ['s3cret'], maxBodyBytes: 16 << 20, writeTimeoutMs: 5000 });
    const port = await listen(app, '127.0.0.1', 0);
    const { request, answer } = open(port, { 'content-length': String(15 << 20), authorization: 'Bearer wrong' });
    request.write(Buffer.alloc(1024, 0x20));
    const answered = await answer;
    // Answered although 15 MiB less 1 KiB never came: the body was not waited for.
    expect(answered).toMatchObject({ status: 401, closed: true });
    request.destroy();
    await app.close();
  });

  it('counts bytes in flight while they stream: a chunked body past the limit is refused with 429 before it ends', async () => {
    const app = createIngestServer({ log: nullLog, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 4 << 20, maxInFlightBytes: 256 * 1024, writeTimeoutMs: 5000 });
    const port = await listen(app, '127.0.0.1', 0);
    const first = open(port, { 'transfer-encoding': 'chunked' });
    first.request.write(Buffer.alloc(200 * 1024, 0x20));
    await sleep(200);
    const second = open(port, { 'transfer-encoding': 'chunked' });
    second.request.write(Buffer.alloc(200 * 1024, 0x20));
    const refused = await second.answer;
    expect(refused.status).toBe(429);
    expect(refused.closed).toBe(true);
    second.request.destroy();
    first.request.end();
    expect((await first.answer).status).toBe(400);
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toMatch(/^heph_ingest_in_flight_bytes 0$/m);
    await app.close();
  });

  it('counts a gzip body inflated while it is held: a second small upload that inflates past the limit gets 429', async () => {
    // The log holds every write until released: the first request stays in flight, inflated.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const slowLog = { send: async () => held, ready: async () => true } as unknown as Log;
    const app = createIngestServer({ log: slowLog, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 4 << 20, maxInFlightBytes: 1 << 20, writeTimeoutMs: 30_000 });
    const spans = (service: string) => JSON.stringify(exportRequest(service, Array.from({ length: 3000 }, (_, i) => ({ name: `GET /item/${i}` }))));
    const body = gzipSync(spans(`svc-${hex(4)}`));
    const inflatedBytes = spans('svc-0000').length;
    expect(body.length).toBeLessThan(200 * 1024);
    expect(inflatedBytes).toBeGreaterThan(600 * 1024);
    const post = () => app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: body });
    const first = post();
    await (async () => {
      for (let i = 0; i < 100; i++) {
        if (/^heph_ingest_in_flight_bytes [1-9]\d{5,}$/m.test((await app.inject('/metrics')).body)) return;
        await sleep(20);
      }
    })();
    const second = await post();
    expect(second.statusCode).toBe(429);
    release();
    expect((await first).statusCode).toBe(200);
    expect((await app.inject('/metrics')).body).toMatch(/^heph_ingest_in_flight_bytes 0$/m);
    await app.close();
  });

  it('answers 408 and closes the connection when a body trickles in slower than the body timeout', async () => {
    const app = createIngestServer({ log: nullLog, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 1 << 20, writeTimeoutMs: 5000, bodyTimeoutMs: 600 });
    const port = await listen(app, '127.0.0.1', 0);
    const { request, answer } = open(port, { 'content-length': '100' });
    // A byte every 200 ms: the whole body would take 20 s, and each byte keeps an idle timeout from firing.
    const trickle = trickleBody(request, '{'.repeat(100));
    const answered = await answer;
    trickle.stop();
    expect(answered).toMatchObject({ status: 408, closed: true });
    expect(answered.ms).toBeGreaterThanOrEqual(500);
    // Cut off by the body's deadline, long before the body was complete.
    expect(trickle.written()).toBeLessThan(100);
    request.destroy();
    await app.close();
  });
});
