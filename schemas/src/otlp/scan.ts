// The fast path for OTLP/HTTP protobuf trace bodies: walks the wire format checking what validateTraces
// checks, and when validation would change nothing, hands each ResourceSpans on as sent, not re-encoded.
import protobuf from 'protobufjs';
import { type AttributeLimits, defaultAttributeLimits, maxValueDepth } from './common.ts';
import { unknownService } from './traces.ts';

/** One ResourceSpans as an ExportTraceServiceRequest of its own, as splitTracesByResource gives it. */
export interface ResourceSpansBatch {
  serviceName: string;
  bytes: Uint8Array;
  spanCount: number;
}

// Wire types (protobuf encoding spec). Groups (3, 4) are deprecated and never in OTLP: declined.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

// AnyValue nests (arrays, maps); deeper than maxValueDepth is left to the full decoder, which refuses it.

// What protobufjs uses for proto3 strings (utf8_validation VERIFY): invalid UTF-8 makes the body malformed.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Thrown inside the scan when the full path has to decide; it never leaves this module. */
const declined = new Error('left to the full path');
const decline = (): never => {
  throw declined;
};

type Scan = { r: protobuf.Reader; buf: Uint8Array; maxCount: number; maxLength: number };

// ---------------------------------------------------------------------------------------------
// fields: each known field checks its wire type, so a field protobufjs would skip as unknown (or
// read differently) is declined rather than passed on.

/** The end of a length-delimited field, which must lie inside its message; the reader is at its start. */
const len = (s: Scan, tag: number, end: number): number => {
  if ((tag & 7) !== LEN) decline();
  const to = s.r.size() + s.r.pos;
  return to > end ? decline() : to;
};

/** At most 10 bytes, the 10th at most 1, as a 64-bit varint must be. */
const skipVarint = (s: Scan, end: number): void => {
  const { r, buf } = s;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= end) decline();
    const b = buf[r.pos++]!;
    if (b < 0x80) {
      if (i === 9 && b > 1) decline();
      return;
    }
  }
  decline();
};

const scalar = (s: Scan, tag: number, wireType: number, end: number): void => {
  if ((tag & 7) !== wireType) decline();
  if (wireType === VARINT) skipVarint(s, end);
  else s.r.skip(wireType === I64 ? 8 : 4);
};

/** A field this schema does not know: skipped, and kept in the bytes passed on (forward compatibility). */
const unknown = (s: Scan, tag: number, end: number): void => {
  if (tag >>> 3 === 0) decline();
  switch (tag & 7) {
    case VARINT:
      return skipVarint(s, end);
    case I64:
      s.r.skip(8);
      return;
    case LEN:
      s.r.pos = len(s, tag, end);
      return;
    case I32:
      s.r.skip(4);
      return;
    default:
      decline();
  }
};

/**
 * A string: valid UTF-8 without NUL (the full path repairs NUL, so the bytes as sent would differ from
 * what it writes), and at most maxLength UTF-16 code units (the unit limitAttributes counts).
 */
const text = (s: Scan, tag: number, end: number, maxLength: number): void => {
  const { r, buf } = s;
  const to = len(s, tag, end);
  if (buf.subarray(r.pos, to).includes(0)) decline();
  let i = r.pos;
  while (i < to && buf[i]! < 0x80) i++;
  // Pure ASCII: one unit per byte. Otherwise decode, which also rejects invalid UTF-8.
  const units = i === to ? to - r.pos : strictUtf8.decode(buf.subarray(r.pos, to)).length;
  if (units > maxLength) decline();
  r.pos = to;
};

const bytes = (s: Scan, tag: number, end: number): number => {
  const to = len(s, tag, end);
  const size = to - s.r.pos;
  s.r.pos = to;
  return size;
};

/** A trace or span id: `size` bytes, not all zero (trace.proto). */
const id = (s: Scan, tag: number, end: number, size: number): void => {
  const { r, buf } = s;
  const to = len(s, tag, end);
  if (to - r.pos !== size) decline();
  let bits = 0;
  for (let i = r.pos; i < to; i++) bits |= buf[i]!;
  if (bits === 0) decline();
  r.pos = to;
};

