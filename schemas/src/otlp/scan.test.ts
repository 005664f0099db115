// The wire-level fast path against the full path (decode → validate → split → encode): where it answers,
// it must answer exactly as the full path would; everything else it leaves to the full path.
import { context, SpanKind as ApiSpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  decodeTracesProtobuf,
  encodeTracesProtobuf,
  splitTracesByResource,
  toSpanRecords,
  validateTraces,
  type AttributeLimits,
  type OtlpAnyValue,
  type OtlpKeyValue,
  type OtlpResourceSpans,
  type OtlpSpan,
  type OtlpResult,
  type TracesRequest,
} from './codec.ts';
import { scanTracesProtobuf, type ResourceSpansBatch } from './scan.ts';

const unwrap = <T>(result: OtlpResult<T>): T => {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.message}`);
  return result.value;
};

/** What ingest's full path writes to the log for a body, decoded again. */
const fullPath = (body: Uint8Array, limits: AttributeLimits) => {
  const decoded = decodeTracesProtobuf(body);
  if (!decoded.ok) return undefined;
  const validation = validateTraces(decoded.value, limits);
  return {
    rejectedSpans: validation.rejectedSpans,
    batches: splitTracesByResource(validation.request).map((part) => ({
      serviceName: part.serviceName,
      spanCount: part.spanCount,
      request: unwrap(decodeTracesProtobuf(encodeTracesProtobuf(part.request))),
    })),
  };
};

const decodedBatches = (batches: ResourceSpansBatch[]) =>
  batches.map((b) => ({ serviceName: b.serviceName, spanCount: b.spanCount, request: unwrap(decodeTracesProtobuf(b.bytes)) }));

/** The fast path declines, or agrees with the full path exactly; returns whether it answered. */
const expectAgreement = (body: Uint8Array, limits: AttributeLimits = {}): boolean => {
  const fast = scanTracesProtobuf(body, limits);
  if (fast === undefined) return false;
  const full = fullPath(body, limits);
  expect(full?.rejectedSpans).toBe(0);
  const mine = decodedBatches(fast);
  expect(mine).toEqual(full?.batches);
  expect(mine.map((b) => toSpanRecords(b.request))).toEqual(full?.batches.map((b) => toSpanRecords(b.request)));
  // Each batch is field 1 around bytes found as they are in the body.
  const wire = Buffer.from(body);
  for (const batch of fast) {
    expect(batch.bytes[0]).toBe(0x0a);
    const reader = protobuf.Reader.create(batch.bytes.subarray(1));
    const size = reader.uint32();
    expect(1 + reader.pos + size).toBe(batch.bytes.length);
    expect(wire.indexOf(Buffer.from(batch.bytes.subarray(1 + reader.pos)))).toBeGreaterThanOrEqual(0);
  }
  return true;
};

// ---------------------------------------------------------------------------------------------
// hand-built wire bytes, for what the encoder would never write

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
const varintOf = (n: number): Uint8Array => protobuf.Writer.create().uint32(n).finish();
const tagOf = (field: number, wireType: number) => varintOf((field << 3) | wireType);
const lenField = (field: number, ...parts: Uint8Array[]) => {
  const content = concat(...parts);
  return concat(tagOf(field, 2), varintOf(content.length), content);
};
const strField = (field: number, s: string) => lenField(field, Buffer.from(s, 'utf8'));
const varintField = (field: number, n: number) => concat(tagOf(field, 0), varintOf(n));
const kv = (key: string, ...value: Uint8Array[]) => concat(strField(1, key), lenField(2, ...value));
const ids = (trace = 0x11, spanByte = 0x22) => concat(lenField(1, new Uint8Array(16).fill(trace)), lenField(2, new Uint8Array(8).fill(spanByte)));
const spanOf = (...fields: Uint8Array[]) => lenField(2, ...fields);
/** ResourceSpans.resource with these attributes. */
const resourceOf = (...attributes: Uint8Array[]) => lenField(1, ...attributes.map((a) => lenField(1, a)));
/** A request of one ResourceSpans (these fields) with one ScopeSpans of these spans. */
const requestOf = (spans: Uint8Array[], resource: Uint8Array[] = [resourceOf(kv('service.name', strField(1, 'svc')))]) =>
  lenField(1, ...resource, lenField(2, ...spans));

// ---------------------------------------------------------------------------------------------
// generated requests (seeded, so a failure reproduces)

/** mulberry32 */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const limits = { maxAttributeValueLength: 12, maxAttributeCount: 5 };
// Whole words only: slicing could split a surrogate pair. 'é' and '日' are 2 and 3 bytes but one unit; '😀' is two.
const words = ['a', 'chat', 'gpt-4o', 'é', 'naïve', '日本語', '😀', 'POST', 'tool.call'];

const generator = (next: () => number) => {
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const nonZero = (n: number) => Uint8Array.from({ length: n }, () => 1 + int(255));
  const text = (maxUnits: number) => {
    let s = '';
    for (let i = int(5); i > 0; i--) {
      const w = pick(words);
      if (s.length + w.length > maxUnits) break;
      s += w;
    }
    return s;
  };
  const value = (depth: number): OtlpAnyValue => {
    switch (int(depth > 1 ? 6 : 8)) {
      case 0:
        return { stringValue: text(limits.maxAttributeValueLength) };
      case 1:
        return { intValue: BigInt(int(1e9)) - 500_000_000n };
      case 2:
        return { doubleValue: next() * 100 };
      case 3:
        return { boolValue: next() < 0.5 };
      case 4:
        return { bytesValue: nonZero(int(4)) };
      case 5:
        return {};
      case 6:
        return { arrayValue: { values: Array.from({ length: int(4) }, () => value(depth + 1)) } };
      default:
        return { kvlistValue: { values: Array.from({ length: int(4) }, () => ({ key: text(20), value: value(depth + 1) })) } };
    }
  };
  const attributes = (): OtlpKeyValue[] => Array.from({ length: int(limits.maxAttributeCount + 1) }, () => ({ key: text(30) || 'k', value: value(0) }));
  const span = (): OtlpSpan => ({
    traceId: nonZero(16),
    spanId: nonZero(8),
    traceState: next() < 0.2 ? 'vendor=1' : '',
    parentSpanId: next() < 0.3 ? new Uint8Array(0) : nonZero(8),
    flags: int(0x300),
    name: text(40),
    kind: int(6),
    startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(int(1e9)),
    endTimeUnixNano: 1_700_000_001_000_000_000n + BigInt(int(1e9)),
    attributes: attributes(),
    droppedAttributesCount: int(3),
    events: Array.from({ length: int(3) }, () => ({ timeUnixNano: BigInt(int(1e12)), name: text(20), attributes: attributes(), droppedAttributesCount: 0 })),
    droppedEventsCount: 0,
    links: Array.from({ length: int(2) }, () => ({ traceId: nonZero(16), spanId: nonZero(8), traceState: '', attributes: attributes(), droppedAttributesCount: 0, flags: 0 })),
    droppedLinksCount: int(2),
    status: { code: int(3), message: next() < 0.2 ? text(20) : '' },
  });
  const serviceAttributes = (): OtlpKeyValue[] => {
    const others = attributes().slice(0, limits.maxAttributeCount - 1);
    switch (int(4)) {
      case 0:
        return others;
      case 1:
        return [{ key: 'service.name', value: { stringValue: text(limits.maxAttributeValueLength) } }, ...others];
      case 2:
        return [...others, { key: 'service.name', value: { intValue: 7n } }];
      default:
        return [...others, { key: 'service.name', value: { stringValue: `s${int(3)}` } }];
    }
  };
  const resourceSpans = (): OtlpResourceSpans => ({
    resource: { attributes: serviceAttributes(), droppedAttributesCount: 0, entityRefs: next() < 0.2 ? [{ schemaUrl: '', type: 'host', idKeys: ['host.id'], descriptionKeys: [] }] : [] },
    // Some resources carry no spans (dropped by both paths); a resource with spans has no empty scope.
    scopeSpans: Array.from({ length: int(3) }, () => ({
      scope: { name: text(20), version: '1.0', attributes: attributes(), droppedAttributesCount: 0 },
      spans: Array.from({ length: 1 + int(4) }, span),
      schemaUrl: next() < 0.3 ? 'https://opentelemetry.io/schemas/1.26.0' : '',
    })),
    schemaUrl: '',
  });
  const request = (): TracesRequest => ({ resourceSpans: Array.from({ length: int(4) }, resourceSpans) });
  return { int, pick, nonZero, span, request };
};

type Generated = ReturnType<typeof generator>;
const spansOf = (req: TracesRequest) => req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const tooLong = { stringValue: 'x'.repeat(limits.maxAttributeValueLength + 1) };
const tooMany = (list: OtlpKeyValue[]) => {
  while (list.length <= limits.maxAttributeCount) list.push({ key: `extra.${list.length}`, value: { boolValue: true } });
};

/** Changes the full path would make (a rejection, a dropped link or scope, a truncation), on a request with spans. */
const defects: Record<string, (req: TracesRequest, g: Generated) => void> = {
  'zero trace id': (req, g) => (g.pick(spansOf(req)).traceId = new Uint8Array(16)),
  'trace id of 15 bytes': (req, g) => (g.pick(spansOf(req)).traceId = g.nonZero(15)),
  'missing span id': (req, g) => (g.pick(spansOf(req)).spanId = new Uint8Array(0)),
  'zero span id': (req, g) => (g.pick(spansOf(req)).spanId = new Uint8Array(8)),
  'parent span id of 4 bytes': (req, g) => (g.pick(spansOf(req)).parentSpanId = g.nonZero(4)),
  'link with a zero span id': (req, g) =>
    g.pick(spansOf(req)).links.push({ traceId: g.nonZero(16), spanId: new Uint8Array(8), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 }),
  'long span attribute': (req, g) => g.pick(spansOf(req)).attributes.splice(0, 1, { key: 'long', value: tooLong }),
  'long value inside an array': (req, g) => g.pick(spansOf(req)).attributes.splice(0, 1, { key: 'list', value: { arrayValue: { values: [{ boolValue: true }, tooLong] } } }),
  'long value inside a map': (req, g) =>
    g.pick(spansOf(req)).attributes.splice(0, 1, { key: 'map', value: { kvlistValue: { values: [{ key: 'deep', value: { arrayValue: { values: [tooLong] } } }] } } }),
  'long resource attribute': (req, g) => g.pick(req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0)).resource.attributes.splice(0, 1, { key: 'long', value: tooLong }),
  'long scope attribute': (req, g) => g.pick(req.resourceSpans.flatMap((rs) => rs.scopeSpans)).scope.attributes.splice(0, 1, { key: 'long', value: tooLong }),
  'long event attribute': (req, g) => {
    const span = g.pick(spansOf(req));
    span.events.push({ timeUnixNano: 1n, name: 'e', attributes: [{ key: 'long', value: { stringValue: '😀'.repeat(7) } }], droppedAttributesCount: 0 });
  },
  'long link attribute': (req, g) =>
    g.pick(spansOf(req)).links.push({ traceId: g.nonZero(16), spanId: g.nonZero(8), traceState: '', attributes: [{ key: 'long', value: { stringValue: 'é'.repeat(13) } }], droppedAttributesCount: 0, flags: 0 }),
  'too many span attributes': (req, g) => tooMany(g.pick(spansOf(req)).attributes),
  'too many resource attributes': (req, g) => tooMany(g.pick(req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0)).resource.attributes),
  'too many scope attributes': (req, g) => tooMany(g.pick(req.resourceSpans.flatMap((rs) => rs.scopeSpans)).scope.attributes),
  'too many event attributes': (req, g) => {
    const span = g.pick(spansOf(req));
    span.events.push({ timeUnixNano: 1n, name: 'e', attributes: [], droppedAttributesCount: 0 });
    tooMany(span.events.at(-1)!.attributes);
  },
  'too many link attributes': (req, g) => {
    const span = g.pick(spansOf(req));
    span.links.push({ traceId: g.nonZero(16), spanId: g.nonZero(8), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 });
    tooMany(span.links.at(-1)!.attributes);
  },
  'empty scope beside one with spans': (req, g) =>
    g.pick(req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0)).scopeSpans.push({ scope: { name: 'idle', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' }),
};

/** A request with at least one span. */
const requestWithSpans = (g: Generated): TracesRequest => {
  for (;;) {
    const req = g.request();
    if (spansOf(req).length > 0) return req;
  }
};

describe('the wire-level fast path for trace bodies', () => {
  it('passes a valid request on as sent: one batch per resource, sliced from the body', () => {
    const req: TracesRequest = {
      resourceSpans: ['checkout', 'cart'].map((service) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }], droppedAttributesCount: 0, entityRefs: [] },
        scopeSpans: [{ scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: [generator(random(1)).span()], schemaUrl: '' }],
        schemaUrl: '',
      })),
    };
    const body = Buffer.from(encodeTracesProtobuf(req));
    const batches = scanTracesProtobuf(body, limits);
    expect(batches?.map((b) => [b.serviceName, b.spanCount])).toEqual([
      ['checkout', 1],
      ['cart', 1],
    ]);
    // No copy: views into the body.
    for (const b of batches ?? []) expect(b.bytes.buffer).toBe(body.buffer);
    expect(expectAgreement(body, limits)).toBe(true);
  });

  it('names the service as serviceNameOf does: first service.name, unknown_service when absent, empty or not a string', () => {
    const named = (...attributes: Uint8Array[]) => scanTracesProtobuf(requestOf([spanOf(ids())], [resourceOf(...attributes)]))?.[0]?.serviceName;
    expect(named(kv('service.name', strField(1, 'a')), kv('service.name', strField(1, 'b')))).toBe('a');
    expect(named(kv('host.name', strField(1, 'h')))).toBe('unknown_service');
    expect(named(kv('service.name', strField(1, '')))).toBe('unknown_service');
    expect(named(kv('service.name', varintField(3, 7)), kv('service.name', strField(1, 'b')))).toBe('unknown_service');
    // Value before key on the wire.
    expect(named(concat(lenField(2, strField(1, 'late')), strField(1, 'service.name')))).toBe('late');
    expect(scanTracesProtobuf(requestOf([spanOf(ids())], []))?.[0]?.serviceName).toBe('unknown_service');
  });

  it('answers an empty request with no batches, and leaves out resources without spans', () => {
    expect(scanTracesProtobuf(new Uint8Array(0))).toEqual([]);
    const req = generator(random(2)).request();
    req.resourceSpans = [
      { resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [] }, scopeSpans: [], schemaUrl: '' },
      { resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [] }, scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' }], schemaUrl: '' },
    ];
    expect(scanTracesProtobuf(encodeTracesProtobuf(req))).toEqual([]);
  });

  it('counts value length in UTF-16 units, as the truncation does: accepts a value at the limit, declines one past it', () => {
    const withValue = (s: string) => requestOf([spanOf(ids(), lenField(9, kv('v', strField(1, s))))]);
    for (const atLimit of ['é'.repeat(12), '日'.repeat(12), '😀'.repeat(6), 'x'.repeat(12)]) expect(expectAgreement(withValue(atLimit), limits)).toBe(true);
    for (const past of ['é'.repeat(13), '😀'.repeat(7), 'x'.repeat(13)]) expect(scanTracesProtobuf(withValue(past), limits)).toBeUndefined();
    // Keys and names are not limited.
    expect(expectAgreement(requestOf([spanOf(ids(), strField(5, 'n'.repeat(100)), lenField(9, kv('k'.repeat(100), strField(1, 'v'))))]), limits)).toBe(true);
  });

  it('declines every request the full path would change', () => {
    const next = random(3);
    for (const [name, apply] of Object.entries(defects)) {
      for (let i = 0; i < 20; i++) {
        const g = generator(next);
        const req = requestWithSpans(g);
        apply(req, g);
        const body = encodeTracesProtobuf(req);
        const full = fullPath(body, limits);
        expect(full, name).toBeDefined();
        expect(scanTracesProtobuf(body, limits), `${name}, case ${i}`).toBeUndefined();
      }
    }
    // Ids left out altogether, which the encoder above never does.
    const link = (...fields: Uint8Array[]) => requestOf([spanOf(ids(), lenField(13, ...fields))]);
    expect(scanTracesProtobuf(link(lenField(2, new Uint8Array(8).fill(1))))).toBeUndefined();
    expect(scanTracesProtobuf(link(lenField(1, new Uint8Array(16).fill(1))))).toBeUndefined();
    expect(scanTracesProtobuf(requestOf([spanOf(lenField(2, new Uint8Array(8).fill(1)))]))).toBeUndefined();
    expect(validateTraces(unwrap(decodeTracesProtobuf(link(lenField(2, new Uint8Array(8).fill(1)))))).request.resourceSpans[0]?.scopeSpans[0]?.spans[0]?.droppedLinksCount).toBe(1);
  });

  it('declines bodies that are malformed or that protobuf decoders read differently', () => {
    const span = (...fields: Uint8Array[]) => requestOf([spanOf(ids(), ...fields)]);
    const cases: Record<string, Uint8Array> = {
      'invalid UTF-8 in a name': span(lenField(5, Uint8Array.of(0xc3, 0x28))),
      'invalid UTF-8 in a key': span(lenField(9, concat(lenField(1, Uint8Array.of(0xff)), lenField(2, strField(1, 'v'))))),
      'a lone surrogate in a value': span(lenField(9, kv('k', lenField(1, Uint8Array.of(0xed, 0xa0, 0x80))))),
      'trace id sent as a varint': requestOf([spanOf(varintField(1, 5), lenField(2, new Uint8Array(8).fill(1)))]),
      'kind sent length-delimited': span(strField(6, 'x')),
      'a group': span(tagOf(20, 3), tagOf(20, 4)),
      'wire type 7': span(tagOf(20, 7)),
      'field number 0': span(varintField(0, 1)),
      'two statuses': span(lenField(15, varintField(3, 1)), lenField(15, varintField(3, 2))),
      'two members of a value': span(lenField(9, kv('k', strField(1, 'a'), varintField(3, 1)))),
      'two values in a key-value': span(lenField(9, concat(strField(1, 'k'), lenField(2, strField(1, 'a')), lenField(2, strField(1, 'b'))))),
      'two resources': requestOf([spanOf(ids())], [lenField(1), lenField(1)]),
      'a varint of 11 bytes': span(tagOf(6, 0), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
      'a string longer than its span': span(tagOf(5, 2), Uint8Array.of(10, 0x61)),
      // The 8 bytes take the 4 of the scope's schema_url field that follows the span.
      'a timestamp running past the end of its span': requestOf([spanOf(ids(), tagOf(7, 1), new Uint8Array(4)), strField(3, 'ab')]),
      'a span longer than the body': requestOf([spanOf(ids())]).subarray(0, 20),
      'values nested past the depth limit': span(
        lenField(9, kv('deep', Array.from({ length: 40 }).reduce<Uint8Array>((inner) => lenField(5, lenField(1, inner)), strField(1, 'x')))),
      ),
    };
    for (const [name, body] of Object.entries(cases)) expect(scanTracesProtobuf(body), name).toBeUndefined();
    // The malformed ones are refused by the full path too, with its message.
    const malformed = ['invalid UTF-8 in a name', 'a lone surrogate in a value', 'a string longer than its span', 'a timestamp running past the end of its span', 'a span longer than the body'];
    for (const name of malformed) {
      expect(decodeTracesProtobuf(cases[name]!).ok, name).toBe(false);
    }
  });

  it('skips unknown fields at every level and passes them on unchanged', () => {
    const unknown = concat(varintField(100, 1), lenField(101, Buffer.from('future')), tagOf(102, 5), new Uint8Array(4), tagOf(103, 1), new Uint8Array(8));
    const body = concat(
      unknown,
      lenField(
        1,
        lenField(1, lenField(1, kv('service.name', strField(1, 'svc'), unknown), unknown), unknown),
        lenField(2, lenField(1, strField(1, 'lib'), unknown), spanOf(ids(), unknown, lenField(15, varintField(1, 2), varintField(3, 2))), unknown),
        unknown,
      ),
    );
    const batches = scanTracesProtobuf(body);
    expect(batches?.map((b) => [b.serviceName, b.spanCount])).toEqual([['svc', 1]]);
    expect(Buffer.from(batches![0]!.bytes).includes(Buffer.from('future'))).toBe(true);
    expect(expectAgreement(body)).toBe(true);
  });

  it('rewraps a resource whose field header on the wire is not the shortest encoding', () => {
    const inner = concat(resourceOf(kv('service.name', strField(1, 'svc'))), lenField(2, spanOf(ids())));
    // Length 0x80|n, 0x00: the same number in two bytes.
    const body = concat(Uint8Array.of(0x0a, 0x80 | inner.length, 0x00), inner);
    const batches = scanTracesProtobuf(body);
    expect(Buffer.from(batches![0]!.bytes)).toEqual(concat(Uint8Array.of(0x0a, inner.length), inner));
    expect(expectAgreement(body)).toBe(true);
  });

  it('agrees with the full path on generated requests, and answers every one validation would not change', () => {
    const next = random(20261125);
    let resources = 0;
    for (let i = 0; i < 400; i++) {
      const body = encodeTracesProtobuf(generator(next).request());
      expect(expectAgreement(body, limits), `case ${i}`).toBe(true);
      resources += scanTracesProtobuf(body, limits)!.length;
    }
    expect(resources).toBeGreaterThan(300);
  });

  it('declines or agrees with the full path on mutated and truncated bodies', () => {
    const next = random(7);
    const g = generator(next);
    let answered = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(encodeTracesProtobuf(requestWithSpans(g)));
      const choice = next();
      let body: Uint8Array;
      if (choice < 0.5) {
        for (let n = 1 + g.int(4); n > 0; n--) bytes[g.int(bytes.length)] = g.int(256);
        body = bytes;
      } else if (choice < 0.8) {
        body = bytes.subarray(0, g.int(bytes.length));
      } else {
        const at = g.int(bytes.length);
        body = concat(bytes.subarray(0, at), bytes.subarray(at, at + 1 + g.int(32)), bytes.subarray(at));
      }
      if (expectAgreement(body, limits)) answered++;
    }
    // Some mutations leave a valid request (a changed timestamp, a cut between resources).
    expect(answered).toBeGreaterThan(50);
  });

  it('takes the fast path for bodies the OpenTelemetry JS SDK serializes', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3', 'host.cores': 8 }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('interop-test', '0.1.0');
    const root = tracer.startSpan('GET /cart', { kind: ApiSpanKind.SERVER, attributes: { 'http.request.method': 'GET', retried: true, ratio: 0.5, tags: ['a', 'b'] } });
    const child = tracer.startSpan(
      'chat gpt-4o-mini',
      { kind: ApiSpanKind.CLIENT, links: [{ context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }, attributes: { 'link.reason': 'batch' } }] },
      trace.setSpan(context.active(), root),
    );
    child.setAttributes({ 'gen_ai.usage.input_tokens': 321, 'gen_ai.request.model': 'gpt-4o-mini' });
    child.addEvent('gen_ai.choice', { finish_reason: 'stop' });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
    child.end();
    root.end();
    await provider.forceFlush();
    const body = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
    if (!body) throw new Error('the serializer gave no body');
    expect(scanTracesProtobuf(body)?.map((b) => [b.serviceName, b.spanCount])).toEqual([['checkout', 2]]);
    expect(expectAgreement(body)).toBe(true);
  });
});
