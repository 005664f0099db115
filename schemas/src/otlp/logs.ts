// The OTLP logs signal: decode (protobuf, JSON) → validate → split per resource → encode for the
// log, the export response, and the normalized log records the analyzer reads.
import type { LogRecordNormalized } from '../telemetry.ts';
import {
  type AttributeLimits,
  defaultAttributeLimits,
  limitAttributes,
  longBits,
  MalformedOtlp,
  type Obj,
  type OtlpAnyValue,
  type OtlpInstrumentationScope,
  type OtlpKeyValue,
  type OtlpResource,
  type OtlpResult,
  readAnyValue,
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
  toAttributeRecord,
  toAttributeValue,
  toHex,
  writeAnyValue,
  writeKeyValue,
  writeResource,
  writeScope,
  requestDecoders,
} from './common.ts';
import { otlpTypes } from './descriptor.ts';
import { serviceNameOf } from './traces.ts';

/** An ExportLogsServiceRequest (collector/logs/v1/logs_service.proto), decoded. */
export interface LogsRequest {
  resourceLogs: OtlpResourceLogs[];
}

export interface OtlpResourceLogs {
  resource: OtlpResource;
  scopeLogs: OtlpScopeLogs[];
  schemaUrl: string;
}

export interface OtlpScopeLogs {
  scope: OtlpInstrumentationScope;
  logRecords: OtlpLogRecord[];
  schemaUrl: string;
}

export interface OtlpLogRecord {
  /** 0 when the time is unknown. */
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** SeverityNumber: 0 unspecified, 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal. */
  severityNumber: number;
  severityText: string;
  /** Empty (no member set) when the record has no body. */
  body: OtlpAnyValue;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  /** LogRecordFlags: the low byte is the W3C trace flags. */
  flags: number;
  /** Empty, or 16 bytes once validated. */
  traceId: Uint8Array;
  /** Empty, or 8 bytes once validated. */
  spanId: Uint8Array;
  eventName: string;
}

const severityNames = [
  'SEVERITY_NUMBER_UNSPECIFIED',
  ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((level) =>
    ['', '2', '3', '4'].map((n) => `SEVERITY_NUMBER_${level}${n}`),
  ),
];

// ---------------------------------------------------------------------------------------------
// decode

const readLogRecord = (v: unknown, path: string): OtlpLogRecord => {
  const o = readObject(v, path) ?? {};
  return {
    timeUnixNano: readUint64(o.timeUnixNano, `${path}.timeUnixNano`),
    observedTimeUnixNano: readUint64(o.observedTimeUnixNano, `${path}.observedTimeUnixNano`),
    severityNumber: readEnum(o.severityNumber, `${path}.severityNumber`, severityNames),
    severityText: readString(o.severityText, `${path}.severityText`),
    body: readAnyValue(o.body, `${path}.body`),
    attributes: readAttributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: readUint32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    flags: readUint32(o.flags, `${path}.flags`),
    traceId: readId(o.traceId, `${path}.traceId`),
    spanId: readId(o.spanId, `${path}.spanId`),
    eventName: readString(o.eventName, `${path}.eventName`),
  };
};

const readScopeLogs = (v: unknown, path: string): OtlpScopeLogs => {
  const o = readObject(v, path) ?? {};
  return {
    scope: readScope(o.scope, `${path}.scope`),
    logRecords: readList(o.logRecords, `${path}.logRecords`, readLogRecord),
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
  };
};

const readResourceLogs = (v: unknown, path: string): OtlpResourceLogs => {
  const o = readObject(v, path) ?? {};
  return {
    resource: readResource(o.resource, `${path}.resource`),
    scopeLogs: readList(o.scopeLogs, `${path}.scopeLogs`, readScopeLogs),
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
  };
};

const readLogsRequest = (v: unknown): LogsRequest => {
  const o = readObject(v, 'request');
  if (o === undefined) throw new MalformedOtlp('request: expected an object, got null');
  return { resourceLogs: readList(o.resourceLogs, 'resourceLogs', readResourceLogs) };
};

const decoders = requestDecoders(otlpTypes.ExportLogsServiceRequest, readLogsRequest);

/** Decodes an OTLP/HTTP protobuf body (ExportLogsServiceRequest). Never throws. */
export const decodeLogsProtobuf: (bytes: Uint8Array) => OtlpResult<LogsRequest> = decoders.protobuf;

