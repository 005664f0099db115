// The standing security suite (issue 16). Against a running `heph up` (its own process, on the
// Postgres-backed log and PostgreSQL): property-based fuzzing (fast-check) of the three OTLP endpoints in
// both encodings and of the console and Alertmanager APIs, asserting no 5xx for any input, no stall (after
// every batch a good OTLP request is acknowledged and reaches the rollups within seconds) and bounded
// memory; then `kill -9` twice under load with exporters that retry, asserting acknowledged = stored, none
// twice. On Kafka: an exporter's retry of a write that timed out after the log kept it is counted once.
// HEPH_FUZZ_RUNS sets the generated requests per surface (default 1,500); the figures are printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import postgres from 'postgres';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, newRegistry, type Log } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { createIngestServer } from '@hephaestus/ingest';
import {
  decodeLogsJson,
  decodeMetricsJson,
  decodeTracesJson,
  encodeLogsProtobuf,
  encodeMetricsProtobuf,
  encodeTracesProtobuf,
  topics,
} from '@hephaestus/schemas';
import { startControlPlane, upConfig } from '../cli/src/control-plane.ts';
import { eventually, testPlaneEnv } from './support.ts';

const runs = Number(process.env.HEPH_FUZZ_RUNS ?? 1500);
const batchSize = 100;
/** A good request must be acknowledged and in the rollups within this long after a fuzz batch. */
const stallMs = 15_000;
/** RSS growth of the control plane over the fuzzing, after warm-up. */
const rssBoundMb = 256;

const figures = {
  otlp: { tried: 0, statuses: {} as Record<string, number>, fiveHundreds: 0 },
  api: { tried: 0, statuses: {} as Record<string, number>, fiveHundreds: 0 },
  probes: { count: 0, stalls: 0, slowestMs: 0 },
  rss: { baselineMb: 0, peakMb: 0 },
  kill: { kills: 0, acknowledgedSpans: 0, storedSpans: 0, retriedRequests: 0, logRecords: 0 },
  retry: {} as Record<string, { firstStatus: number; retryStatus: number; spansSent: number; stored: number }>,
  embedded: {
    otlp: { tried: 0, statuses: {} as Record<string, number>, fiveHundreds: 0 },
    api: { tried: 0, statuses: {} as Record<string, number>, fiveHundreds: 0 },
    probes: { count: 0, stalls: 0, slowestMs: 0 },
    sigtermExitMs: 0,
  },
};
const count = (into: typeof figures.otlp, status: number | string) => {
  into.tried++;
  into.statuses[status] = (into.statuses[status] ?? 0) + 1;
  if (typeof status === 'number' && status >= 500) into.fiveHundreds++;
};

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** `heph up` as its own process, so its memory is its own and it can be killed with SIGKILL. */
/** `heph up` as a child, once ingest and the console both answer /readyz (ingest listens first). */
const startPlane = async (env: Record<string, string>, ingestUrl: string, consoleUrl = `http://127.0.0.1:${env.HEPH_CONSOLE_PORT}`) => {
  const lines: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, '../cli/src/main.ts'), 'up'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 200));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await eventually('the control plane to answer /readyz', async () => {
    if (child.exitCode !== null) throw new Error(`heph up exited with ${child.exitCode}:\n${lines.join('\n')}`);
    for (const url of [ingestUrl, consoleUrl]) {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      if (response?.status !== 200) return undefined;
    }
    return true;
  }, 90_000);
  return { child, lines, exited };
};

const rssMb = async (pid: number | undefined) => {
  if (pid === undefined) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
};

// ---------------------------------------------------------------------------------------------
// OTLP: valid-looking requests of every signal, then mangled, in either encoding

