// The OTLP logs codec against hand-written OTLP/JSON and against bodies the OpenTelemetry JS SDK sends.
import { context, trace, TraceFlags, type HrTime } from '@opentelemetry/api';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { logRecordNormalizedSchema, type LogRecordNormalized } from '../telemetry.ts';
import {
  decodeLogsJson,
  decodeLogsProtobuf,
  encodeLogsProtobuf,
  encodeLogsResponse,
  otlpTypes,
  splitLogsByResource,
  toLogRecords,
  validateLogs,
  type LogsRequest,
  type OtlpResult,
} from './codec.ts';

const traceId = '5b8efff798038103d269b633813fc60c';
const spanId = 'eee19b7ec3c1b174';

const unwrap = <T>(result: OtlpResult<T>): T => {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.message}`);
  return result.value;
};

const errorOf = <T>(result: OtlpResult<T>): string => {
  if (result.ok) throw new Error('expected a malformed result');
  expect(result.error.code).toBe('malformed');
  return result.error.message;
};

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

// Shaped like the OTLP/JSON example in opentelemetry-proto (examples/logs.json), with more body kinds.
const exampleJson = {
  resourceLogs: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'my.service' } },
          { key: 'host.cores', value: { intValue: 8 } },
        ],
      },
      scopeLogs: [
        {
          scope: { name: 'my.library', version: '1.0.0', attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }] },
          logRecords: [
            {
              timeUnixNano: '1544712660300000000',
              observedTimeUnixNano: 1544712661000000000,
              severityNumber: 10,
              severityText: 'Information',
              traceId: traceId.toUpperCase(),
              spanId,
              flags: 1,
              eventName: 'cart.updated',
              body: { stringValue: 'Example log record' },
              attributes: [
                { key: 'string.attribute', value: { stringValue: 'some string' } },
                { key: 'boolean.attribute', value: { boolValue: true } },
                { key: 'int.attribute', value: { intValue: '10' } },
                { key: 'double.attribute', value: { doubleValue: 637.704 } },
                { key: 'array.attribute', value: { arrayValue: { values: [{ stringValue: 'many' }, { stringValue: 'values' }] } } },
                { key: 'map.attribute', value: { kvlistValue: { values: [{ key: 'some.map.key', value: { stringValue: 'some value' } }] } } },
              ],
              droppedAttributesCount: 1,
              somethingNew: { ignored: true },
            },
            {
              observedTimeUnixNano: '1544712662000000000',
              severityNumber: 'SEVERITY_NUMBER_ERROR2',
              body: { kvlistValue: { values: [{ key: 'order.id', value: { intValue: 42 } }, { key: 'raw', value: { bytesValue: 'AQID' } }] } },
            },
          ],
        },
      ],
    },
  ],
};

const exampleRequest = (): LogsRequest => unwrap(decodeLogsJson(JSON.stringify(exampleJson)));

const recordsOf = (req: LogsRequest) => req.resourceLogs[0]?.scopeLogs[0]?.logRecords ?? [];

/** The same data as protobufjs's own JSON reader takes it (ids as bytes; it reads strings as base64). */
const toWireObject = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(toWireObject);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, (k === 'traceId' || k === 'spanId') && typeof x === 'string' ? bytes(x) : toWireObject(x)]));
};

describe('decodeLogsJson', () => {
  it('reads hex ids, 64-bit integers as strings or numbers, severities as integers or names, any body', () => {
    const [first, second] = recordsOf(exampleRequest());
    expect(first).toMatchObject({
      timeUnixNano: 1544712660300000000n,
      observedTimeUnixNano: 1544712661000000000n,
      severityNumber: 10,
      severityText: 'Information',
      traceId: bytes(traceId),
      spanId: bytes(spanId),
      flags: 1,
      eventName: 'cart.updated',
      body: { stringValue: 'Example log record' },
      droppedAttributesCount: 1,
    });
    expect(first?.attributes.find((a) => a.key === 'int.attribute')?.value).toEqual({ intValue: 10n });
    expect(second).toEqual({
      timeUnixNano: 0n,
      observedTimeUnixNano: 1544712662000000000n,
      severityNumber: 18,
      severityText: '',
      body: {
        kvlistValue: {
          values: [
            { key: 'order.id', value: { intValue: 42n } },
            { key: 'raw', value: { bytesValue: new Uint8Array([1, 2, 3]) } },
          ],
        },
      },
      attributes: [],
      droppedAttributesCount: 0,
      flags: 0,
      traceId: new Uint8Array(0),
      spanId: new Uint8Array(0),
      eventName: '',
    });
  });

  it('fills absent fields with their defaults', () => {
    expect(unwrap(decodeLogsJson(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{}] }] }] })))).toEqual({
      resourceLogs: [
        {
          resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [] },
          schemaUrl: '',
          scopeLogs: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              schemaUrl: '',
              logRecords: [
                {
                  timeUnixNano: 0n,
                  observedTimeUnixNano: 0n,
                  severityNumber: 0,
                  severityText: '',
                  body: {},
                  attributes: [],
                  droppedAttributesCount: 0,
                  flags: 0,
                  traceId: new Uint8Array(0),
                  spanId: new Uint8Array(0),
                  eventName: '',
                },
              ],
            },
          ],
        },
      ],
    });
    expect(unwrap(decodeLogsJson('{}'))).toEqual({ resourceLogs: [] });
  });

  const record = (r: unknown) => JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [r] }] }] });

  it.each([
    ['not JSON', '{"resourceLogs": [', /^invalid OTLP JSON: /],
    ['null', 'null', /request: expected an object, got null/],
    ['resourceLogs not an array', '{"resourceLogs": "x"}', /resourceLogs: expected an array/],
    ['a base64 trace id', record({ traceId: 'W47/95gDgQPSabYzgT/GDA==' }), /logRecords\[0\]\.traceId: expected a hex-encoded id/],
    ['an unknown severity name', record({ severityNumber: 'ERROR' }), /logRecords\[0\]\.severityNumber: expected an enum value/],
    ['a negative time', record({ timeUnixNano: '-1' }), /logRecords\[0\]\.timeUnixNano: expected an unsigned 64-bit integer/],
    ['a body with two values', record({ body: { stringValue: 'a', boolValue: true } }), /logRecords\[0\]\.body: more than one value set \(stringValue, boolValue\)/],
    ['a body that is a bare string', record({ body: 'hello' }), /logRecords\[0\]\.body: expected an object, got "hello"/],
    ['flags out of the 32-bit range', record({ flags: 2 ** 32 }), /logRecords\[0\]\.flags: expected an unsigned 32-bit integer/],
  ])('refuses %s with a message, without throwing', (_, body, message) => {
    expect(errorOf(decodeLogsJson(body))).toMatch(message);
  });
});

describe('decodeLogsProtobuf and encodeLogsProtobuf', () => {
  it('round-trips every field the JSON decoder reads', () => {
    const req = exampleRequest();
    expect(unwrap(decodeLogsProtobuf(encodeLogsProtobuf(req)))).toEqual(req);
  });

  it('decodes to the same request as the JSON of the same data', () => {
    const wire = otlpTypes.ExportLogsServiceRequest.fromObject(toWireObject(exampleJson) as Record<string, unknown>);
    const body = otlpTypes.ExportLogsServiceRequest.encode(wire).finish();
    expect(unwrap(decodeLogsProtobuf(body))).toEqual(exampleRequest());
  });

  it('keeps full 64-bit precision for times and int values', () => {
    const req = exampleRequest();
    const r = recordsOf(req)[0]!;
    r.timeUnixNano = 2n ** 64n - 1n;
    r.body = { intValue: -(2n ** 63n) };
    expect(unwrap(decodeLogsProtobuf(encodeLogsProtobuf(req)))).toEqual(req);
  });

  it('ignores unknown fields on the wire', () => {
    const withUnknown = new Uint8Array([...encodeLogsProtobuf(exampleRequest()), 0x98, 0x06, 0x01]);
    expect(unwrap(decodeLogsProtobuf(withUnknown))).toEqual(exampleRequest());
  });

  it('decodes an empty body as an empty request', () => {
    expect(unwrap(decodeLogsProtobuf(new Uint8Array(0)))).toEqual({ resourceLogs: [] });
  });

  it.each([
    ['a truncated body', encodeLogsProtobuf(exampleRequest()).subarray(0, 40)],
    ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['a JSON body sent as protobuf', new TextEncoder().encode(JSON.stringify(exampleJson))],
    ['a wrong wire type', new Uint8Array([0x0f])],
  ])('refuses %s with a message, without throwing', (_, body) => {
    expect(errorOf(decodeLogsProtobuf(body))).toMatch(/^invalid OTLP protobuf: .+/);
  });
});

const logRecord = (text: string, ids: { traceId?: string; spanId?: string } = {}) => ({
  timeUnixNano: '1544712660300000000',
  body: { stringValue: text },
  traceId: ids.traceId ?? '',
  spanId: ids.spanId ?? '',
});

const resourceLogs = (service: string | undefined, logRecords: unknown[]) => ({
  resource: { attributes: service === undefined ? [] : [{ key: 'service.name', value: { stringValue: service } }] },
  scopeLogs: [{ scope: { name: 'test' }, logRecords }],
});

const request = (...rl: unknown[]): LogsRequest => unwrap(decodeLogsJson(JSON.stringify({ resourceLogs: rl })));

describe('splitLogsByResource', () => {
  it('gives one request per resource, named by service.name', () => {
    const req = request(
      resourceLogs('cart', [logRecord('a'), logRecord('b')]),
      resourceLogs('checkout', [logRecord('c')]),
      resourceLogs(undefined, [logRecord('d')]),
      resourceLogs('cart', [logRecord('e')]),
    );
    const parts = splitLogsByResource(req);
    expect(parts.map((p) => [p.serviceName, p.recordCount])).toEqual([
      ['cart', 2],
      ['checkout', 1],
      ['unknown_service', 1],
      ['cart', 1],
    ]);
    expect(parts[1]?.request).toEqual({ resourceLogs: [req.resourceLogs[1]] });
    expect(parts.map((p) => unwrap(decodeLogsProtobuf(encodeLogsProtobuf(p.request))))).toEqual(parts.map((p) => p.request));
  });

  it('leaves out resources without log records', () => {
    expect(splitLogsByResource(request(resourceLogs('idle', []), resourceLogs('busy', [logRecord('a')])))).toHaveLength(1);
  });
});

describe('validateLogs', () => {
  it('rejects records whose ids are set with the wrong length, counts them and says why', () => {
    const req = request(
      resourceLogs('cart', [
        logRecord('no trace context'),
        logRecord('in a trace', { traceId, spanId }),
        logRecord('zero ids mean no trace', { traceId: '0'.repeat(32), spanId: '0'.repeat(16) }),
        logRecord('short trace id', { traceId: '0102' }),
        logRecord('long span id', { traceId, spanId: `${spanId}00` }),
        { ...logRecord(''), body: { intValue: 1 }, traceId: traceId.slice(2) },
        { ...logRecord('x'), eventName: 'payment.failed', spanId: '01' },
      ]),
      resourceLogs('all-bad', [logRecord('lost', { spanId: '01' })]),
    );
    const result = validateLogs(req);
    expect(result.rejectedLogRecords).toBe(5);
    expect(result.message).toBe(
      "5 log records rejected: invalid trace id (2 log records, first 'short trace id'); " +
        "invalid span id (3 log records, first 'long span id')",
    );
    expect(result.request.resourceLogs).toHaveLength(1);
    expect(recordsOf(result.request).map((r) => r.body.stringValue)).toEqual(['no trace context', 'in a trace', 'zero ids mean no trace']);
  });

  it('names a record by its event name, its text body, or its place in the request', () => {
    const message = (r: object) => validateLogs(request(resourceLogs('cart', [logRecord('ok'), r]))).message;
    expect(message({ ...logRecord('x'), eventName: 'payment.failed', spanId: '01' })).toBe("1 log record rejected: invalid span id (log record 'payment.failed')");
    expect(message({ ...logRecord('y'.repeat(70)), spanId: '01' })).toBe(`1 log record rejected: invalid span id (log record '${'y'.repeat(64)}…')`);
    expect(message({ body: { kvlistValue: { values: [] } }, spanId: '01' })).toBe(
      '1 log record rejected: invalid span id (log record at resourceLogs[0].scopeLogs[0].logRecords[1])',
    );
  });

  it('says nothing when every record is valid', () => {
    const req = exampleRequest();
    expect(validateLogs(req)).toEqual({ request: req, rejectedLogRecords: 0 });
  });

  it('truncates long strings in attributes and the body, and caps the attribute count', () => {
    const attributes = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'x'.repeat(10) } }));
    const req = request({
      resource: { attributes },
      scopeLogs: [
        {
          scope: { name: 's', attributes },
          logRecords: [
            { ...logRecord('b'.repeat(10)), attributes, droppedAttributesCount: 1 },
            { ...logRecord(''), body: { kvlistValue: { values: [{ key: 'stack', value: { stringValue: 'c'.repeat(10) } }] } } },
            { ...logRecord(''), body: { intValue: 123456789 } },
          ],
        },
      ],
    });
    const limited = validateLogs(req, { maxAttributeValueLength: 4, maxAttributeCount: 3 }).request.resourceLogs[0]!;
    const three = [0, 1, 2].map((i) => ({ key: `k${i}`, value: { stringValue: 'xxxx' } }));
    const [text, structured, number] = limited.scopeLogs[0]!.logRecords;
    expect(text).toMatchObject({ body: { stringValue: 'bbbb' }, attributes: three, droppedAttributesCount: 3 });
    expect(structured?.body).toEqual({ kvlistValue: { values: [{ key: 'stack', value: { stringValue: 'cccc' } }] } });
    expect(number?.body).toEqual({ intValue: 123456789n });
    expect(limited.resource).toMatchObject({ attributes: three, droppedAttributesCount: 2 });
    expect(limited.scopeLogs[0]?.scope).toMatchObject({ attributes: three, droppedAttributesCount: 2 });
  });

  it('applies the default limit of 4096 characters to the body without splitting a surrogate pair', () => {
    const req = request(resourceLogs('cart', [logRecord(`${'é'.repeat(4095)}😀`)]));
    const body = recordsOf(validateLogs(req).request)[0]?.body.stringValue;
    expect(body).toBe('é'.repeat(4095));
  });
});

describe('encodeLogsResponse', () => {
  it('writes a partial success that the descriptor decodes', () => {
    const body = encodeLogsResponse({ rejectedLogRecords: 2, errorMessage: '2 log records rejected: invalid trace id' }, 'protobuf');
    const decoded = otlpTypes.ExportLogsServiceResponse.toObject(otlpTypes.ExportLogsServiceResponse.decode(body), { longs: String });
    expect(decoded).toEqual({ partialSuccess: { rejectedLogRecords: '2', errorMessage: '2 log records rejected: invalid trace id' } });
  });

  it('writes JSON with rejectedLogRecords as a string', () => {
    expect(JSON.parse(encodeLogsResponse({ rejectedLogRecords: 2, errorMessage: 'bad ids' }, 'json'))).toEqual({
      partialSuccess: { rejectedLogRecords: '2', errorMessage: 'bad ids' },
    });
  });

  it('leaves out partialSuccess when nothing was rejected', () => {
    expect(encodeLogsResponse({ rejectedLogRecords: 0 }, 'json')).toBe('{}');
    expect(encodeLogsResponse({ rejectedLogRecords: 0 }, 'protobuf')).toHaveLength(0);
  });

  it('is understood by the OpenTelemetry JS exporter', () => {
    const body = encodeLogsResponse({ rejectedLogRecords: 3, errorMessage: 'nope' }, 'protobuf');
    expect(ProtobufLogsSerializer.deserializeResponse(body)).toEqual({ partialSuccess: { rejectedLogRecords: 3, errorMessage: 'nope' } });
    const json = new TextEncoder().encode(encodeLogsResponse({ rejectedLogRecords: 3, errorMessage: 'nope' }, 'json'));
    expect(JsonLogsSerializer.deserializeResponse(json)).toEqual({ partialSuccess: { rejectedLogRecords: '3', errorMessage: 'nope' } });
  });
});

describe('toLogRecords', () => {
  it('normalizes log records to records the schema accepts', () => {
    const records = toLogRecords(exampleRequest());
    for (const record of records) expect(logRecordNormalizedSchema.parse(record)).toEqual(record);
    const common = {
      service: 'my.service',
      resource: { 'service.name': 'my.service', 'host.cores': 8 },
      scope: { name: 'my.library', version: '1.0.0' },
    };
    expect(records).toEqual([
      {
        ...common,
        timeUnixNano: '1544712660300000000',
        observedTimeUnixNano: '1544712661000000000',
        timeMs: 1544712660300,
        severityNumber: 10,
        severityText: 'Information',
        body: 'Example log record',
        attributes: {
          'string.attribute': 'some string',
          'boolean.attribute': true,
          'int.attribute': 10,
          'double.attribute': 637.704,
          'array.attribute': ['many', 'values'],
          'map.attribute': { 'some.map.key': 'some value' },
        },
        traceId,
        spanId,
        eventName: 'cart.updated',
      },
      {
        ...common,
        timeUnixNano: '0',
        observedTimeUnixNano: '1544712662000000000',
        // No time of its own: the observed time stands in.
        timeMs: 1544712662000,
        severityNumber: 18,
        severityText: '',
        body: { 'order.id': 42, raw: 'AQID' },
        attributes: {},
      },
    ] satisfies LogRecordNormalized[]);
  });

  it('treats all-zero ids as no trace context and an empty body as null', () => {
    const req = request(resourceLogs(undefined, [{ traceId: '0'.repeat(32), spanId: '0'.repeat(16) }]));
    const [record] = toLogRecords(req);
    expect(record).toEqual({
      service: 'unknown_service',
      resource: {},
      scope: { name: 'test' },
      timeUnixNano: '0',
      observedTimeUnixNano: '0',
      timeMs: 0,
      severityNumber: 0,
      severityText: '',
      body: null,
      attributes: {},
    });
    expect(logRecordNormalizedSchema.parse(record)).toEqual(record);
  });
});

// ---------------------------------------------------------------------------------------------
// Interoperability: bodies produced by the official OpenTelemetry JS serializers.

const spanContext = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED };

const recordLogs = async (): Promise<ReadableLogRecord[]> => {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3', 'host.cores': 8 }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('interop-test', '0.1.0');
  const inSpan = trace.setSpanContext(context.active(), spanContext);
  const start = 1_700_000_000_123;
  logger.emit({
    timestamp: start,
    observedTimestamp: start + 2,
    severityNumber: 17,
    severityText: 'ERROR',
    body: 'payment failed',
    attributes: { 'order.id': 42, retried: true, ratio: 0.5, tags: ['a', 'b'] },
    eventName: 'payment.failed',
    context: inSpan,
  });
  logger.emit({
    timestamp: start + 5,
    severityNumber: 9,
    severityText: 'INFO',
    body: { message: 'cart updated', items: 3, nested: { ok: true }, list: [1, 'two'] },
    context: inSpan,
  });
  logger.emit({ severityNumber: 5, body: new Uint8Array([1, 2, 3]) });
  logger.emit({ attributes: { 'exception.type': 'TypeError' } });
  await provider.forceFlush();
  return exporter.getFinishedLogRecords();
};

const nanos = ([seconds, nanoseconds]: HrTime): bigint => BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);

describe('interoperability with the OpenTelemetry JS SDK', () => {
  it('decodes its protobuf and JSON bodies to the same request, field for field', async () => {
    const logs = await recordLogs();
    const protobufBody = ProtobufLogsSerializer.serializeRequest(logs);
    const jsonBody = JsonLogsSerializer.serializeRequest(logs);
    if (!protobufBody || !jsonBody) throw new Error('the serializers gave no body');

    const fromProtobuf = unwrap(decodeLogsProtobuf(protobufBody));
    const fromJson = unwrap(decodeLogsJson(new TextDecoder().decode(jsonBody)));
    expect(fromJson).toEqual(fromProtobuf);
    expect(validateLogs(fromProtobuf)).toEqual({ request: fromProtobuf, rejectedLogRecords: 0 });
    expect(recordsOf(fromProtobuf).map((r) => r.flags)).toEqual([TraceFlags.SAMPLED, TraceFlags.SAMPLED, 0, 0]);

    const records = toLogRecords(fromProtobuf);
    for (const record of records) expect(logRecordNormalizedSchema.parse(record)).toEqual(record);
    expect(records).toEqual(
      logs.map((log) => {
        const time = nanos(log.hrTime);
        const observed = nanos(log.hrTimeObserved);
        return {
          service: 'checkout',
          resource: { ...log.resource.attributes },
          scope: { name: 'interop-test', version: '0.1.0' },
          timeUnixNano: String(time),
          observedTimeUnixNano: String(observed),
          timeMs: Number((time > 0n ? time : observed) / 1000n) / 1000,
          severityNumber: log.severityNumber ?? 0,
          severityText: log.severityText ?? '',
          body: log.body instanceof Uint8Array ? Buffer.from(log.body).toString('base64') : (log.body ?? null),
          attributes: log.attributes,
          ...(log.spanContext ? { traceId: log.spanContext.traceId, spanId: log.spanContext.spanId } : {}),
          ...(log.eventName ? { eventName: log.eventName } : {}),
        };
      }),
    );

    const [failed, updated, binary, bare] = records;
    expect(failed).toMatchObject({
      timeUnixNano: '1700000000123000000',
      observedTimeUnixNano: '1700000000125000000',
      timeMs: 1_700_000_000_123,
      severityNumber: 17,
      severityText: 'ERROR',
      body: 'payment failed',
      attributes: { 'order.id': 42, retried: true, ratio: 0.5, tags: ['a', 'b'] },
      traceId: spanContext.traceId,
      spanId: spanContext.spanId,
      eventName: 'payment.failed',
    });
    expect(updated?.body).toEqual({ message: 'cart updated', items: 3, nested: { ok: true }, list: [1, 'two'] });
    expect(binary?.body).toBe('AQID');
    expect(binary?.traceId).toBeUndefined();
    // The SDK stamps the time it observed a record that has no time of its own.
    expect(bare).toMatchObject({ severityNumber: 0, severityText: '', body: null });
    expect(bare?.timeMs).toBeGreaterThan(1_700_000_000_000);
  });

  it('re-encodes its request without loss', async () => {
    const body = ProtobufLogsSerializer.serializeRequest(await recordLogs());
    if (!body) throw new Error('the serializer gave no body');
    const decoded = unwrap(decodeLogsProtobuf(body));
    expect(unwrap(decodeLogsProtobuf(encodeLogsProtobuf(decoded)))).toEqual(decoded);
  });
});