/**
 * Decodes an OTLP/HTTP JSON body: lowerCamelCase keys, trace and span ids in hex, 64-bit integers
 * as strings or numbers, enums as integers or names; unknown fields are ignored. Never throws.
 */
export const decodeLogsJson: (text: string) => OtlpResult<LogsRequest> = decoders.json;

// ---------------------------------------------------------------------------------------------
// validate

// logs.proto: trace_id and span_id are optional, but when present they are 16 and 8 bytes.
const rejectionOf = (record: OtlpLogRecord): string | undefined => {
  if (record.traceId.length !== 0 && record.traceId.length !== 16) return 'invalid trace id';
  if (record.spanId.length !== 0 && record.spanId.length !== 8) return 'invalid span id';
  return undefined;
};

/** What names a record in a message: its event name, else its body when that is a string. */
const labelOf = (record: OtlpLogRecord, path: string): string => {
  const text = record.eventName || record.body.stringValue;
  if (text === undefined || text === '') return `at ${path}`;
  return `'${text.length > 64 ? `${text.slice(0, 64)}…` : text}'`;
};

export interface LogsValidation {
  /** The log records that passed, with their attributes and body limited; scopes and resources left empty are dropped. */
  request: LogsRequest;
  rejectedLogRecords: number;
  /** For the OTLP partial success response; set when log records were rejected. */
  message?: string;
}

/**
 * Drops log records whose trace id or span id is set but has the wrong length, and applies the
 * attribute limits to resources, scopes and records, and the value length limit to the body's
 * strings (a log body is unbounded in OTLP; one limit for every string a record carries).
 */
export const validateLogs = (req: LogsRequest, limits: AttributeLimits = {}): LogsValidation => {
  const applied = { ...defaultAttributeLimits, ...limits };
  const rejections = new Map<string, { count: number; first: string }>();
  let rejectedLogRecords = 0;

  const keepRecord = (record: OtlpLogRecord, path: string): boolean => {
    const reason = rejectionOf(record);
    if (reason === undefined) return true;
    rejectedLogRecords++;
    const seen = rejections.get(reason);
    if (seen) seen.count++;
    else rejections.set(reason, { count: 1, first: labelOf(record, path) });
    return false;
  };

  // The body goes through the attribute rules as a lone attribute, so it is truncated the same way.
  const limitBody = (body: OtlpAnyValue): OtlpAnyValue =>
    limitAttributes([{ key: 'body', value: body }], 0, { ...applied, maxAttributeCount: 1 }).attributes[0]?.value ?? body;

  const limitRecord = (record: OtlpLogRecord): OtlpLogRecord => ({
    ...record,
    body: limitBody(record.body),
    ...limitAttributes(record.attributes, record.droppedAttributesCount, applied),
  });

  const resourceLogs = req.resourceLogs
    .map((rl, i) => ({
      ...rl,
      resource: { ...rl.resource, ...limitAttributes(rl.resource.attributes, rl.resource.droppedAttributesCount, applied) },
      scopeLogs: rl.scopeLogs
        .map((sl, j) => ({
          ...sl,
          scope: { ...sl.scope, ...limitAttributes(sl.scope.attributes, sl.scope.droppedAttributesCount, applied) },
          logRecords: sl.logRecords.filter((r, k) => keepRecord(r, `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`)).map(limitRecord),
        }))
        .filter((sl) => sl.logRecords.length > 0),
    }))
    .filter((rl) => rl.scopeLogs.length > 0);

  const validation: LogsValidation = { request: { resourceLogs }, rejectedLogRecords };
  if (rejectedLogRecords > 0) {
    const reasons = [...rejections].map(([reason, { count, first }]) =>
      count === 1 ? `${reason} (log record ${first})` : `${reason} (${count} log records, first ${first})`,
    );
    validation.message = `${rejectedLogRecords} ${rejectedLogRecords === 1 ? 'log record' : 'log records'} rejected: ${reasons.join('; ')}`;
  }
  return validation;
};

// ---------------------------------------------------------------------------------------------
// split

const countLogRecords = (rl: OtlpResourceLogs): number => rl.scopeLogs.reduce((n, sl) => n + sl.logRecords.length, 0);

/**
 * One request per ResourceLogs that carries log records (a resource batch is one message on the
 * log, keyed by service name); resources without log records are left out.
 */