const nowNs = () => BigInt(Date.now()) * 1_000_000n;
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('\ud83d', 'x\udc00y', 'a\u0000b', '', '💥', '%00', '../..', 'a'.repeat(5000), '<script>', '${jndi:x}'),
);
const nano = fc.oneof(
  fc.constant(null).map(() => String(nowNs())),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.integer(),
  fc.double(),
  text,
);
const hexId = (bytes: number) => fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex')) }, { weight: 1, arbitrary: text });
const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ stringValue: text }),
    fc.record({ intValue: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n }).map(String), fc.integer(), text) }),
    fc.record({ doubleValue: fc.oneof(fc.double(), text) }),
    fc.record({ boolValue: fc.oneof(fc.boolean(), text) }),
    fc.record({ bytesValue: fc.oneof(fc.base64String({ maxLength: 16 }), text) }),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('value'), { maxLength: 3 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.array(fc.record({ key: text, value: tie('value') }), { maxLength: 3 }) }) }),
    fc.constant({}),
  ),
})).value;
/** An AnyValue nested `depth` levels: ingest takes up to 24, refuses deeper with 400. */
const deepValue = fc.integer({ min: 18, max: 60 }).map((depth) => {
  let value: unknown = { stringValue: 'deep' };
  for (let i = 0; i < depth; i++) value = { kvlistValue: { values: [{ key: 'k', value }] } };
  return value;
});
const attributeKey = fc.oneof(fc.constantFrom('service.name', 'heph.control.url', 'service.version', 'http.response.status_code', 'gen_ai.usage.input_tokens', 'error.type'), text);
const attributes = fc.array(fc.record({ key: attributeKey, value: fc.oneof({ weight: 8, arbitrary: anyValue }, { weight: 1, arbitrary: deepValue }) }), { maxLength: 4 });
const resource = fc.record(
  {
    attributes: fc.oneof(
      attributes.map((a) => [{ key: 'service.name', value: { stringValue: `fuzz-${a.length}` } }, ...a]),
      attributes,
    ),
    droppedAttributesCount: fc.oneof(fc.nat(), text),
  },
  { requiredKeys: [] },
);
const scope = fc.record({ name: text, version: text, attributes }, { requiredKeys: [] });
const span = fc.record(
  {
    traceId: hexId(16),
    spanId: hexId(8),
    parentSpanId: hexId(8),
    name: text,
    kind: fc.oneof(fc.integer({ min: -1, max: 6 }), text),
    startTimeUnixNano: nano,
    endTimeUnixNano: nano,
    attributes,
    events: fc.array(fc.record({ name: text, timeUnixNano: nano, attributes }, { requiredKeys: [] }), { maxLength: 2 }),
    links: fc.array(fc.record({ traceId: hexId(16), spanId: hexId(8) }, { requiredKeys: [] }), { maxLength: 2 }),
    status: fc.record({ code: fc.oneof(fc.integer({ min: -1, max: 3 }), text), message: text }, { requiredKeys: [] }),
  },
  { requiredKeys: ['traceId', 'spanId', 'name', 'startTimeUnixNano', 'endTimeUnixNano'] },
);
const point = fc.record(
  {
    timeUnixNano: nano,
    startTimeUnixNano: nano,
    asDouble: fc.oneof(fc.double(), text),
    asInt: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n }).map(String), text),
    count: fc.oneof(fc.nat().map(String), text),
    sum: fc.double(),
    bucketCounts: fc.array(fc.oneof(fc.nat().map(String), text), { maxLength: 4 }),
    explicitBounds: fc.array(fc.double(), { maxLength: 3 }),
    attributes,
  },
  { requiredKeys: ['timeUnixNano'] },
);
const points = fc.array(point, { maxLength: 4 });
const metric = fc.record(
  {
    name: text,
    unit: text,
    gauge: fc.record({ dataPoints: points }),
    sum: fc.record({ dataPoints: points, aggregationTemporality: fc.oneof(fc.integer({ min: 0, max: 3 }), text), isMonotonic: fc.boolean() }, { requiredKeys: ['dataPoints'] }),
    histogram: fc.record({ dataPoints: points, aggregationTemporality: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: ['dataPoints'] }),
  },
  { requiredKeys: ['name'] },
);
const logRecord = fc.record(
  { timeUnixNano: nano, observedTimeUnixNano: nano, severityNumber: fc.oneof(fc.integer({ min: -1, max: 30 }), text), severityText: text, body: anyValue, attributes, traceId: hexId(16), spanId: hexId(8) },
  { requiredKeys: [] },
);
const resources = <T>(list: string, scopes: string, records: string, record: fc.Arbitrary<T>) =>
  fc.record({ [list]: fc.array(fc.record({ resource, [scopes]: fc.array(fc.record({ scope, [records]: fc.array(record, { maxLength: 4 }) }, { requiredKeys: [records] }), { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 3 }) });

type Signal = 'traces' | 'metrics' | 'logs';
const documents: Record<Signal, fc.Arbitrary<unknown>> = {
  traces: resources('resourceSpans', 'scopeSpans', 'spans', span),
  metrics: resources('resourceMetrics', 'scopeMetrics', 'metrics', metric),
  logs: resources('resourceLogs', 'scopeLogs', 'logRecords', logRecord),
};
/** The protobuf of a document the JSON decoder reads (else its JSON bytes, sent as protobuf). */
const protobufOf: Record<Signal, (json: string) => Buffer> = {
  traces: (json) => {
    const d = decodeTracesJson(json);
    return Buffer.from(d.ok ? encodeTracesProtobuf(d.value) : Buffer.from(json));
  },
  metrics: (json) => {
    const d = decodeMetricsJson(json);
    return Buffer.from(d.ok ? encodeMetricsProtobuf(d.value) : Buffer.from(json));
  },
  logs: (json) => {
    const d = decodeLogsJson(json);
    return Buffer.from(d.ok ? encodeLogsProtobuf(d.value) : Buffer.from(json));
  },
};
type Mangle = { kind: 'none' } | { kind: 'truncate'; at: number } | { kind: 'flip'; at: number[]; to: number[] } | { kind: 'garbage'; bytes: Uint8Array } | { kind: 'json'; value: unknown };
const mangle: fc.Arbitrary<Mangle> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ kind: 'truncate' as const, at })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }), to: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: 'garbage' as const, bytes })) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => ({ kind: 'json' as const, value })) },
);
const applyMangle = (body: Buffer, m: Mangle): Buffer => {
  if (m.kind === 'truncate') return body.subarray(0, Math.floor(body.length * m.at));
  if (m.kind === 'flip') {
    const copy = Buffer.from(body);
    if (copy.length > 0) m.at.forEach((at, i) => (copy[Math.min(copy.length - 1, Math.floor(at * copy.length))] = m.to[i]!));
    return copy;
  }
  if (m.kind === 'garbage') return Buffer.from(m.bytes);
  if (m.kind === 'json') return Buffer.from(JSON.stringify(m.value) ?? 'null');
  return body;
};
const otlpRequest = fc
  .constantFrom<Signal>('traces', 'metrics', 'logs')
  .chain((signal) =>
    fc.record({
      signal: fc.constant(signal),
      document: documents[signal],
      encoding: fc.constantFrom('json' as const, 'protobuf' as const),
      mangle,
      method: fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH') }),
      path: fc.oneof({ weight: 12, arbitrary: fc.constant(`/v1/${signal}`) }, { weight: 1, arbitrary: fc.constantFrom(`/v1/${signal}/`, `/v1//${signal}`, `/V1/${signal}`, `/%76%31/${signal}`, `/v1/${signal}?x=%00`, `/v1/${signal}/../${signal}`, '/v1/') }),
      contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('right') }, { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/X-PROTOBUF', 'text/plain', '', 'none', 'application/json, application/x-protobuf', 'multipart/form-data; boundary=x', 'application/x-protobuf; charset=\u00ff') }),
      contentEncoding: fc.oneof({ weight: 8, arbitrary: fc.constant('none') }, { weight: 2, arbitrary: fc.constant('gzip') }, { weight: 1, arbitrary: fc.constantFrom('GZIP', 'deflate', 'br', 'gzip, gzip', 'identity', '', 'gzip-garbage') }),
      headers: fc.dictionary(fc.constantFrom('authorization', 'x-forwarded-for', 'accept-encoding', 'user-agent', 'accept', 'x-request-id'), fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((v) => v.replace(/[^\x20-\x7e]/g, '')), { maxKeys: 2 }),
    }),
  );