/** Every message ends exactly where its length said. */
const ended = (s: Scan, end: number): void => {
  if (s.r.pos !== end) decline();
};

// ---------------------------------------------------------------------------------------------
// messages (common.proto, resource.proto, trace.proto). A singular message field sent twice is
// declined: decoders merge the two, which the checks here do not model.

const anyValue = (s: Scan, end: number, depth: number): void => {
  const { r } = s;
  if (depth > maxValueDepth) decline();
  // The oneof: with a second member decoders keep the last one; the full path writes only that one.
  let member = 0;
  while (r.pos < end) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field >= 1 && field <= 8) {
      if (member !== 0 && (member !== field || field === 5 || field === 6)) decline();
      member = field;
    }
    switch (field) {
      case 1: // string_value: the one place the value length limit applies
        text(s, tag, end, s.maxLength);
        break;
      case 2: // bool_value
      case 3: // int_value
      case 8: // string_value_strindex
        scalar(s, tag, VARINT, end);
        break;
      case 4: // double_value
        scalar(s, tag, I64, end);
        break;
      case 5: // array_value
        arrayValue(s, len(s, tag, end), depth + 1);
        break;
      case 6: // kvlist_value
        keyValueList(s, len(s, tag, end), depth + 1);
        break;
      case 7: // bytes_value
        bytes(s, tag, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
};

const arrayValue = (s: Scan, end: number, depth: number): void => {
  const { r } = s;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag >>> 3 === 1) anyValue(s, len(s, tag, end), depth);
    else unknown(s, tag, end);
  }
  ended(s, end);
};

const keyValueList = (s: Scan, end: number, depth: number): void => {
  const { r } = s;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag >>> 3 === 1) keyValue(s, len(s, tag, end), depth);
    else unknown(s, tag, end);
  }
  ended(s, end);
};

