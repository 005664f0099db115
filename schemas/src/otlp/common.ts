// The OTLP model shared by every signal (common.proto, resource.proto) and the rules that read it
// from OTLP/JSON or decoded protobuf, write it back for protobufjs, and flatten attributes.
import type { AttributeValue } from '../telemetry.ts';

// The internal model mirrors the protobuf messages with lowerCamelCase names (as OTLP/JSON does),
// every field present, 64-bit integers as bigint and bytes as Uint8Array.

/** AnyValue is a oneof: at most one member is set; none set means an empty value. */
export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: bigint;
  doubleValue?: number;
  arrayValue?: { values: OtlpAnyValue[] };
  kvlistValue?: { values: OtlpKeyValue[] };
  bytesValue?: Uint8Array;
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpInstrumentationScope {
  name: string;
  version: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
}

export interface OtlpEntityRef {
  schemaUrl: string;
  type: string;
  idKeys: string[];
  descriptionKeys: string[];
}

export interface OtlpResource {
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  entityRefs: OtlpEntityRef[];
}

export type OtlpError = { code: 'malformed'; message: string };
/** A decoded request says how many of its strings were repaired (see readString). */
export type OtlpResult<T> = { ok: true; value: T; repairedStrings?: number } | { ok: false; error: OtlpError };

/** Limits applied by validation; attribute lists longer than the count lose their tail. */
export interface AttributeLimits {
  maxAttributeValueLength?: number;
  maxAttributeCount?: number;
}

export const defaultAttributeLimits: Required<AttributeLimits> = { maxAttributeValueLength: 4096, maxAttributeCount: 128 };

// ---------------------------------------------------------------------------------------------
// read: OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) or the
// plain object protobufjs gives for a decoded message (bytes as Uint8Array, 64-bit as bigint).
// Both go through the same rules, so both encodings decode to the same model.

/** Thrown while reading; the decoders turn it into `{ ok: false }`. */
export class MalformedOtlp extends Error {
  override name = 'MalformedOtlp';
}

const showValue = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
};

const fail = (path: string, expected: string, v: unknown): never => {
  throw new MalformedOtlp(`${path}: expected ${expected}, got ${showValue(v)}`);
};

/**
 * How deep AnyValues nest (arrays and maps), counted as readAnyValue and the fast path count it.
 * protobufjs stops at 100 nested messages, and a map level is three of them (AnyValue, KeyValueList,
 * KeyValue): an exemplar's attributes in a per-resource request reach it past 30 levels. Below that,
 * with room to spare, every encoding and every path (JSON, protobuf, the fast path, the analyzer's
 * decode of what ingest wrote) accepts and refuses the same values.
 */
export const maxValueDepth = 24;

export type Obj = Record<string, unknown>;

export const readObject = (v: unknown, path: string): Obj | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return fail(path, 'an object', v);
  return v as Obj;
};

export const readList = <T>(v: unknown, path: string, item: (v: unknown, path: string) => T): T[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return fail(path, 'an array', v);
  return v.map((x, i) => item(x, `${path}[${i}]`));
};

// The strings of the request being read that readString repaired; requestDecoders resets and reports it
// (reading is synchronous, so no other request interleaves).
let repairedStrings = 0;

/**
 * Every string of a request goes through here, from either encoding. OTLP/JSON can carry a lone
 * surrogate (half an emoji: JSON allows the escape, UTF-8 cannot encode it) and both encodings can
 * carry NUL, which PostgreSQL text cannot hold. Both become U+FFFD, so the protobuf ingest writes is
 * valid, the analyzer can store what it reads, and JSON and protobuf give the same record.
 */
export const readString = (v: unknown, path: string): string => {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') return fail(path, 'a string', v);
  if (v.isWellFormed() && !v.includes('\u0000')) return v;
  repairedStrings++;
  return v.toWellFormed().replaceAll('\u0000', '\uFFFD');
};

const readBool = (v: unknown, path: string): boolean => {
  if (v === undefined || v === null) return false;
  return typeof v === 'boolean' ? v : fail(path, 'a boolean', v);
};

const integerText = /^-?\d+$/;

const readInteger = (v: unknown, path: string, min: bigint, max: bigint, what: string): bigint => {
  if (v === undefined || v === null) return 0n;
  let n: bigint | undefined;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && integerText.test(v)) n = BigInt(v);
  if (n === undefined || n < min || n > max) return fail(path, what, v);
  return n;
};

/** uint32 and fixed32: a JSON number (or, as proto3 JSON allows, a decimal string). */
export const readUint32 = (v: unknown, path: string): number => Number(readInteger(v, path, 0n, 0xffff_ffffn, 'an unsigned 32-bit integer'));

/** fixed64/uint64: OTLP/JSON sends a decimal string or a number. */
export const readUint64 = (v: unknown, path: string): bigint => readInteger(v, path, 0n, 2n ** 64n - 1n, 'an unsigned 64-bit integer');

/** int64/sfixed64. */
export const readInt64 = (v: unknown, path: string): bigint => readInteger(v, path, -(2n ** 63n), 2n ** 63n - 1n, 'a signed 64-bit integer');