type OtlpRequest = typeof otlpRequest extends fc.Arbitrary<infer R> ? R : never;

const buildOtlp = (r: OtlpRequest) => {
  const json = JSON.stringify(r.document);
  let body = applyMangle(r.encoding === 'json' ? Buffer.from(json) : protobufOf[r.signal](json), r.mangle);
  const headers: Record<string, string> = { ...r.headers };
  const type = r.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  if (r.contentType === 'right') headers['content-type'] = type;
  else if (r.contentType !== 'none') headers['content-type'] = r.contentType;
  if (r.contentEncoding === 'gzip' || r.contentEncoding === 'GZIP') body = gzipSync(body);
  if (r.contentEncoding === 'gzip-garbage') headers['content-encoding'] = 'gzip';
  else if (r.contentEncoding !== 'none') headers['content-encoding'] = r.contentEncoding;
  return { method: r.method, path: r.path, headers, body: r.method === 'GET' || r.method === 'HEAD' ? undefined : body };
};

// ---------------------------------------------------------------------------------------------
// Console and Alertmanager API: every route, its paths encoded and bent, any method, body and header

const routes = [
  '/', '/console', '/healthz', '/readyz', '/metrics', '/api/openapi.json', '/api/incidents', '/api/incidents/:id', '/api/incidents/:id/ack',
  '/api/incidents/:id/resolve', '/api/playbooks', '/api/remediations', '/api/remediations/:id', '/api/remediations/:id/approve',
  '/api/remediations/:id/reject', '/api/services', '/api/services/:id/series', '/api/services/:id/operations', '/api/services/:id/forecasts',
  '/api/incidents/:id/traces', '/api/spend', '/api/silences', '/api/silences/:id', '/api/topology',
  '/api/v2/status', '/api/v2/receivers', '/api/v2/alerts', '/api/v2/silences', '/api/v2/silence/:id', '/github/webhooks', '/nowhere',
];
const percent = (c: string) => [...Buffer.from(c)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
/** encodeURIComponent for any string (a lone surrogate goes as the UTF-8 of U+FFFD, as a browser sends it). */
const component = (s: string) => encodeURIComponent(s.toWellFormed());
/** Only what may not appear in a request line is encoded: the rest goes as generated. */
const raw = (s: string) => [...Buffer.from(s)].map((b) => (b > 0x20 && b < 0x7f ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
const pathId = fc.oneof(fc.uuid(), fc.constantFrom('%00', '..', '%2e%2e', '%ff', '%c0%af', '%', '%zz', '1'.repeat(300), 'a%2fb', '%E2%80%AE'), text.map(component));
const regexText = fc.oneof(fc.constantFrom('(a+)+b', '.*', '[', '(?=x)', '(a)\\1', 'a{1000}{1000}', '(?i)foo', '\\p{L}+', '', '^$', '((((((((((a*)*)*)*)*)*)*)*)*)*)*!'), text);
const matcher = fc.record({ name: fc.oneof(fc.constantFrom('alertname', 'service', 'severity'), text), value: regexText, isRegex: fc.oneof(fc.boolean(), text), isEqual: fc.boolean() }, { requiredKeys: [] });
const dateText = fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('', 'now', '2026-13-45T99:99:99Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z'), text);
const labels = fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'service', 'severity'), text), text, { maxKeys: 4 });
const body = fc.oneof(
  fc.record({ matchers: fc.array(matcher, { maxLength: 3 }), startsAt: dateText, endsAt: dateText, createdBy: text, comment: text, id: fc.oneof(fc.uuid(), text) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.array(fc.record({ labels, annotations: labels, startsAt: dateText, endsAt: dateText, generatorURL: text }, { requiredKeys: [] }), { maxLength: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ by: text, reason: text, note: text }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
  fc.integer({ min: 20, max: 140 }).chain((depth) => fc.constantFrom('[', '{"a":').map((open) => `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`)),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constant(''),
);
const queryKey = fc.oneof(fc.constantFrom('filter', 'active', 'silenced', 'inhibited', 'unprocessed', 'receiver', 'status', 'service', 'from', 'to', 'limit', 'signal', 'since'), text);
const queryValue = fc.oneof(
  matcher.map((m) => `{${String(m.name)}${m.isRegex === true ? '=~' : '='}"${String(m.value)}"}`),
  fc.constantFrom('true', 'false', '-1', '1e309', 'NaN', '', '%00'),
  text,
);
const apiRequest = fc.record({
  route: fc.constantFrom(...routes),
  id: pathId,
  /** Which characters of the path are percent-encoded. */
  encode: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.boolean(), { maxLength: 40 }) }),
  prefix: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('/', '/./', '/x/../', '/%2e/') }),
  query: fc.array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 3 }),
  method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'POST') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') }),
  contentType: fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('none', 'text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'application/merge-patch+json') }),
  origin: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('none', 'self') }, { weight: 1, arbitrary: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1:1', '%%%') }),
  host: fc.oneof({ weight: 8, arbitrary: fc.constant('self') }, { weight: 1, arbitrary: fc.constantFrom('evil.example', '127.0.0.1', 'localhost:1', '[::1]', '') }),
  authorization: fc.constantFrom('none', 'none', 'Bearer x', 'Basic Zm9vOmJhcg==', 'Bearer '),
  body,
});
type ApiRequest = typeof apiRequest extends fc.Arbitrary<infer R> ? R : never;