export const splitLogsByResource = (req: LogsRequest): { serviceName: string; request: LogsRequest; recordCount: number }[] =>
  req.resourceLogs
    .map((rl) => ({ serviceName: serviceNameOf(rl.resource), request: { resourceLogs: [rl] }, recordCount: countLogRecords(rl) }))
    .filter((part) => part.recordCount > 0);

// ---------------------------------------------------------------------------------------------
// encode

const writeLogRecord = (record: OtlpLogRecord): Obj => ({
  ...record,
  timeUnixNano: longBits(record.timeUnixNano),
  observedTimeUnixNano: longBits(record.observedTimeUnixNano),
  body: writeAnyValue(record.body),
  attributes: record.attributes.map(writeKeyValue),
});

/** ExportLogsServiceRequest protobuf: what ingest writes to `otel.logs` (the Collector's otlp_proto). */
export const encodeLogsProtobuf = (req: LogsRequest): Uint8Array =>
  otlpTypes.ExportLogsServiceRequest.encode({
    resourceLogs: req.resourceLogs.map((rl) => ({
      resource: writeResource(rl.resource),
      schemaUrl: rl.schemaUrl,
      scopeLogs: rl.scopeLogs.map((sl) => ({ scope: writeScope(sl.scope), schemaUrl: sl.schemaUrl, logRecords: sl.logRecords.map(writeLogRecord) })),
    })),
  }).finish();

export interface LogsPartialSuccess {
  rejectedLogRecords: number;
  errorMessage?: string;
}

/**
 * The ExportLogsServiceResponse body. partial_success is left out when nothing was rejected and
 * there is no message, as the OTLP spec asks of a full success.
 */
export function encodeLogsResponse(partial: LogsPartialSuccess, format: 'protobuf'): Uint8Array;
export function encodeLogsResponse(partial: LogsPartialSuccess, format: 'json'): string;
export function encodeLogsResponse(partial: LogsPartialSuccess, format: 'protobuf' | 'json'): Uint8Array | string;
export function encodeLogsResponse(partial: LogsPartialSuccess, format: 'protobuf' | 'json'): Uint8Array | string {
  const errorMessage = partial.errorMessage ?? '';
  const hasPartial = partial.rejectedLogRecords > 0 || errorMessage !== '';
  if (format === 'json') {
    // int64 is a decimal string in OTLP/JSON; empty fields are omitted.
    const partialSuccess = { rejectedLogRecords: String(partial.rejectedLogRecords), ...(errorMessage ? { errorMessage } : {}) };
    return JSON.stringify(hasPartial ? { partialSuccess } : {});
  }
  return otlpTypes.ExportLogsServiceResponse.encode(
    hasPartial ? { partialSuccess: { rejectedLogRecords: longBits(BigInt(partial.rejectedLogRecords)), errorMessage } } : {},
  ).finish();
}

// ---------------------------------------------------------------------------------------------
// normalize

const nanosToMs = (nanos: bigint): number => Number(nanos / 1000n) / 1000;

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/** Flattens a (validated) request to one record per log record, resource and scope copied onto each. */
export const toLogRecords = (req: LogsRequest): LogRecordNormalized[] =>
  req.resourceLogs.flatMap((rl) => {
    const service = serviceNameOf(rl.resource);
    const resource = toAttributeRecord(rl.resource.attributes);
    return rl.scopeLogs.flatMap((sl) => {
      const scope = sl.scope.version ? { name: sl.scope.name, version: sl.scope.version } : { name: sl.scope.name };
      return sl.logRecords.map((r): LogRecordNormalized => {
        const record: LogRecordNormalized = {
          service,
          resource,
          scope,
          timeUnixNano: r.timeUnixNano.toString(),
          observedTimeUnixNano: r.observedTimeUnixNano.toString(),
          // The logs data model: use the observed time when the record's own time is unknown.
          timeMs: nanosToMs(r.timeUnixNano > 0n ? r.timeUnixNano : r.observedTimeUnixNano),
          severityNumber: r.severityNumber,
          severityText: r.severityText,
          body: toAttributeValue(r.body),
          attributes: toAttributeRecord(r.attributes),
        };
        // All-zero ids are how some senders write "no trace context".
        if (r.traceId.length === 16 && !isZero(r.traceId)) record.traceId = toHex(r.traceId);
        if (r.spanId.length === 8 && !isZero(r.spanId)) record.spanId = toHex(r.spanId);
        if (r.eventName) record.eventName = r.eventName;
        return record;
      });
    });
  });
