// The OTLP codec against hand-written OTLP/JSON and against bodies the OpenTelemetry JS SDK sends.
import { context, SpanKind as ApiSpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { LoggerProvider, InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { hrTimeToNanoseconds } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufLogsSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { spanRecordSchema, type SpanRecord } from '../telemetry.ts';
import {
  decodeTracesJson,
  decodeTracesProtobuf,
  encodeTraceResponse,
  encodeTracesProtobuf,
  otlpTypes,
  splitTracesByResource,
  toSpanRecords,
  validateTraces,
  type OtlpResult,
  type TracesRequest,
} from './codec.ts';

const traceId = '5b8efff798038103d269b633813fc60c';
const spanId = 'eee19b7ec3c1b174';
const parentId = 'eee19b7ec3c1b173';

const unwrap = <T>(result: OtlpResult<T>): T => {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.message}`);
  return result.value;
};

const errorOf = <T>(result: OtlpResult<T>): string => {
  if (result.ok) throw new Error('expected a malformed result');
  expect(result.error.code).toBe('malformed');
  return result.error.message;
};

// Shaped like the OTLP/JSON example in opentelemetry-proto (examples/trace.json), with more value kinds.
const exampleJson = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'my.service' } },
          { key: 'host.cores', value: { intValue: 8 } },
        ],
      },
      scopeSpans: [
        {
          scope: { name: 'my.library', version: '1.0.0', attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }] },
          spans: [
            {
              traceId,
              spanId,
              parentSpanId: parentId,
              name: 'I\'m a server span',
              startTimeUnixNano: '1544712660000000000',
              endTimeUnixNano: 1544712661000000000,
              kind: 2,
              attributes: [
                { key: 'my.span.attr', value: { stringValue: 'some value' } },
                { key: 'big', value: { intValue: '9007199254740993' } },
                { key: 'negative', value: { intValue: '-42' } },
                { key: 'ratio', value: { doubleValue: 0.25 } },
                { key: 'nan', value: { doubleValue: 'NaN' } },
                { key: 'ok', value: { boolValue: false } },
                { key: 'raw', value: { bytesValue: 'AQID' } },
                { key: 'empty', value: {} },
                { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, {}] } } },
                { key: 'map', value: { kvlistValue: { values: [{ key: 'inner', value: { boolValue: true } }] } } },
              ],
              events: [{ timeUnixNano: '1544712660500000000', name: 'retry', attributes: [{ key: 'attempt', value: { intValue: '2' } }] }],
              links: [{ traceId: traceId.toUpperCase(), spanId: parentId, attributes: [], flags: 257 }],
              status: { code: 2, message: 'boom' },
              flags: 769,
              traceState: 'vendor=1',
              droppedAttributesCount: 1,
              somethingNew: { ignored: true },
            },
          ],
        },
      ],
    },
  ],
};

const exampleRequest = (): TracesRequest => unwrap(decodeTracesJson(JSON.stringify(exampleJson)));

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

describe('decodeTracesJson', () => {
  it('reads hex ids, 64-bit integers as strings or numbers, enums as integers', () => {
    const span = exampleRequest().resourceSpans[0]?.scopeSpans[0]?.spans[0];
    expect(span?.traceId).toEqual(bytes(traceId));
    expect(span?.spanId).toEqual(bytes(spanId));
    expect(span?.parentSpanId).toEqual(bytes(parentId));
    expect(span?.startTimeUnixNano).toBe(1544712660000000000n);
    expect(span?.endTimeUnixNano).toBe(1544712661000000000n);
    expect(span?.kind).toBe(2);
    expect(span?.status).toEqual({ code: 2, message: 'boom' });
    expect(span?.flags).toBe(769);
    expect(span?.attributes.find((a) => a.key === 'big')?.value).toEqual({ intValue: 9007199254740993n });
    expect(span?.attributes.find((a) => a.key === 'negative')?.value).toEqual({ intValue: -42n });
    expect(span?.attributes.find((a) => a.key === 'raw')?.value).toEqual({ bytesValue: new Uint8Array([1, 2, 3]) });
    expect(span?.links[0]?.traceId).toEqual(bytes(traceId));
    expect(exampleRequest().resourceSpans[0]?.resource.attributes[1]?.value).toEqual({ intValue: 8n });
  });

  it('fills absent fields with their defaults and accepts enum names', () => {
    const req = unwrap(decodeTracesJson(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId, spanId, kind: 'SPAN_KIND_CLIENT' }] }] }] })));
    expect(req).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [] },
          schemaUrl: '',
          scopeSpans: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              schemaUrl: '',
              spans: [
                {
                  traceId: bytes(traceId),
                  spanId: bytes(spanId),
                  traceState: '',
                  parentSpanId: new Uint8Array(0),
                  flags: 0,
                  name: '',
                  kind: 3,
                  startTimeUnixNano: 0n,
                  endTimeUnixNano: 0n,
                  attributes: [],
                  droppedAttributesCount: 0,
                  events: [],
                  droppedEventsCount: 0,
                  links: [],
                  droppedLinksCount: 0,
                  status: { code: 0, message: '' },
                },
              ],
            },
          ],
        },
      ],
    });
    expect(unwrap(decodeTracesJson('{}'))).toEqual({ resourceSpans: [] });
  });

  it.each([
    ['not JSON', '{"resourceSpans": [', /^invalid OTLP JSON: /],
    ['a JSON array', '[]', /request: expected an object, got an array/],
    ['null', 'null', /request: expected an object, got null/],
    ['resourceSpans not an array', '{"resourceSpans": {}}', /resourceSpans: expected an array/],
    ['a base64 trace id', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'W47/95gDgQPSabYzgT/GDA==' }] }] }] }), /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: expected a hex-encoded id/],
    ['an odd-length hex id', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ spanId: 'abc' }] }] }] }), /spans\[0\]\.spanId: expected a hex-encoded id/],
    ['a fractional time', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ startTimeUnixNano: 1.5 }] }] }] }), /startTimeUnixNano: expected an unsigned 64-bit integer, got 1.5/],
    ['a negative time', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ endTimeUnixNano: '-1' }] }] }] }), /endTimeUnixNano: expected an unsigned 64-bit integer/],
    ['an int64 out of range', JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'k', value: { intValue: '9223372036854775808' } }] } }] }), /resource\.attributes\[0\]\.value\.intValue: expected a signed 64-bit integer/],
    ['an unknown enum name', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ kind: 'SERVER' }] }] }] }), /kind: expected an enum value/],
    ['two values in one AnyValue', JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'k', value: { stringValue: 'a', intValue: 1 } }] } }] }), /more than one value set \(stringValue, intValue\)/],
    ['a name that is not a string', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 7 }] }] }] }), /spans\[0\]\.name: expected a string, got 7/],
    ['bad base64 bytes', JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'k', value: { bytesValue: 'a=b' } }] } }] }), /bytesValue: expected base64-encoded bytes/],
  ])('refuses %s with a message, without throwing', (_, body, message) => {
    expect(errorOf(decodeTracesJson(body))).toMatch(message);
  });

  it('refuses values nested past the depth limit', () => {
    let value: unknown = { stringValue: 'deep' };
    for (let i = 0; i < 150; i++) value = { arrayValue: { values: [value] } };
    const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'k', value }] } }] });
    expect(errorOf(decodeTracesJson(body))).toMatch(/nested deeper than 24 levels/);
  });
});

describe('decodeTracesProtobuf and encodeTracesProtobuf', () => {
  it('round-trips every field the JSON decoder reads', () => {
    const req = exampleRequest();
    const encoded = encodeTracesProtobuf(req);
    expect(unwrap(decodeTracesProtobuf(encoded))).toEqual(req);
  });

  it('decodes to the same request as the JSON of the same data', () => {
    const fromJson = exampleRequest();
    const wire = otlpTypes.ExportTraceServiceRequest.fromObject({
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { stringValue: 'my.service' } },
              { key: 'host.cores', value: { intValue: 8 } },
            ],
          },
          scopeSpans: [
            {
              scope: { name: 'my.library', version: '1.0.0', attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }] },
              spans: [
                {
                  traceId: bytes(traceId),
                  spanId: bytes(spanId),
                  parentSpanId: bytes(parentId),
                  name: 'I\'m a server span',
                  startTimeUnixNano: '1544712660000000000',
                  endTimeUnixNano: '1544712661000000000',
                  kind: 2,
                  attributes: [
                    { key: 'my.span.attr', value: { stringValue: 'some value' } },
                    { key: 'big', value: { intValue: '9007199254740993' } },
                    { key: 'negative', value: { intValue: '-42' } },
                    { key: 'ratio', value: { doubleValue: 0.25 } },
                    { key: 'nan', value: { doubleValue: Number.NaN } },
                    { key: 'ok', value: { boolValue: false } },
                    { key: 'raw', value: { bytesValue: new Uint8Array([1, 2, 3]) } },
                    { key: 'empty', value: {} },
                    { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }, {}] } } },
                    { key: 'map', value: { kvlistValue: { values: [{ key: 'inner', value: { boolValue: true } }] } } },
                  ],
                  events: [{ timeUnixNano: '1544712660500000000', name: 'retry', attributes: [{ key: 'attempt', value: { intValue: 2 } }] }],
                  links: [{ traceId: bytes(traceId), spanId: bytes(parentId), flags: 257 }],
                  status: { code: 2, message: 'boom' },
                  flags: 769,
                  traceState: 'vendor=1',
                  droppedAttributesCount: 1,
                },
              ],
            },
          ],
        },
      ],
    });
    const body = otlpTypes.ExportTraceServiceRequest.encode(wire).finish();
    expect(unwrap(decodeTracesProtobuf(body))).toEqual(fromJson);
  });

  it('keeps full 64-bit precision for times and int values', () => {
    const req = exampleRequest();
    const span = req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    span.endTimeUnixNano = 2n ** 64n - 1n;
    span.attributes = [
      { key: 'min', value: { intValue: -(2n ** 63n) } },
      { key: 'max', value: { intValue: 2n ** 63n - 1n } },
    ];
    expect(unwrap(decodeTracesProtobuf(encodeTracesProtobuf(req)))).toEqual(req);
  });

  it('ignores unknown fields on the wire', () => {
    const body = encodeTracesProtobuf(exampleRequest());
    // field 99, varint 1: what a newer proto version might add at the top level
    const withUnknown = new Uint8Array([...body, 0x98, 0x06, 0x01]);
    expect(unwrap(decodeTracesProtobuf(withUnknown))).toEqual(exampleRequest());
  });

  it('decodes an empty body as an empty request', () => {
    expect(unwrap(decodeTracesProtobuf(new Uint8Array(0)))).toEqual({ resourceSpans: [] });
  });

  it.each([
    ['a truncated body', encodeTracesProtobuf(exampleRequest()).subarray(0, 40)],
    ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['a JSON body sent as protobuf', new TextEncoder().encode(JSON.stringify(exampleJson))],
    ['a wrong wire type', new Uint8Array([0x0f])],
  ])('refuses %s with a message, without throwing', (_, body) => {
    expect(errorOf(decodeTracesProtobuf(body))).toMatch(/^invalid OTLP protobuf: .+/);
  });
});

const span = (name: string, ids: { traceId?: string; spanId?: string; parentSpanId?: string }) => ({
  traceId: ids.traceId ?? traceId,
  spanId: ids.spanId ?? spanId,
  parentSpanId: ids.parentSpanId ?? '',
  name,
});

const resourceSpans = (service: string | undefined, spans: unknown[]) => ({
  resource: { attributes: service === undefined ? [] : [{ key: 'service.name', value: { stringValue: service } }] },
  scopeSpans: [{ scope: { name: 'test' }, spans }],
});

const request = (...rs: unknown[]): TracesRequest => unwrap(decodeTracesJson(JSON.stringify({ resourceSpans: rs })));

describe('splitTracesByResource', () => {
  it('gives one request per resource, named by service.name', () => {
    const req = request(
      resourceSpans('cart', [span('a', {}), span('b', {})]),
      resourceSpans('checkout', [span('c', {})]),
      resourceSpans(undefined, [span('d', {})]),
      resourceSpans('cart', [span('e', {})]),
    );
    const parts = splitTracesByResource(req);
    expect(parts.map((p) => [p.serviceName, p.spanCount])).toEqual([
      ['cart', 2],
      ['checkout', 1],
      ['unknown_service', 1],
      ['cart', 1],
    ]);
    expect(parts[1]?.request).toEqual({ resourceSpans: [req.resourceSpans[1]] });
    expect(parts.map((p) => unwrap(decodeTracesProtobuf(encodeTracesProtobuf(p.request))))).toEqual(parts.map((p) => p.request));
  });

  it('leaves out resources without spans', () => {
    expect(splitTracesByResource(request(resourceSpans('idle', []), resourceSpans('busy', [span('a', {})])))).toHaveLength(1);
  });
});

describe('validateTraces', () => {
  it('rejects spans with invalid ids, counts them and says why', () => {
    const req = request(
      resourceSpans('cart', [
        span('GET /x', { traceId: '00000000000000000000000000000000' }),
        span('GET /y', { traceId: '0102' }),
        span('ok', {}),
        span('zero span id', { spanId: '0000000000000000' }),
        span('bad parent', { parentSpanId: '0102' }),
        span('zero parent is a root', { parentSpanId: '0000000000000000' }),
      ]),
      resourceSpans('all-bad', [span('GET /z', { spanId: '01' })]),
    );
    const result = validateTraces(req);
    expect(result.rejectedSpans).toBe(5);
    expect(result.message).toBe(
      "5 spans rejected: invalid trace id (2 spans, first 'GET /x'); invalid span id (2 spans, first 'zero span id'); invalid parent span id (span 'bad parent')",
    );
    expect(result.request.resourceSpans).toHaveLength(1);
    expect(result.request.resourceSpans[0]?.scopeSpans[0]?.spans.map((s) => s.name)).toEqual(['ok', 'zero parent is a root']);
  });

  it('says nothing when every span is valid', () => {
    const req = request(resourceSpans('cart', [span('ok', {})]));
    expect(validateTraces(req)).toEqual({ request: req, rejectedSpans: 0 });
  });

  it('matches the example message for a single reason', () => {
    const req = request(resourceSpans('cart', [span('GET /x', { traceId: '' }), span('GET /y', { traceId: '' })]));
    expect(validateTraces(req).message).toBe("2 spans rejected: invalid trace id (2 spans, first 'GET /x')");
    expect(validateTraces(request(resourceSpans('cart', [span('GET /x', { traceId: '' })]))).message).toBe(
      "1 span rejected: invalid trace id (span 'GET /x')",
    );
  });

  it('truncates long strings and caps the attribute count', () => {
    const attributes = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'x'.repeat(10) } }));
    attributes.push({ key: 'nested', value: { arrayValue: { values: [{ stringValue: 'y'.repeat(10) }] } } as never });
    const req = request({
      resource: { attributes },
      scopeSpans: [{ spans: [{ ...span('s', {}), attributes, events: [{ name: 'e', attributes }] }] }],
    });
    const limited = validateTraces(req, { maxAttributeValueLength: 4, maxAttributeCount: 3 }).request;
    const s = limited.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.attributes).toEqual([0, 1, 2].map((i) => ({ key: `k${i}`, value: { stringValue: 'xxxx' } })));
    expect(s.droppedAttributesCount).toBe(3);
    expect(s.events[0]?.attributes).toHaveLength(3);
    expect(limited.resourceSpans[0]?.resource.attributes).toHaveLength(3);

    const nested = validateTraces(req, { maxAttributeValueLength: 4 }).request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(nested.attributes[5]?.value).toEqual({ arrayValue: { values: [{ stringValue: 'yyyy' }] } });
  });

  it('applies the default limits of 4096 characters and 128 attributes', () => {
    const attributes = Array.from({ length: 130 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'é'.repeat(5000) } }));
    const req = request({ scopeSpans: [{ spans: [{ ...span('s', {}), attributes }] }] });
    const s = validateTraces(req).request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.attributes).toHaveLength(128);
    expect(s.attributes[0]?.value.stringValue).toHaveLength(4096);
  });

  it('does not split a surrogate pair when truncating', () => {
    const req = request({ scopeSpans: [{ spans: [{ ...span('s', {}), attributes: [{ key: 'emoji', value: { stringValue: 'ab😀' } }] }] }] });
    const s = validateTraces(req, { maxAttributeValueLength: 3 }).request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.attributes[0]?.value).toEqual({ stringValue: 'ab' });
  });

  it('drops links with invalid ids', () => {
    const req = request({ scopeSpans: [{ spans: [{ ...span('s', {}), links: [{ traceId, spanId }, { traceId: '', spanId }] }] }] });
    const s = validateTraces(req).request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.links).toHaveLength(1);
    expect(s.droppedLinksCount).toBe(1);
  });
});

describe('encodeTraceResponse', () => {
  it('writes a partial success that the descriptor decodes', () => {
    const body = encodeTraceResponse({ rejectedSpans: 2, errorMessage: '2 spans rejected: invalid trace id' }, 'protobuf');
    const decoded = otlpTypes.ExportTraceServiceResponse.toObject(otlpTypes.ExportTraceServiceResponse.decode(body), { longs: String });
    expect(decoded).toEqual({ partialSuccess: { rejectedSpans: '2', errorMessage: '2 spans rejected: invalid trace id' } });
  });

  it('writes JSON with rejectedSpans as a string', () => {
    expect(JSON.parse(encodeTraceResponse({ rejectedSpans: 2, errorMessage: 'bad ids' }, 'json'))).toEqual({
      partialSuccess: { rejectedSpans: '2', errorMessage: 'bad ids' },
    });
  });

  it('leaves out partialSuccess when nothing was rejected', () => {
    expect(encodeTraceResponse({ rejectedSpans: 0 }, 'json')).toBe('{}');
    expect(encodeTraceResponse({ rejectedSpans: 0 }, 'protobuf')).toHaveLength(0);
  });

  it('is understood by the OpenTelemetry JS exporter', () => {
    const body = encodeTraceResponse({ rejectedSpans: 3, errorMessage: 'nope' }, 'protobuf');
    expect(ProtobufTraceSerializer.deserializeResponse(body)).toEqual({ partialSuccess: { rejectedSpans: 3, errorMessage: 'nope' } });
    const json = new TextEncoder().encode(encodeTraceResponse({ rejectedSpans: 3, errorMessage: 'nope' }, 'json'));
    expect(JsonTraceSerializer.deserializeResponse(json)).toEqual({ partialSuccess: { rejectedSpans: '3', errorMessage: 'nope' } });
  });
});

describe('toSpanRecords', () => {
  it('normalizes spans to records the schema accepts', () => {
    const [record] = toSpanRecords(exampleRequest());
    expect(spanRecordSchema.parse(record)).toEqual(record);
    expect(record).toEqual({
      service: 'my.service',
      traceId,
      spanId,
      parentSpanId: parentId,
      name: 'I\'m a server span',
      kind: 'server',
      startTimeUnixNano: '1544712660000000000',
      endTimeUnixNano: '1544712661000000000',
      startTimeMs: 1544712660000,
      durationMs: 1000,
      status: 'error',
      statusMessage: 'boom',
      attributes: {
        'my.span.attr': 'some value',
        big: '9007199254740993',
        negative: -42,
        ratio: 0.25,
        nan: 'NaN',
        ok: false,
        raw: 'AQID',
        empty: null,
        list: ['a', 1, null],
        map: { inner: true },
      },
      resource: { 'service.name': 'my.service', 'host.cores': 8 },
      scope: { name: 'my.library', version: '1.0.0' },
      events: [{ name: 'retry', timeUnixNano: '1544712660500000000', attributes: { attempt: 2 } }],
      links: [{ traceId, spanId: parentId, attributes: {} }],
    } satisfies SpanRecord);
  });

  it('treats an all-zero parent as none, clamps negative durations and keeps the first of repeated keys', () => {
    const req = request({
      scopeSpans: [
        {
          spans: [
            {
              ...span('s', { parentSpanId: '0000000000000000' }),
              startTimeUnixNano: '2000000',
              endTimeUnixNano: '1000000',
              attributes: [
                { key: 'k', value: { stringValue: 'first' } },
                { key: 'k', value: { stringValue: 'second' } },
                { key: '__proto__', value: { stringValue: 'plain key' } },
              ],
            },
          ],
        },
      ],
    });
    const [record] = toSpanRecords(req);
    expect(record?.parentSpanId).toBeUndefined();
    expect(record?.durationMs).toBe(0);
    expect(record?.startTimeMs).toBe(2);
    expect(record?.service).toBe('unknown_service');
    expect(record?.attributes.k).toBe('first');
    expect(Object.getPrototypeOf(record?.attributes)).toBe(Object.prototype);
    expect(Object.keys(record?.attributes ?? {})).toEqual(['k', '__proto__']);
    expect(spanRecordSchema.parse(record)).toBeTruthy();
  });
});

// ---------------------------------------------------------------------------------------------
// Interoperability: bodies produced by the official OpenTelemetry JS serializers.

const recordSpans = async (): Promise<ReadableSpan[]> => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3', 'host.cores': 8 }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('interop-test', '0.1.0');
  const start = 1_700_000_000_123;
  const root = tracer.startSpan(
    'GET /cart',
    {
      kind: ApiSpanKind.SERVER,
      startTime: start,
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, retried: true, ratio: 0.5, tags: ['a', 'b'] },
    },
    context.active(),
  );
  const linked = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
  const child = tracer.startSpan(
    'SELECT cart',
    { kind: ApiSpanKind.CLIENT, startTime: start + 5, links: [{ context: linked, attributes: { 'link.reason': 'batch' } }] },
    trace.setSpan(context.active(), root),
  );
  child.addEvent('retry', { attempt: 2 }, start + 10);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
  child.end(start + 20);
  root.setStatus({ code: SpanStatusCode.OK });
  root.end(start + 30);
  await provider.forceFlush();
  return exporter.getFinishedSpans();
};

const apiKinds = { [ApiSpanKind.INTERNAL]: 'internal', [ApiSpanKind.SERVER]: 'server', [ApiSpanKind.CLIENT]: 'client', [ApiSpanKind.PRODUCER]: 'producer', [ApiSpanKind.CONSUMER]: 'consumer' };
const apiStatuses = { [SpanStatusCode.UNSET]: 'unset', [SpanStatusCode.OK]: 'ok', [SpanStatusCode.ERROR]: 'error' };

describe('interoperability with the OpenTelemetry JS SDK', () => {
  it('decodes its protobuf and JSON bodies to the same request, field for field', async () => {
    const spans = await recordSpans();
    const protobufBody = ProtobufTraceSerializer.serializeRequest(spans);
    const jsonBody = JsonTraceSerializer.serializeRequest(spans);
    if (!protobufBody || !jsonBody) throw new Error('the serializers gave no body');

    const fromProtobuf = unwrap(decodeTracesProtobuf(protobufBody));
    const fromJson = unwrap(decodeTracesJson(new TextDecoder().decode(jsonBody)));
    expect(fromJson).toEqual(fromProtobuf);
    expect(validateTraces(fromProtobuf).rejectedSpans).toBe(0);

    const records = toSpanRecords(fromProtobuf);
    expect(records).toHaveLength(spans.length);
    for (const sdkSpan of spans) {
      const record = records.find((r) => r.spanId === sdkSpan.spanContext().spanId);
      expect(spanRecordSchema.parse(record)).toEqual(record);
      expect(record).toEqual({
        service: 'checkout',
        traceId: sdkSpan.spanContext().traceId,
        spanId: sdkSpan.spanContext().spanId,
        ...(sdkSpan.parentSpanContext ? { parentSpanId: sdkSpan.parentSpanContext.spanId } : {}),
        name: sdkSpan.name,
        kind: apiKinds[sdkSpan.kind],
        startTimeUnixNano: String(hrTimeToNanoseconds(sdkSpan.startTime)),
        endTimeUnixNano: String(hrTimeToNanoseconds(sdkSpan.endTime)),
        startTimeMs: sdkSpan.startTime[0] * 1000 + sdkSpan.startTime[1] / 1e6,
        durationMs: sdkSpan.duration[0] * 1000 + sdkSpan.duration[1] / 1e6,
        status: apiStatuses[sdkSpan.status.code],
        ...(sdkSpan.status.message ? { statusMessage: sdkSpan.status.message } : {}),
        attributes: sdkSpan.attributes,
        resource: { ...sdkSpan.resource.attributes },
        scope: { name: 'interop-test', version: '0.1.0' },
        events: sdkSpan.events.map((e) => ({ name: e.name, timeUnixNano: String(hrTimeToNanoseconds(e.time)), attributes: e.attributes ?? {} })),
        links: sdkSpan.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: l.attributes ?? {} })),
      });
    }

    const [root, child] = ['GET /cart', 'SELECT cart'].map((name) => records.find((r) => r.name === name));
    expect(child?.parentSpanId).toBe(root?.spanId);
    expect(child?.traceId).toBe(root?.traceId);
    expect(root?.parentSpanId).toBeUndefined();
    expect(root?.attributes).toEqual({ 'http.request.method': 'GET', 'http.response.status_code': 200, retried: true, ratio: 0.5, tags: ['a', 'b'] });
    expect(child).toMatchObject({ kind: 'client', status: 'error', statusMessage: 'timeout', durationMs: 15 });
    expect(child?.events).toEqual([{ name: 'retry', timeUnixNano: '1700000000133000000', attributes: { attempt: 2 } }]);
    expect(child?.links).toEqual([{ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), attributes: { 'link.reason': 'batch' } }]);
    expect(root?.resource['service.version']).toBe('1.2.3');
  });

  it('re-encodes its request without loss', async () => {
    const body = ProtobufTraceSerializer.serializeRequest(await recordSpans());
    if (!body) throw new Error('the serializer gave no body');
    const decoded = unwrap(decodeTracesProtobuf(body));
    expect(unwrap(decodeTracesProtobuf(encodeTracesProtobuf(decoded)))).toEqual(decoded);
  });

  it('reads its metrics and logs bodies with the descriptor', async () => {
    class ManualReader extends MetricReader {
      protected override async onShutdown(): Promise<void> {}
      protected override async onForceFlush(): Promise<void> {}
    }
    const reader = new ManualReader();
    const resource = resourceFromAttributes({ 'service.name': 'checkout' });
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter('interop-test');
    meter.createCounter('requests').add(3, { route: '/cart' });
    meter.createHistogram('latency', { unit: 'ms' }).record(12.5);
    meter.createGauge('queue.depth').record(-4);
    const { resourceMetrics } = await reader.collect();
    const metricsBody = ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
    if (!metricsBody) throw new Error('the serializer gave no body');
    const metrics = otlpTypes.ExportMetricsServiceRequest.toObject(otlpTypes.ExportMetricsServiceRequest.decode(metricsBody), { longs: String });
    const byName = Object.fromEntries(
      (metrics.resourceMetrics[0].scopeMetrics[0].metrics as { name: string }[]).map((m) => [m.name, m as Record<string, any>]),
    );
    expect(byName.requests?.sum).toMatchObject({ isMonotonic: true, aggregationTemporality: 2 });
    expect(byName.requests?.sum.dataPoints[0]).toMatchObject({ asDouble: 3, attributes: [{ key: 'route', value: { stringValue: '/cart' } }] });
    expect(byName.latency).toMatchObject({ unit: 'ms', histogram: { dataPoints: [{ count: '1', sum: 12.5, min: 12.5, max: 12.5 }] } });
    expect(byName['queue.depth']?.gauge.dataPoints[0].asDouble).toBe(-4);

    const logExporter = new InMemoryLogRecordExporter();
    const logger = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] }).getLogger('interop-test');
    logger.emit({ severityNumber: 17, severityText: 'ERROR', body: 'payment failed', attributes: { 'order.id': 42 }, eventName: 'payment.failed' });
    const logsBody = ProtobufLogsSerializer.serializeRequest(logExporter.getFinishedLogRecords());
    if (!logsBody) throw new Error('the serializer gave no body');
    const logs = otlpTypes.ExportLogsServiceRequest.toObject(otlpTypes.ExportLogsServiceRequest.decode(logsBody), { longs: String });
    expect(logs.resourceLogs[0].scopeLogs[0].logRecords[0]).toMatchObject({
      severityNumber: 17,
      severityText: 'ERROR',
      body: { stringValue: 'payment failed' },
      attributes: [{ key: 'order.id', value: { intValue: '42' } }],
      eventName: 'payment.failed',
    });
  });
});