const buildApi = (r: ApiRequest, consoleHost: string) => {
  const route = r.route.replace(':id', '\u0001');
  let path = [...route].map((c, i) => (c !== '/' && c !== '\u0001' && r.encode[i] ? percent(c) : c)).join('').replace('\u0001', r.id);
  path = (r.prefix + path).replace(/^\/\//, '//');
  if (r.query.length > 0) path += `?${r.query.map(([k, v, asIs]) => `${component(k)}=${asIs ? raw(v) : component(v)}`).join('&')}`;
  const headers: Record<string, string> = { host: r.host === 'self' ? consoleHost : r.host };
  if (r.contentType !== 'none') headers['content-type'] = r.contentType;
  if (r.origin !== 'none') headers.origin = r.origin === 'self' ? `http://${consoleHost}` : r.origin;
  if (r.authorization !== 'none') headers.authorization = r.authorization;
  return { method: r.method, path, headers, body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body };
};

/** Sends one request; a refusal that closed the connection counts as its error code, a stall throws. */
const send = async (pool: Pool, request: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer }): Promise<number | string> => {
  try {
    const response = await pool.request({ ...request, headersTimeout: stallMs, bodyTimeout: stallMs, signal: AbortSignal.timeout(stallMs + 5000) } as Parameters<Pool['request']>[0]);
    await response.body.dump();
    return response.statusCode;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || (error as Error).name === 'TimeoutError') throw new Error(`no answer within ${stallMs} ms to ${request.method} ${request.path}`);
    // Refused by the client library before sending (an invalid path or header): nothing reached the server.
    if (code === 'UND_ERR_INVALID_ARG') return 'not sent';
    return code;
  }
};

