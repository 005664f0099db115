// Property tests (fast-check) of the decoders against each other, on generated trace requests with
// AnyValues nested up to 40 levels and odd strings (NUL, lone surrogates, invalid UTF-8 on the wire):
// the fast path answers only what the full path accepts, and answers it the same; OTLP/JSON and
// protobuf of one request decode to the same records, repaired the same way (issue 16).
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { maxValueDepth } from './common.ts';
import { decodeTracesJson, decodeTracesProtobuf, encodeTracesProtobuf, splitTracesByResource, toSpanRecords, validateTraces, type OtlpResult } from './codec.ts';
import { scanTracesProtobuf } from './scan.ts';

const runs = Number(process.env.HEPH_PROPERTY_RUNS ?? 1000);

// ---------------------------------------------------------------------------------------------
// an abstract request, rendered as protobuf bytes (written by hand: no encoder limit) or OTLP/JSON

type Text = string | Uint8Array; // a Uint8Array is raw bytes on the wire, possibly invalid UTF-8
type Value =
  | { s: Text }
  | { i: bigint }
  | { d: number }
  | { b: boolean }
  | { bytes: Uint8Array }
  | { arr: Value[] }
  | { kv: Array<[Text, Value]> }
  | Record<string, never>;
type Attr = [Text, Value];
type Span = { traceId: Uint8Array; spanId: Uint8Array; name: Text; start: bigint; attributes: Attr[]; events: Array<{ name: Text; attributes: Attr[] }>; status: { code: number; message: Text } };
type Request = Array<{ resource: Attr[]; scopes: Array<{ name: Text; attributes: Attr[]; spans: Span[] }> }>;

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
/** A varint of a 64-bit two's complement value (int64 as the wire has it). */
const varint = (n: number | bigint): Uint8Array => {
  let u = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const low = Number(u & 0x7fn);
    u >>= 7n;
    out.push(u > 0n ? low | 0x80 : low);
  } while (u > 0n);
  return Uint8Array.from(out);
};
const tag = (field: number, wire: number) => protobuf.Writer.create().uint32((field << 3) | wire).finish();
const lenField = (field: number, ...parts: Uint8Array[]) => {
  const content = concat(...parts);
  return concat(tag(field, 2), protobuf.Writer.create().uint32(content.length).finish(), content);
};
const textField = (field: number, t: Text) => lenField(field, typeof t === 'string' ? Buffer.from(t, 'utf8') : t);
const fixed64 = (field: number, n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, n));
  return concat(tag(field, 1), b);
};
const double = (field: number, d: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d);
  return concat(tag(field, 1), b);
};

const valueBytes = (v: Value): Uint8Array => {
  if ('s' in v) return textField(1, v.s);
  if ('b' in v) return concat(tag(2, 0), varint(v.b ? 1 : 0));
  if ('i' in v) return concat(tag(3, 0), varint(v.i));
  if ('d' in v) return double(4, v.d);
  if ('arr' in v) return lenField(5, ...v.arr.map((x) => lenField(1, valueBytes(x))));
  if ('kv' in v) return lenField(6, ...v.kv.map((a) => lenField(1, attrBytes(a))));
  if ('bytes' in v) return lenField(7, v.bytes);
  return new Uint8Array(0);
};
const attrBytes = ([key, value]: Attr) => concat(textField(1, key), lenField(2, valueBytes(value)));
const spanBytes = (s: Span) =>
  concat(
    lenField(1, s.traceId),
    lenField(2, s.spanId),
    textField(5, s.name),
    fixed64(7, s.start),
    fixed64(8, s.start + 1_000_000n),
    ...s.attributes.map((a) => lenField(9, attrBytes(a))),
    ...s.events.map((e) => lenField(11, fixed64(1, s.start), textField(2, e.name), ...e.attributes.map((a) => lenField(3, attrBytes(a))))),
    lenField(15, textField(2, s.status.message), concat(tag(3, 0), varint(s.status.code))),
  );
const requestBytes = (r: Request) =>
  concat(
    ...r.map((rs) =>
      lenField(
        1,
        lenField(1, ...rs.resource.map((a) => lenField(1, attrBytes(a)))),
        ...rs.scopes.map((sc) => lenField(2, lenField(1, textField(1, sc.name), ...sc.attributes.map((a) => lenField(3, attrBytes(a)))), ...sc.spans.map((s) => lenField(2, spanBytes(s))))),
      ),
    ),
  );