const keyValue = (s: Scan, end: number, depth: number): void => {
  const { r } = s;
  let value = false;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // key
        text(s, tag, end, Infinity);
        break;
      case 2: // value
        if (value) decline();
        value = true;
        anyValue(s, len(s, tag, end), depth);
        break;
      case 3: // key_strindex
        scalar(s, tag, VARINT, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
};

/** One attribute of a resource, scope, span, event or link, counted against maxAttributeCount. */
const attribute = (s: Scan, tag: number, end: number, count: number): number => {
  if (count >= s.maxCount) decline();
  keyValue(s, len(s, tag, end), 0);
  return count + 1;
};

const entityRef = (s: Scan, end: number): void => {
  const { r } = s;
  while (r.pos < end) {
    const tag = r.tag();
    const field = tag >>> 3;
    // schema_url, type, id_keys, description_keys: all strings.
    if (field >= 1 && field <= 4) text(s, tag, end, Infinity);
    else unknown(s, tag, end);
  }
  ended(s, end);
};

const resource = (s: Scan, end: number): void => {
  const { r } = s;
  let attributes = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // attributes
        attributes = attribute(s, tag, end, attributes);
        break;
      case 2: // dropped_attributes_count
        scalar(s, tag, VARINT, end);
        break;
      case 3: // entity_refs
        entityRef(s, len(s, tag, end));
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
};

const instrumentationScope = (s: Scan, end: number): void => {
  const { r } = s;
  let attributes = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // name
      case 2: // version
        text(s, tag, end, Infinity);
        break;
      case 3: // attributes
        attributes = attribute(s, tag, end, attributes);
        break;
      case 4: // dropped_attributes_count
        scalar(s, tag, VARINT, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
};

const event = (s: Scan, end: number): void => {
  const { r } = s;
  let attributes = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // time_unix_nano
        scalar(s, tag, I64, end);
        break;
      case 2: // name
        text(s, tag, end, Infinity);
        break;
      case 3: // attributes
        attributes = attribute(s, tag, end, attributes);
        break;
      case 4: // dropped_attributes_count
        scalar(s, tag, VARINT, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
};

/** A link with an invalid id would be dropped by validation (and counted in dropped_links_count). */
const link = (s: Scan, end: number): void => {
  const { r } = s;
  let traceId = false;
  let spanId = false;
  let attributes = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // trace_id
        id(s, tag, end, 16);
        traceId = true;
        break;
      case 2: // span_id
        id(s, tag, end, 8);
        spanId = true;
        break;
      case 3: // trace_state
        text(s, tag, end, Infinity);
        break;
      case 4: // attributes
        attributes = attribute(s, tag, end, attributes);
        break;
      case 5: // dropped_attributes_count
        scalar(s, tag, VARINT, end);
        break;
      case 6: // flags
        scalar(s, tag, I32, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
  if (!traceId || !spanId) decline();
};

const status = (s: Scan, end: number): void => {
  const { r } = s;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 2: // message
        text(s, tag, end, Infinity);
        break;
      case 3: // code
        scalar(s, tag, VARINT, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
};

/** The span rules of validateTraces: trace id 16 and span id 8 non-zero bytes, parent id empty or 8 bytes. */
const span = (s: Scan, end: number): void => {
  const { r } = s;
  let traceId = false;
  let spanId = false;
  let hasStatus = false;
  let attributes = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // trace_id
        id(s, tag, end, 16);
        traceId = true;
        break;
      case 2: // span_id
        id(s, tag, end, 8);
        spanId = true;
        break;
      case 3: // trace_state
      case 5: // name
        text(s, tag, end, Infinity);
        break;
      case 4: {
        // parent_span_id
        const size = bytes(s, tag, end);
        if (size !== 0 && size !== 8) decline();
        break;
      }
      case 6: // kind
      case 10: // dropped_attributes_count
      case 12: // dropped_events_count
      case 14: // dropped_links_count
        scalar(s, tag, VARINT, end);
        break;
      case 7: // start_time_unix_nano
      case 8: // end_time_unix_nano
        scalar(s, tag, I64, end);
        break;
      case 9: // attributes
        attributes = attribute(s, tag, end, attributes);
        break;
      case 11: // events
        event(s, len(s, tag, end));
        break;
      case 13: // links
        link(s, len(s, tag, end));
        break;
      case 15: // status
        if (hasStatus) decline();
        hasStatus = true;
        status(s, len(s, tag, end));
        break;
      case 16: // flags
        scalar(s, tag, I32, end);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
  if (!traceId || !spanId) decline();
};

/** The number of spans. */
const scopeSpans = (s: Scan, end: number): number => {
  const { r } = s;
  let spans = 0;
  let hasScope = false;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: // scope
        if (hasScope) decline();
        hasScope = true;
        instrumentationScope(s, len(s, tag, end));
        break;
      case 2: // spans
        span(s, len(s, tag, end));
        spans++;
        break;
      case 3: // schema_url
        text(s, tag, end, Infinity);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
  return spans;
};

/** The number of spans and where the Resource is, to read service.name from once all checks passed. */
const resourceSpans = (s: Scan, end: number): { spanCount: number; resourceAt?: [number, number] } => {
  const { r } = s;
  let spanCount = 0;
  let emptyScopes = 0;
  let resourceAt: [number, number] | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: {
        // resource
        if (resourceAt) decline();
        const to = len(s, tag, end);
        resourceAt = [r.pos, to];
        resource(s, to);
        break;
      }
      case 2: {
        // scope_spans
        const spans = scopeSpans(s, len(s, tag, end));
        spanCount += spans;
        if (spans === 0) emptyScopes++;
        break;
      }
      case 3: // schema_url
        text(s, tag, end, Infinity);
        break;
      default:
        unknown(s, tag, end);
    }
  }
  ended(s, end);
  // Validation drops scopes left without spans: passing this resource on as sent would keep them.
  if (spanCount > 0 && emptyScopes > 0) decline();
  return resourceAt ? { spanCount, resourceAt } : { spanCount };
};

// ---------------------------------------------------------------------------------------------
// service name and output

const stringIn = (s: Scan, tag: number, end: number): string => {
  const to = len(s, tag, end);
  const value = strictUtf8.decode(s.buf.subarray(s.r.pos, to));
  s.r.pos = to;
  return value;
};

/** The string_value of an AnyValue, if that is its member. */
const stringValueIn = (s: Scan, end: number): string | undefined => {
  let value: string | undefined;
  while (s.r.pos < end) {
    const tag = s.r.tag();
    if (tag >>> 3 === 1) value = stringIn(s, tag, end);
    else unknown(s, tag, end);
  }
  return value;
};

/** As serviceNameOf reads it: the first service.name attribute's string value, or unknown_service. */
const serviceNameIn = (s: Scan, start: number, end: number): string => {
  const { r } = s;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag >>> 3 !== 1) {
      unknown(s, tag, end);
      continue;
    }
    const kvEnd = len(s, tag, end);
    let key = '';
    let value: string | undefined;
    while (r.pos < kvEnd) {
      const kvTag = r.tag();
      const field = kvTag >>> 3;
      if (field === 1) key = stringIn(s, kvTag, kvEnd);
      else if (field === 2) value = stringValueIn(s, len(s, kvTag, kvEnd));
      else unknown(s, kvTag, kvEnd);
    }
    if (key === 'service.name') return value || unknownService;
  }
  return unknownService;
};

/** Field 1 of an ExportTraceServiceRequest around the ResourceSpans bytes; the body's own when canonical. */
const asRequest = (body: Uint8Array, tagAt: number, start: number, end: number): Uint8Array => {
  const header = protobuf.Writer.create().uint32((1 << 3) | LEN).uint32(end - start).finish();
  // Varints are never shorter than canonical, so the same header length means the same header bytes.
  if (start - tagAt === header.length) return body.subarray(tagAt, end);
  const out = new Uint8Array(header.length + end - start);
  out.set(header);
  out.set(body.subarray(start, end), header.length);
  return out;
};

const isLimit = (n: number): boolean => Number.isInteger(n) && n >= 0;

/**
 * Checks an ExportTraceServiceRequest protobuf body on the wire: well-formed (as protobufjs would
 * decode it, valid UTF-8 strings included), every span valid by validateTraces' rules, no attribute
 * list or value over the limits. If so, returns what validate → split → encode would give, each
 * ResourceSpans as sent (unknown fields kept; views into `body` where the bytes allow); otherwise
 * undefined, and the full path decides (rejections, truncation, malformed bodies and their messages).
 */
export const scanTracesProtobuf = (body: Uint8Array, limits: AttributeLimits = {}): ResourceSpansBatch[] | undefined => {
  const applied = { ...defaultAttributeLimits, ...limits };
  if (!isLimit(applied.maxAttributeCount) || !isLimit(applied.maxAttributeValueLength)) return undefined;
  const s: Scan = { r: protobuf.Reader.create(body), buf: body, maxCount: applied.maxAttributeCount, maxLength: applied.maxAttributeValueLength };
  const { r } = s;
  const batches: ResourceSpansBatch[] = [];
  try {
    while (r.pos < body.length) {
      const tagAt = r.pos;
      const tag = r.tag();
      if (tag >>> 3 !== 1) {
        unknown(s, tag, body.length);
        continue;
      }
      // resource_spans
      const end = len(s, tag, body.length);
      const start = r.pos;
      const { spanCount, resourceAt } = resourceSpans(s, end);
      if (spanCount === 0) continue;
      const serviceName = resourceAt ? serviceNameIn(s, resourceAt[0], resourceAt[1]) : unknownService;
      r.pos = end;
      batches.push({ serviceName, bytes: asRequest(body, tagAt, start, end), spanCount });
    }
  } catch {
    // Declined, or a read past the end (protobufjs throws): either way the full path answers.
    return undefined;
  }
  return batches;
};