// ---------------------------------------------------------------------------------------------

/** `runs` generated requests per surface in batches, each batch followed by the probe (a good request gets through). */
const fuzz = async (o: { ingest: Pool; consoleApi: Pool; consoleHost: string; probe: () => Promise<void>; runs: number; into: { otlp: typeof figures.otlp; api: typeof figures.api } }) => {
  const batches = Math.max(1, Math.ceil(o.runs / batchSize));
  for (let b = 0; b < batches; b++) {
    await fc.assert(
      fc.asyncProperty(otlpRequest, async (r) => {
        const status = await send(o.ingest, buildOtlp(r));
        count(o.into.otlp, status);
        return typeof status !== 'number' || status < 500;
      }),
      { numRuns: batchSize, seed: 16_000 + b, endOnFailure: true },
    );
    await fc.assert(
      fc.asyncProperty(apiRequest, async (r) => {
        const status = await send(o.consoleApi, buildApi(r, o.consoleHost));
        count(o.into.api, status);
        return typeof status !== 'number' || status < 500;
      }),
      { numRuns: batchSize, seed: 26_000 + b, endOnFailure: true },
    );
    await o.probe();
  }
};

/**
 * The probe after each fuzz batch: a good OTLP request is acknowledged and its span reaches the
 * rollups (`stored` says when) within `stallMs`, then `after` runs; counted in `probes`.
 */