const jsonText = (t: Text) => (typeof t === 'string' ? t : Buffer.from(t).toString('utf8'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const valueJson = (v: Value): unknown => {
  if ('s' in v) return { stringValue: jsonText(v.s) };
  if ('b' in v) return { boolValue: v.b };
  if ('i' in v) return { intValue: v.i.toString() };
  if ('d' in v) return { doubleValue: v.d };
  if ('arr' in v) return { arrayValue: { values: v.arr.map(valueJson) } };
  if ('kv' in v) return { kvlistValue: { values: v.kv.map(attrJson) } };
  if ('bytes' in v) return { bytesValue: Buffer.from(v.bytes).toString('base64') };
  return {};
};
const attrJson = ([key, value]: Attr) => ({ key: jsonText(key), value: valueJson(value) });
const requestJson = (r: Request) =>
  JSON.stringify({
    resourceSpans: r.map((rs) => ({
      resource: { attributes: rs.resource.map(attrJson) },
      scopeSpans: rs.scopes.map((sc) => ({
        scope: { name: jsonText(sc.name), attributes: sc.attributes.map(attrJson) },
        spans: sc.spans.map((s) => ({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          name: jsonText(s.name),
          startTimeUnixNano: s.start.toString(),
          endTimeUnixNano: (s.start + 1_000_000n).toString(),
          attributes: s.attributes.map(attrJson),
          events: s.events.map((e) => ({ timeUnixNano: s.start.toString(), name: jsonText(e.name), attributes: e.attributes.map(attrJson) })),
          status: { code: s.status.code, message: jsonText(s.status.message) },
        })),
      })),
    })),
  });

// ---------------------------------------------------------------------------------------------
// generators

const oddUnits = ['\u0000', '\ud83d', '\ude00', '😀', 'é', '日', 'a', 'service.name', ' ', '\uFFFD'];
/** Strings of any UTF-16 code units, weighted toward NUL, surrogate halves and pairs. */
const oddString = fc.oneof(
  fc.array(fc.constantFrom(...oddUnits), { maxLength: 6 }).map((xs) => xs.join('')),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 }),
);
/** Bytes that are not UTF-8: a surrogate in WTF-8, a cut sequence, an overlong NUL, a stray continuation. */
const invalidUtf8 = fc.constantFrom(Uint8Array.from([0x78, 0xed, 0xa0, 0xbd]), Uint8Array.from([0xc3]), Uint8Array.from([0xc0, 0x80]), Uint8Array.from([0x80, 0x61]));
const wireText: fc.Arbitrary<Text> = fc.oneof({ weight: 8, arbitrary: oddString }, { weight: 1, arbitrary: invalidUtf8 });
/** Well-formed text of any script, as most senders send. */
const plainText = fc.string({ unit: 'grapheme', maxLength: 8 });

const leaf = (text: fc.Arbitrary<Text>): fc.Arbitrary<Value> =>
  fc.oneof(
    text.map((s) => ({ s })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((i) => ({ i })),
    // -0 prints as 0 in JSON: not the same request in both encodings.
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => ({ d: d === 0 ? 0 : d })),
    fc.boolean().map((b) => ({ b })),
    fc.uint8Array({ maxLength: 4 }).map((bytes) => ({ bytes })),
    fc.constant({}),
  );
/** A chain of arrays and maps exactly `depth` levels deep around a leaf: reaches 40 levels where random trees would not. */
const chain = (text: fc.Arbitrary<Text>, maxDepth: number): fc.Arbitrary<Value> =>
  fc.tuple(fc.integer({ min: 0, max: maxDepth }).chain((n) => fc.array(fc.boolean(), { minLength: n, maxLength: n })), text, leaf(text)).map(([levels, key, inner]) =>
    levels.reduce<Value>((v, isMap) => (isMap ? { kv: [[key, v]] } : { arr: [v] }), inner),
  );
const tree = (text: fc.Arbitrary<Text>) =>
  fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf(text),
      fc.array(tie('value'), { maxLength: 3 }).map((arr) => ({ arr })),
      fc.array(fc.tuple(text, tie('value')), { maxLength: 3 }).map((kv) => ({ kv })),
    ),
  })).value;