const specialDoubles: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };

export const readDouble = (v: unknown, path: string): number => {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const special = specialDoubles[v];
    if (special !== undefined) return special;
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n)) return n;
  }
  return fail(path, 'a number', v);
};

/** Enums are integers in OTLP/JSON; names are accepted too, as the proto3 JSON mapping allows. */
export const readEnum = (v: unknown, path: string, names: readonly string[]): number => {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return v;
  if (typeof v === 'string') {
    const i = names.indexOf(v);
    if (i >= 0) return i;
  }
  return fail(path, `an enum value (integer or one of ${names.join(', ')})`, v);
};

const hexDigits = '0123456789abcdef';
const hexByte = Array.from({ length: 256 }, (_, i) => hexDigits[i >> 4]! + hexDigits[i & 15]!);

export const toHex = (bytes: Uint8Array): string => {
  let out = '';
  for (const b of bytes) out += hexByte[b];
  return out;
};

const hexText = /^(?:[0-9a-fA-F]{2})*$/;

/** Trace and span ids: bytes in protobuf, case-insensitive hex (not base64) in OTLP/JSON. */
export const readId = (v: unknown, path: string): Uint8Array => {
  if (v === undefined || v === null) return new Uint8Array(0);
  // A copy, as a plain Uint8Array: the decoder hands out views into the request body (Buffer.slice does not copy).
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (typeof v !== 'string' || !hexText.test(v)) return fail(path, 'a hex-encoded id', v);
  const out = new Uint8Array(v.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(v.slice(2 * i, 2 * i + 2), 16);
  return out;
};

const base64Text = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Other bytes fields are base64 in JSON (standard or URL-safe alphabet, proto3 JSON mapping). */
export const readBytes = (v: unknown, path: string): Uint8Array => {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (typeof v !== 'string' || !base64Text.test(v) || v.length % 4 === 1) return fail(path, 'base64-encoded bytes', v);
  let binary: string;
  try {
    binary = atob(v.replaceAll('-', '+').replaceAll('_', '/'));
  } catch {
    return fail(path, 'base64-encoded bytes', v);
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
};

export const toBase64 = (bytes: Uint8Array): string => {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
};

const anyValueMembers = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue', 'stringValueStrindex'] as const;

export const readAnyValue = (v: unknown, path: string, depth = 0): OtlpAnyValue => {
  const o = readObject(v, path);
  if (o === undefined) return {};
  if (depth > maxValueDepth) throw new MalformedOtlp(`${path}: values nested deeper than ${maxValueDepth} levels`);
  const set = anyValueMembers.filter((m) => o[m] !== undefined && o[m] !== null);
  if (set.length > 1) throw new MalformedOtlp(`${path}: more than one value set (${set.join(', ')})`);
  const member = set[0];
  const at = `${path}.${member}`;
  switch (member) {
    case 'stringValue':
      return { stringValue: readString(o.stringValue, at) };
    case 'boolValue':
      return { boolValue: readBool(o.boolValue, at) };
    case 'intValue':
      return { intValue: readInt64(o.intValue, at) };
    case 'doubleValue':
      return { doubleValue: readDouble(o.doubleValue, at) };
    case 'arrayValue': {
      const list = readObject(o.arrayValue, at);
      return { arrayValue: { values: readList(list?.values, `${at}.values`, (x, p) => readAnyValue(x, p, depth + 1)) } };
    }
    case 'kvlistValue': {
      const list = readObject(o.kvlistValue, at);
      return { kvlistValue: { values: readList(list?.values, `${at}.values`, (x, p) => readKeyValue(x, p, depth + 1)) } };
    }
    case 'bytesValue':
      return { bytesValue: readBytes(o.bytesValue, at) };
    // Unset, or string_value_strindex, which belongs to profiles: other signals process it as an
    // empty value (common.proto).
    default:
      return {};
  }
};

export const readKeyValue = (v: unknown, path: string, depth = 0): OtlpKeyValue => {
  const o = readObject(v, path) ?? {};
  return { key: readString(o.key, `${path}.key`), value: readAnyValue(o.value, `${path}.value`, depth) };
};

export const readAttributes = (v: unknown, path: string): OtlpKeyValue[] => readList(v, path, (x, p) => readKeyValue(x, p));

export const readScope = (v: unknown, path: string): OtlpInstrumentationScope => {
  const o = readObject(v, path) ?? {};
  return {
    name: readString(o.name, `${path}.name`),
    version: readString(o.version, `${path}.version`),
    attributes: readAttributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: readUint32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
  };
};

const readEntityRef = (v: unknown, path: string): OtlpEntityRef => {
  const o = readObject(v, path) ?? {};
  return {
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
    type: readString(o.type, `${path}.type`),
    idKeys: readList(o.idKeys, `${path}.idKeys`, readString),
    descriptionKeys: readList(o.descriptionKeys, `${path}.descriptionKeys`, readString),
  };
};

export const readResource = (v: unknown, path: string): OtlpResource => {
  const o = readObject(v, path) ?? {};
  return {
    attributes: readAttributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: readUint32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    entityRefs: readList(o.entityRefs, `${path}.entityRefs`, readEntityRef),
  };
};

// ---------------------------------------------------------------------------------------------
// write: the plain objects protobufjs encodes. Its writer takes 64-bit values as {low, high}
// (a bigint would be written as 0), so bigints are split here.

export type LongBits = { low: number; high: number };

export const longBits = (n: bigint): LongBits => {
  const u = BigInt.asUintN(64, n);
  return { low: Number(u & 0xffff_ffffn), high: Number(u >> 32n) };
};

export const writeAnyValue = (v: OtlpAnyValue): Obj => {
  if (v.intValue !== undefined) return { intValue: longBits(v.intValue) };
  if (v.arrayValue !== undefined) return { arrayValue: { values: v.arrayValue.values.map(writeAnyValue) } };
  if (v.kvlistValue !== undefined) return { kvlistValue: { values: v.kvlistValue.values.map(writeKeyValue) } };
  return v as Obj;
};

export const writeKeyValue = (kv: OtlpKeyValue): Obj => ({ key: kv.key, value: writeAnyValue(kv.value) });

export const writeScope = (s: OtlpInstrumentationScope): Obj => ({ ...s, attributes: s.attributes.map(writeKeyValue) });

export const writeResource = (r: OtlpResource): Obj => ({ ...r, attributes: r.attributes.map(writeKeyValue) });

// ---------------------------------------------------------------------------------------------
// limit: the attribute limits of the OpenTelemetry SDK spec, applied on receipt.

const truncate = (s: string, max: number): string => {
  if (s.length <= max) return s;
  // Do not split a surrogate pair.
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
};

const limitValue = (v: OtlpAnyValue, maxLength: number): OtlpAnyValue => {
  if (v.stringValue !== undefined) return v.stringValue.length > maxLength ? { stringValue: truncate(v.stringValue, maxLength) } : v;
  if (v.arrayValue !== undefined) return { arrayValue: { values: v.arrayValue.values.map((x) => limitValue(x, maxLength)) } };
  if (v.kvlistValue !== undefined) {
    return { kvlistValue: { values: v.kvlistValue.values.map((kv) => ({ key: kv.key, value: limitValue(kv.value, maxLength) })) } };
  }
  return v;
};

/** Caps the count and truncates long strings (also inside arrays and maps). */
export const limitAttributes = (
  attributes: OtlpKeyValue[],
  droppedAttributesCount: number,
  limits: Required<AttributeLimits>,
): { attributes: OtlpKeyValue[]; droppedAttributesCount: number } => {
  const kept = attributes.slice(0, limits.maxAttributeCount);
  return {
    attributes: kept.map((kv) => ({ key: kv.key, value: limitValue(kv.value, limits.maxAttributeValueLength) })),
    droppedAttributesCount: droppedAttributesCount + (attributes.length - kept.length),
  };
};

// ---------------------------------------------------------------------------------------------
// normalize: OTLP values to the plain attribute values of our records.

export const toAttributeValue = (v: OtlpAnyValue): AttributeValue => {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue.toString();
  }
  // NaN and ±Infinity are not JSON numbers; keep them as the proto3 JSON mapping writes them.
  if (v.doubleValue !== undefined) return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(toAttributeValue);
  if (v.kvlistValue !== undefined) return toAttributeRecord(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return toBase64(v.bytesValue);
  return null;
};

/** Keys are unique in OTLP; if a sender repeats one, the first wins. */
export const toAttributeRecord = (attributes: OtlpKeyValue[]): Record<string, AttributeValue> => {
  const seen = new Set<string>();
  const entries: [string, AttributeValue][] = [];
  for (const kv of attributes) {
    if (seen.has(kv.key)) continue;
    seen.add(kv.key);
    entries.push([kv.key, toAttributeValue(kv.value)]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(entries);
};

export const stringAttribute = (attributes: OtlpKeyValue[], key: string): string | undefined =>
  attributes.find((kv) => kv.key === key)?.value.stringValue;

const malformed = (prefix: string, err: unknown): OtlpResult<never> => ({
  ok: false,
  error: { code: 'malformed', message: `${prefix}: ${err instanceof Error ? err.message : String(err)}` },
});

type MessageType = { decode(bytes: Uint8Array): unknown; toObject(message: never, options: { longs: typeof BigInt }): unknown };

const repaired = <R>(value: R): OtlpResult<R> => (repairedStrings > 0 ? { ok: true, value, repairedStrings } : { ok: true, value });

/** The protobuf and JSON decoders of one export request, sharing its reader. Neither throws. */
export const requestDecoders = <R>(type: MessageType, read: (v: unknown) => R) => ({
  protobuf: (bytes: Uint8Array): OtlpResult<R> => {
    repairedStrings = 0;
    try {
      return repaired(read(type.toObject(type.decode(bytes) as never, { longs: BigInt })));
    } catch (err) {
      return malformed('invalid OTLP protobuf', err);
    }
  },
  json: (text: string): OtlpResult<R> => {
    repairedStrings = 0;
    try {
      return repaired(read(JSON.parse(text)));
    } catch (err) {
      return malformed('invalid OTLP JSON', err);
    }
  },
});
