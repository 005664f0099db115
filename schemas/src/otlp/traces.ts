// The OTLP trace signal: decode (protobuf, JSON) → validate → split per resource → encode for the
// log, the export response, and the normalized span records the analyzer reads.
import type { SpanKind, SpanRecord, SpanStatus } from '../telemetry.ts';
import {
  type AttributeLimits,
  defaultAttributeLimits,
  limitAttributes,
  longBits,
  MalformedOtlp,
  type Obj,
  type OtlpInstrumentationScope,
  type OtlpKeyValue,
  type OtlpResource,
  type OtlpResult,
  readAttributes,
  readEnum,
  readId,
  readList,
  readObject,
  readResource,
  readScope,
  readString,
  readUint32,
  readUint64,
  stringAttribute,
  toAttributeRecord,
  toHex,
  writeKeyValue,
  writeResource,
  writeScope,
  requestDecoders,
} from './common.ts';
import { otlpTypes } from './descriptor.ts';

/** An ExportTraceServiceRequest (collector/trace/v1/trace_service.proto), decoded. */
export interface TracesRequest {
  resourceSpans: OtlpResourceSpans[];
}

export interface OtlpResourceSpans {
  resource: OtlpResource;
  scopeSpans: OtlpScopeSpans[];
  schemaUrl: string;
}

export interface OtlpScopeSpans {
  scope: OtlpInstrumentationScope;
  spans: OtlpSpan[];
  schemaUrl: string;
}

export interface OtlpSpan {
  /** 16 bytes once validated. */
  traceId: Uint8Array;
  /** 8 bytes once validated. */
  spanId: Uint8Array;
  traceState: string;
  /** Empty for a root span. */
  parentSpanId: Uint8Array;
  flags: number;
  name: string;
  /** Span.SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  events: OtlpSpanEvent[];
  droppedEventsCount: number;
  links: OtlpSpanLink[];
  droppedLinksCount: number;
  status: OtlpStatus;
}

export interface OtlpSpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
}

export interface OtlpSpanLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

export interface OtlpStatus {
  message: string;
  /** Status.StatusCode: 0 unset, 1 ok, 2 error. */
  code: number;
}