const requestOf = (text: fc.Arbitrary<Text>, maxDepth: number): fc.Arbitrary<Request> => {
  const value = fc.oneof(tree(text), chain(text, maxDepth));
  const attrs = fc.array(fc.tuple(text, value), { maxLength: 3 });
  const nonZero = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).filter((b) => b.some((x) => x !== 0));
  const span = fc.record({
    traceId: nonZero(16),
    spanId: nonZero(8),
    name: text,
    start: fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_800_000_000_000_000_000n }),
    attributes: attrs,
    events: fc.array(fc.record({ name: text, attributes: attrs }), { maxLength: 2 }),
    status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: text }),
  });
  const resource = fc.tuple(fc.option(text.map((s): Attr => ['service.name', { s }]), { nil: undefined }), attrs).map(([name, rest]) => (name ? [name, ...rest] : rest));
  return fc.array(fc.record({ resource, scopes: fc.array(fc.record({ name: text, attributes: attrs, spans: fc.array(span, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }) }), {
    minLength: 1,
    maxLength: 2,
  });
};

/** Requests of each kind of text; a quarter of them may nest values up to 40 levels, past the limit. */
const requests = (...texts: Array<fc.Arbitrary<Text>>) =>
  fc.oneof(...texts.flatMap((text) => [{ weight: 3, arbitrary: requestOf(text, maxValueDepth) }, { weight: 1, arbitrary: requestOf(text, 40) }]));

const unwrap = <T>(r: OtlpResult<T>): T => {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

/** How far below it the deepest AnyValue lies, as readAnyValue and the fast path count: members are one level down. */
const depthOf = (v: Value): number => {
  const members = 'arr' in v ? v.arr : 'kv' in v ? v.kv.map(([, x]) => x) : [];
  return members.length === 0 ? 0 : 1 + Math.max(...members.map(depthOf));
};
/** The deepest AnyValue of a request (-1 when it has no attributes). */
const deepest = (r: Request): number => {
  const attrs = (list: Attr[]) => Math.max(-1, ...list.map(([, v]) => depthOf(v)));
  return Math.max(-1, ...r.flatMap((rs) => [attrs(rs.resource), ...rs.scopes.flatMap((sc) => [attrs(sc.attributes), ...sc.spans.flatMap((s) => [attrs(s.attributes), ...s.events.map((e) => attrs(e.attributes))])])]));
};

describe('the decoders against each other (property tests)', () => {
  it('the fast path answers only requests the full path accepts unchanged, with the same batches; both refuse values nested past the limit', () => {
    const tally = { requests: 0, fast: 0, declined: 0, refused: 0, tooDeep: 0 };
    fc.assert(
      fc.property(requests(plainText, oddString, wireText), (request) => {
        tally.requests++;
        const body = requestBytes(request);
        const full = decodeTracesProtobuf(body);
        const fast = scanTracesProtobuf(body);
        if (!full.ok) tally.refused++;
        if (deepest(request) > maxValueDepth) {
          tally.tooDeep++;
          expect(full.ok).toBe(false);
        }
        if (fast === undefined) {
          tally.declined++;
          return;
        }
        tally.fast++;
        expect(full.ok).toBe(true);
        const validation = validateTraces(unwrap(full));
        expect(validation.rejectedSpans).toBe(0);
        const written = splitTracesByResource(validation.request).map((part) => ({ serviceName: part.serviceName, spanCount: part.spanCount, request: unwrap(decodeTracesProtobuf(encodeTracesProtobuf(part.request))) }));
        expect(fast.map((b) => ({ serviceName: b.serviceName, spanCount: b.spanCount, request: unwrap(decodeTracesProtobuf(b.bytes)) }))).toEqual(written);
      }),
      { numRuns: runs },
    );
    console.log('fast path against the full path', tally);
    expect(tally.fast).toBeGreaterThan(0);
    expect(tally.tooDeep).toBeGreaterThan(0);
  });

  it('OTLP/JSON and protobuf of one request decode to the same records, strings repaired the same way', () => {
    const tally = { requests: 0, accepted: 0, refused: 0, repaired: 0 };
    fc.assert(
      fc.property(requests(plainText, oddString), (request) => {
        tally.requests++;
        // A UTF-8 encoder writes a lone surrogate as U+FFFD (Buffer.from does), so that is the protobuf equivalent.
        const json = decodeTracesJson(requestJson(request));
        const proto = decodeTracesProtobuf(requestBytes(request));
        expect(json.ok).toBe(proto.ok);
        if (!json.ok || !proto.ok) {
          tally.refused++;
          expect(deepest(request)).toBeGreaterThan(maxValueDepth);
          return;
        }
        tally.accepted++;
        if (json.repairedStrings) tally.repaired++;
        expect(json.value).toEqual(proto.value);
        const records = toSpanRecords(json.value);
        expect(records).toEqual(toSpanRecords(proto.value));
        // What reaches PostgreSQL: valid UTF-8, no NUL.
        const text = JSON.stringify(records, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
        expect(text.includes('\\u0000')).toBe(false);
        expect(JSON.stringify(records.map((r) => [r.service, r.name])).isWellFormed()).toBe(true);
      }),
      { numRuns: runs },
    );
    console.log('OTLP/JSON against protobuf', tally);
    expect(tally.repaired).toBeGreaterThan(0);
  });
});