const prober =
  (o: { ingest: Pool; run: string; probes: { count: number; stalls: number; slowestMs: number }; stored: (service: string) => Promise<boolean>; after?: () => Promise<void> }) =>
  async () => {
    const service = `probe-${o.run}-${o.probes.count++}`;
    const started = Date.now();
    const t = nowNs();
    const document = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans: [{ traceId: hex(16), spanId: hex(8), name: 'GET /probe', startTimeUnixNano: String(t), endTimeUnixNano: String(t + 1_000_000n) }] }] }] };
    const status = await send(o.ingest, { method: 'POST', path: '/v1/traces', headers: { 'content-type': 'application/json' }, body: JSON.stringify(document) });
    expect(status, 'a good OTLP request after a fuzz batch').toBe(200);
    try {
      await eventually(`the probe span of ${service} in the rollups`, async () => (await o.stored(service)) || undefined, stallMs);
    } catch (error) {
      o.probes.stalls++;
      throw error;
    }
    await o.after?.();
    o.probes.slowestMs = Math.max(o.probes.slowestMs, Date.now() - started);
  };

describe('security suite', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  /** Client pools on a plane's ingest and console, closed at the end. */
  const poolsFor = (ingestUrl: string, consoleHost: string) => {
    const ingest = new Pool(ingestUrl, { connections: 4 });
    const consoleApi = new Pool(`http://${consoleHost}`, { connections: 4 });
    cleanups.push(() => ingest.close(), () => consoleApi.close());
    return { ingest, consoleApi };
  };
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    console.log(`security suite figures:\n${JSON.stringify(figures, null, 2)}`);
  });

  it('fuzzes OTLP, console and Alertmanager APIs against heph up: no 5xx, no stall, bounded memory; then kill -9 twice under load: acknowledged = stored, none twice', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const sql = postgres(db.url, { onnotice: () => {}, max: 2 });
    cleanups.push(() => sql.end());
    const dir = await mkdtemp(join(tmpdir(), 'heph-security-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const run = hex(4);
    const [ingestPort, consolePort] = [await freePort(), await freePort()];
    const ingestUrl = `http://127.0.0.1:${ingestPort}`;
    const consoleHost = `127.0.0.1:${consolePort}`;
    const env = {
      ...testPlaneEnv(db.url, dir, `security-${run}`),
      // The Postgres-backed log on PostgreSQL: a fresh log, no other run's backlog to read first.
      KAFKA_BROKERS: '',
      HEPH_DATA_DIR: join(dir, 'data'),
      HEPH_INGEST_PORT: String(ingestPort),
      HEPH_CONSOLE_PORT: String(consolePort),
    };
    let plane = await startPlane(env, ingestUrl);
    cleanups.push(async () => {
      plane.child.kill('SIGKILL');
      await plane.exited;
    });
    const { ingest, consoleApi } = poolsFor(ingestUrl, consoleHost);

    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        figures.rss.peakMb = Math.max(figures.rss.peakMb, await rssMb(plane.child.pid));
        await sleep(200);
      }
    })();
    cleanups.push(async () => {
      sampling = false;
      await sampler;
    });

    const calls = async (service: string) => {
      const [row] = await sql<{ calls: number | null }[]>`SELECT sum(calls)::int AS calls FROM rollups WHERE service = ${service} AND resolution_seconds = 2`;
      return row?.calls ?? 0;
    };
    // …and the console answers.
    const probe = prober({
      ingest,
      run,
      probes: figures.probes,
      stored: async (service) => (await calls(service)) === 1,
      after: async () => expect(await send(consoleApi, { method: 'GET', path: '/api/incidents', headers: { host: consoleHost } })).toBe(200),
    });

    // Warm-up, then the baseline the memory bound is measured from.
    await probe();
    await probe();
    figures.rss.baselineMb = await rssMb(plane.child.pid);
    figures.rss.peakMb = figures.rss.baselineMb;

    await fuzz({ ingest, consoleApi, consoleHost, probe, runs, into: figures });
    sampling = false;
    await sampler;
    expect(figures.otlp.fiveHundreds + figures.api.fiveHundreds).toBe(0);
    expect(figures.probes.stalls).toBe(0);
    expect(figures.rss.peakMb - figures.rss.baselineMb, `RSS ${figures.rss.baselineMb} MB → peak ${figures.rss.peakMb} MB`).toBeLessThan(rssBoundMb);

    // kill -9 under load. Each exporter sends 50 spans per request and, as OTLP exporters do, retries the
    // same body until it is acknowledged; ingest's request ids make a retry of a kept write harmless.
    const service = (k: number) => `load-${run}-${k}`;
    let loading = true;
    const exporter = async (k: number) => {
      while (loading) {
        const t = nowNs();
        const spans = Array.from({ length: 50 }, (_, i) => ({ traceId: hex(16), spanId: hex(8), name: 'GET /load', startTimeUnixNano: String(t + BigInt(i)), endTimeUnixNano: String(t + BigInt(i) + 2_000_000n) }));
        const document = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service(k) } }] }, scopeSpans: [{ spans }] }] });
        for (let attempt = 0; ; attempt++) {
          const status = await send(ingest, { method: 'POST', path: '/v1/traces', headers: { 'content-type': 'application/json' }, body: document }).catch(() => 'timeout');
          if (status === 200) break;
          figures.kill.retriedRequests++;
          await sleep(Math.min(1000, 100 * 2 ** attempt));
        }
        figures.kill.acknowledgedSpans += 50;
        await sleep(10);
      }
    };
    const exporters = Array.from({ length: 4 }, (_, k) => exporter(k));
    for (let kill = 0; kill < 2; kill++) {
      const before = figures.kill.acknowledgedSpans;
      await eventually('load to be acknowledged before the kill', () => figures.kill.acknowledgedSpans >= before + 5_000 || undefined, 60_000);
      plane.child.kill('SIGKILL');
      await plane.exited;
      figures.kill.kills++;
      plane = await startPlane(env, ingestUrl);
    }
    const before = figures.kill.acknowledgedSpans;
    await eventually('load to be acknowledged after the last restart', () => figures.kill.acknowledgedSpans >= before + 2_000 || undefined, 60_000);
    loading = false;
    await Promise.all(exporters);

    // Everything in the log has been applied (every otel.spans partition), then stored must equal acknowledged.
    const caughtUp = async () => {
      const rows = await sql<{ behind: number }[]>`
        SELECT count(*)::int AS behind FROM log_partitions p
        LEFT JOIN applied_offsets a ON a.consumer = ${`security-${run}-analyzer`} AND a.topic = p.topic AND a.partition = p.partition
        WHERE p.topic = ${topics.spans} AND coalesce(a.next_offset, 0) < p.next_offset`;
      return rows[0]!.behind === 0;
    };
    await eventually('the analyzer to apply every record of otel.spans', caughtUp, 90_000);
    const [stored] = await sql<{ calls: number }[]>`SELECT coalesce(sum(calls), 0)::int AS calls FROM rollups WHERE service LIKE ${`load-${run}-%`} AND resolution_seconds = 2`;
    const [records] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM log_records WHERE topic = ${topics.spans} AND key LIKE ${`load-${run}-%`}`;
    figures.kill.storedSpans = stored!.calls;
    figures.kill.logRecords = records!.n;
    expect(figures.kill.storedSpans).toBe(figures.kill.acknowledgedSpans);
  }, 420_000);

  // The embedded default the issue's attacks were made against: one PGlite connection shared by the
  // log, the analyzer and the console. A fifth of the requests; then SIGTERM must finish.
  it('fuzzes the embedded default (PGlite, no DATABASE_URL or Kafka): no 5xx, no stall, and SIGTERM exits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heph-security-embedded-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const run = hex(4);
    const [ingestPort, consolePort] = [await freePort(), await freePort()];
    const ingestUrl = `http://127.0.0.1:${ingestPort}`;
    const consoleHost = `127.0.0.1:${consolePort}`;
    const { DATABASE_URL: _database, KAFKA_BROKERS: _kafka, ...rest } = testPlaneEnv('postgres://unused', dir, `security-embedded-${run}`);
    const env = { ...rest, HEPH_DATA_DIR: join(dir, 'data'), HEPH_INGEST_PORT: String(ingestPort), HEPH_CONSOLE_PORT: String(consolePort) };
    const plane = await startPlane(env, ingestUrl);
    cleanups.push(async () => {
      plane.child.kill('SIGKILL');
      await plane.exited;
    });
    const { ingest, consoleApi } = poolsFor(ingestUrl, consoleHost);
    const into = figures.embedded;
    // Stored: the console's service list counts it (no SQL into the embedded database).
    const probe = prober({
      ingest,
      run,
      probes: into.probes,
      stored: async (service) => {
        const response = await fetch(`http://${consoleHost}/api/services`, { signal: AbortSignal.timeout(stallMs) });
        const { services } = (await response.json()) as { services: Array<{ name: string; callsLast5m: number }> };
        return services.find((x) => x.name === service)?.callsLast5m === 1;
      },
    });
    await probe();
    await fuzz({ ingest, consoleApi, consoleHost, probe, runs: Math.max(batchSize, Math.round(runs / 5)), into });
    expect(into.otlp.fiveHundreds + into.api.fiveHundreds).toBe(0);
    expect(into.probes.stalls).toBe(0);
    const stopping = Date.now();
    plane.child.kill('SIGTERM');
    await Promise.race([plane.exited, sleep(30_000)]);
    into.sigtermExitMs = Date.now() - stopping;
    expect(plane.child.exitCode, `heph up after SIGTERM:\n${plane.lines.slice(-20).join('\n')}`).toBe(0);
  }, 420_000);

  // On each log: Kafka, the PostgreSQL-backed log, and the embedded default (PGlite, no DATABASE_URL).
  it.each(['Kafka', 'the PostgreSQL log', 'embedded PGlite'] as const)('counts once an exporter retry of a request whose write timed out after %s kept it', async (backend) => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const run = hex(4);
    const prefix = `retry-${run}`;
    const dir = await mkdtemp(join(tmpdir(), 'heph-retry-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { KAFKA_BROKERS, DATABASE_URL, ...rest } = testPlaneEnv(db.url, dir, prefix);
    const env =
      backend === 'Kafka' ? { ...rest, KAFKA_BROKERS, DATABASE_URL } : backend === 'the PostgreSQL log' ? { ...rest, DATABASE_URL } : { ...rest, HEPH_DATA_DIR: join(dir, 'data') };
    const figure = (figures.retry[backend] = { firstStatus: 0, retryStatus: 0, spansSent: 0, stored: 0 });
    const plane = await startControlPlane(loadConfig(upConfig, env), testLogger());
    cleanups.push(plane.stop);

    // The write reaches Kafka, but its acknowledgement comes after the write timeout: the exporter hears 503.
    let kept: Promise<void> = Promise.resolve();
    const late: Log = {
      ...plane.runtime.log,
      send: (topic, records) => {
        kept = plane.runtime.log.send(topic, records);
        return kept.then(() => sleep(500));
      },
    };
    const slowIngest = createIngestServer({ log: late, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 1 << 20, writeTimeoutMs: 100 });
    cleanups.push(() => slowIngest.close());
    const service = `retried-${run}`;
    const t = nowNs();
    const document = (n: number) =>
      JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans: Array.from({ length: n }, (_, i) => ({ traceId: hex(16), spanId: hex(8), name: 'GET /retry', startTimeUnixNano: String(t + BigInt(i)), endTimeUnixNano: String(t + BigInt(i) + 1_000_000n) })) }] }] });
    const body = document(25);
    figure.spansSent = 25;
    const first = await slowIngest.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: body });
    figure.firstStatus = first.statusCode;
    expect(first.statusCode).toBe(503);
    await kept;
    const retry = await fetch(`${plane.ingestUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    figure.retryStatus = retry.status;
    expect(retry.status).toBe(200);
    // A later request of the same service (same key, same partition): once it is counted, both copies were read.
    expect((await fetch(`${plane.ingestUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: document(1) })).status).toBe(200);
    const calls = async () => {
      const [row] = await plane.runtime.db.sql<{ calls: number }[]>`SELECT coalesce(sum(calls), 0)::int AS calls FROM rollups WHERE service = ${service}`;
      return row!.calls;
    };
    await eventually('the later request to be counted', async () => (await calls()) >= 26, 60_000);
    figure.stored = (await calls()) - 1;
    expect(figure.stored).toBe(25);
    const exposition = await (await fetch(`${plane.ingestUrl}/metrics`)).text();
    expect(Number(/^heph_analyzer_repeated_records_total (\S+)$/m.exec(exposition)?.[1])).toBe(1);
  }, 180_000);
});