const spanKinds: readonly SpanKind[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const spanKindNames = spanKinds.map((k) => `SPAN_KIND_${k.toUpperCase()}`);
const statusCodes: readonly SpanStatus[] = ['unset', 'ok', 'error'];
const statusCodeNames = statusCodes.map((c) => `STATUS_CODE_${c.toUpperCase()}`);

// ---------------------------------------------------------------------------------------------
// decode

const readEvent = (v: unknown, path: string): OtlpSpanEvent => {
  const o = readObject(v, path) ?? {};
  return {
    timeUnixNano: readUint64(o.timeUnixNano, `${path}.timeUnixNano`),
    name: readString(o.name, `${path}.name`),
    attributes: readAttributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: readUint32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
  };
};

const readLink = (v: unknown, path: string): OtlpSpanLink => {
  const o = readObject(v, path) ?? {};
  return {
    traceId: readId(o.traceId, `${path}.traceId`),
    spanId: readId(o.spanId, `${path}.spanId`),
    traceState: readString(o.traceState, `${path}.traceState`),
    attributes: readAttributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: readUint32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    flags: readUint32(o.flags, `${path}.flags`),
  };
};

const readStatus = (v: unknown, path: string): OtlpStatus => {
  const o = readObject(v, path) ?? {};
  return { message: readString(o.message, `${path}.message`), code: readEnum(o.code, `${path}.code`, statusCodeNames) };
};

const readSpan = (v: unknown, path: string): OtlpSpan => {
  const o = readObject(v, path) ?? {};
  return {
    traceId: readId(o.traceId, `${path}.traceId`),
    spanId: readId(o.spanId, `${path}.spanId`),
    traceState: readString(o.traceState, `${path}.traceState`),
    parentSpanId: readId(o.parentSpanId, `${path}.parentSpanId`),
    flags: readUint32(o.flags, `${path}.flags`),
    name: readString(o.name, `${path}.name`),
    kind: readEnum(o.kind, `${path}.kind`, spanKindNames),
    startTimeUnixNano: readUint64(o.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: readUint64(o.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: readAttributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: readUint32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    events: readList(o.events, `${path}.events`, readEvent),
    droppedEventsCount: readUint32(o.droppedEventsCount, `${path}.droppedEventsCount`),
    links: readList(o.links, `${path}.links`, readLink),
    droppedLinksCount: readUint32(o.droppedLinksCount, `${path}.droppedLinksCount`),
    status: readStatus(o.status, `${path}.status`),
  };
};

const readScopeSpans = (v: unknown, path: string): OtlpScopeSpans => {
  const o = readObject(v, path) ?? {};
  return {
    scope: readScope(o.scope, `${path}.scope`),
    spans: readList(o.spans, `${path}.spans`, readSpan),
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
  };
};

const readResourceSpans = (v: unknown, path: string): OtlpResourceSpans => {
  const o = readObject(v, path) ?? {};
  return {
    resource: readResource(o.resource, `${path}.resource`),
    scopeSpans: readList(o.scopeSpans, `${path}.scopeSpans`, readScopeSpans),
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
  };
};

const readTracesRequest = (v: unknown): TracesRequest => {
  const o = readObject(v, 'request');
  if (o === undefined) throw new MalformedOtlp('request: expected an object, got null');
  return { resourceSpans: readList(o.resourceSpans, 'resourceSpans', readResourceSpans) };
};

const decoders = requestDecoders(otlpTypes.ExportTraceServiceRequest, readTracesRequest);

/** Decodes an OTLP/HTTP protobuf body (ExportTraceServiceRequest). Never throws. */
export const decodeTracesProtobuf: (bytes: Uint8Array) => OtlpResult<TracesRequest> = decoders.protobuf;

/**
 * Decodes an OTLP/HTTP JSON body: lowerCamelCase keys, trace and span ids in hex, 64-bit integers
 * as strings or numbers, enums as integers; unknown fields are ignored. Never throws.
 */
export const decodeTracesJson: (text: string) => OtlpResult<TracesRequest> = decoders.json;

// ---------------------------------------------------------------------------------------------
// validate

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);
const isValidId = (bytes: Uint8Array, length: number): boolean => bytes.length === length && !isZero(bytes);

const rejectionOf = (span: OtlpSpan): string | undefined => {
  if (!isValidId(span.traceId, 16)) return 'invalid trace id';
  if (!isValidId(span.spanId, 8)) return 'invalid span id';
  if (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8) return 'invalid parent span id';
  return undefined;
};

export interface TracesValidation {
  /** The spans that passed, with their attributes limited; scopes and resources left empty are dropped. */
  request: TracesRequest;
  rejectedSpans: number;
  /** For the OTLP partial success response; set when spans were rejected. */
  message?: string;
}

/**
 * Drops spans the OTLP spec calls invalid (trace id not 16 non-zero bytes, span id not 8 non-zero
 * bytes, parent span id neither empty nor 8 bytes) and links with such ids, and applies the
 * attribute limits to resources, scopes, spans, events and links.
 */
export const validateTraces = (req: TracesRequest, limits: AttributeLimits = {}): TracesValidation => {
  const applied = { ...defaultAttributeLimits, ...limits };
  const rejections = new Map<string, { count: number; firstSpan: string }>();
  let rejectedSpans = 0;

  const keepSpan = (span: OtlpSpan): boolean => {
    const reason = rejectionOf(span);
    if (reason === undefined) return true;
    rejectedSpans++;
    const seen = rejections.get(reason);
    if (seen) seen.count++;
    else rejections.set(reason, { count: 1, firstSpan: span.name.length > 64 ? `${span.name.slice(0, 64)}…` : span.name });
    return false;
  };

  const limitSpan = (span: OtlpSpan): OtlpSpan => {
    const links = span.links.filter((l) => isValidId(l.traceId, 16) && isValidId(l.spanId, 8));
    return {
      ...span,
      ...limitAttributes(span.attributes, span.droppedAttributesCount, applied),
      events: span.events.map((e) => ({ ...e, ...limitAttributes(e.attributes, e.droppedAttributesCount, applied) })),
      links: links.map((l) => ({ ...l, ...limitAttributes(l.attributes, l.droppedAttributesCount, applied) })),
      droppedLinksCount: span.droppedLinksCount + (span.links.length - links.length),
    };
  };

  const resourceSpans = req.resourceSpans
    .map((rs) => ({
      ...rs,
      resource: { ...rs.resource, ...limitAttributes(rs.resource.attributes, rs.resource.droppedAttributesCount, applied) },
      scopeSpans: rs.scopeSpans
        .map((ss) => ({
          ...ss,
          scope: { ...ss.scope, ...limitAttributes(ss.scope.attributes, ss.scope.droppedAttributesCount, applied) },
          spans: ss.spans.filter(keepSpan).map(limitSpan),
        }))
        .filter((ss) => ss.spans.length > 0),
    }))
    .filter((rs) => rs.scopeSpans.length > 0);

  const validation: TracesValidation = { request: { resourceSpans }, rejectedSpans };
  if (rejectedSpans > 0) {
    const reasons = [...rejections].map(([reason, { count, firstSpan }]) =>
      count === 1 ? `${reason} (span '${firstSpan}')` : `${reason} (${count} spans, first '${firstSpan}')`,
    );
    validation.message = `${rejectedSpans} ${rejectedSpans === 1 ? 'span' : 'spans'} rejected: ${reasons.join('; ')}`;
  }
  return validation;
};

// ---------------------------------------------------------------------------------------------
// split

export const unknownService = 'unknown_service';

export const serviceNameOf = (resource: OtlpResource): string => stringAttribute(resource.attributes, 'service.name') || unknownService;

const countSpans = (rs: OtlpResourceSpans): number => rs.scopeSpans.reduce((n, ss) => n + ss.spans.length, 0);

/**
 * One request per ResourceSpans that carries spans (a resource batch is one message on the log,
 * keyed by service name); resources without spans are left out.
 */
export const splitTracesByResource = (req: TracesRequest): { serviceName: string; request: TracesRequest; spanCount: number }[] =>
  req.resourceSpans
    .map((rs) => ({ serviceName: serviceNameOf(rs.resource), request: { resourceSpans: [rs] }, spanCount: countSpans(rs) }))
    .filter((part) => part.spanCount > 0);

// ---------------------------------------------------------------------------------------------
// encode

const writeSpan = (span: OtlpSpan): Obj => ({
  ...span,
  startTimeUnixNano: longBits(span.startTimeUnixNano),
  endTimeUnixNano: longBits(span.endTimeUnixNano),
  attributes: span.attributes.map(writeKeyValue),
  events: span.events.map((e) => ({ ...e, timeUnixNano: longBits(e.timeUnixNano), attributes: e.attributes.map(writeKeyValue) })),
  links: span.links.map((l) => ({ ...l, attributes: l.attributes.map(writeKeyValue) })),
});

/** ExportTraceServiceRequest protobuf: what ingest writes to `otel.spans` (the Collector's otlp_proto). */
export const encodeTracesProtobuf = (req: TracesRequest): Uint8Array =>
  otlpTypes.ExportTraceServiceRequest.encode({
    resourceSpans: req.resourceSpans.map((rs) => ({
      resource: writeResource(rs.resource),
      schemaUrl: rs.schemaUrl,
      scopeSpans: rs.scopeSpans.map((ss) => ({ scope: writeScope(ss.scope), schemaUrl: ss.schemaUrl, spans: ss.spans.map(writeSpan) })),
    })),
  }).finish();

export interface TracesPartialSuccess {
  rejectedSpans: number;
  errorMessage?: string;
}

/**
 * The ExportTraceServiceResponse body. partial_success is left out when nothing was rejected and
 * there is no message, as the OTLP spec asks of a full success.
 */
export function encodeTraceResponse(partial: TracesPartialSuccess, format: 'protobuf'): Uint8Array;
export function encodeTraceResponse(partial: TracesPartialSuccess, format: 'json'): string;
export function encodeTraceResponse(partial: TracesPartialSuccess, format: 'protobuf' | 'json'): Uint8Array | string;
export function encodeTraceResponse(partial: TracesPartialSuccess, format: 'protobuf' | 'json'): Uint8Array | string {
  const errorMessage = partial.errorMessage ?? '';
  const hasPartial = partial.rejectedSpans > 0 || errorMessage !== '';
  if (format === 'json') {
    // int64 is a decimal string in OTLP/JSON; empty fields are omitted.
    const partialSuccess = { rejectedSpans: String(partial.rejectedSpans), ...(errorMessage ? { errorMessage } : {}) };
    return JSON.stringify(hasPartial ? { partialSuccess } : {});
  }
  return otlpTypes.ExportTraceServiceResponse.encode(
    hasPartial ? { partialSuccess: { rejectedSpans: longBits(BigInt(partial.rejectedSpans)), errorMessage } } : {},
  ).finish();
}

// ---------------------------------------------------------------------------------------------
// normalize

const nanosToMs = (nanos: bigint): number => Number(nanos / 1000n) / 1000;

/** Flattens a (validated) request to one record per span, resource and scope copied onto each. */
export const toSpanRecords = (req: TracesRequest): SpanRecord[] =>
  req.resourceSpans.flatMap((rs) => {
    const service = serviceNameOf(rs.resource);
    const resource = toAttributeRecord(rs.resource.attributes);
    return rs.scopeSpans.flatMap((ss) => {
      const scope = ss.scope.version ? { name: ss.scope.name, version: ss.scope.version } : { name: ss.scope.name };
      return ss.spans.map((span): SpanRecord => {
        const record: SpanRecord = {
          service,
          traceId: toHex(span.traceId),
          spanId: toHex(span.spanId),
          name: span.name,
          kind: spanKinds[span.kind] ?? 'unspecified',
          startTimeUnixNano: span.startTimeUnixNano.toString(),
          endTimeUnixNano: span.endTimeUnixNano.toString(),
          startTimeMs: nanosToMs(span.startTimeUnixNano),
          // An end before the start (clock skew, unended span) counts as zero, not negative.
          durationMs: span.endTimeUnixNano > span.startTimeUnixNano ? Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6 : 0,
          status: statusCodes[span.status.code] ?? 'unset',
          attributes: toAttributeRecord(span.attributes),
          resource,
          scope,
          events: span.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano.toString(), attributes: toAttributeRecord(e.attributes) })),
          links: span.links.map((l) => ({ traceId: toHex(l.traceId), spanId: toHex(l.spanId), attributes: toAttributeRecord(l.attributes) })),
        };
        // An all-zero parent is how some senders write "no parent".
        if (span.parentSpanId.length > 0 && !isZero(span.parentSpanId)) record.parentSpanId = toHex(span.parentSpanId);
        if (span.status.message) record.statusMessage = span.status.message;
        return record;
      });
    });
  });
