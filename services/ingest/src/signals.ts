// The three OTLP signals as one table: how each is decoded, validated, split per resource, encoded for
// the log and answered, so the receiver handles traces, metrics and logs with one pipeline.
import {
  decodeLogsJson,
  decodeLogsProtobuf,
  decodeMetricsJson,
  decodeMetricsProtobuf,
  decodeTracesJson,
  decodeTracesProtobuf,
  encodeLogsProtobuf,
  encodeLogsResponse,
  encodeMetricsProtobuf,
  encodeMetricsResponse,
  encodeTraceResponse,
  encodeTracesProtobuf,
  scanTracesProtobuf,
  splitLogsByResource,
  splitMetricsByResource,
  splitTracesByResource,
  topics,
  validateLogs,
  validateMetrics,
  validateTraces,
  type AttributeLimits,
  type OtlpResult,
  type TopicName,
} from '@hephaestus/schemas';

export type Format = 'protobuf' | 'json';
export type SignalName = 'traces' | 'metrics' | 'logs';

export type ResourceBatch = { serviceName: string; bytes: Uint8Array; count: number };

export type SignalPipeline = {
  signal: SignalName;
  topic: TopicName;
  /** What the OTLP partial-success response counts: spans, data points or log records. */
  recordName: string;
  /** decode → validate → split → encode, in one go for the handler. */
  prepare: (body: Buffer, format: Format, limits: AttributeLimits) => OtlpResult<{ batches: ResourceBatch[]; rejected: number; message?: string }>;
  respond: (rejected: number, message: string | undefined, format: Format) => Uint8Array | string;
  /** Splits a resource batch over `maxBytes` into batches under it (down to single records). */
  fit: (batch: ResourceBatch, maxBytes: number) => ResourceBatch[];
};

/** Where the records sit in a one-resource export request: resource list → scope list → records. */
type Nesting = { resources: string; scopes: string; records: string };

type Loose = Record<string, unknown> & { [key: string]: Loose[] | unknown };

/** Two requests, each with half of the records of a one-resource request (scopes kept), or undefined for one record. */
const halve = <R>(request: R, at: Nesting): [R, R] | undefined => {
  const resource = ((request as Loose)[at.resources] as Loose[])[0]!;
  const scopes = resource[at.scopes] as Loose[];
  const records = scopes.flatMap((scope, i) => (scope[at.records] as unknown[]).map((record) => ({ scope: i, record })));
  if (records.length < 2) return undefined;
  const build = (part: typeof records): R =>
    ({
      ...(request as Loose),
      [at.resources]: [
        {
          ...resource,
          [at.scopes]: scopes
            .map((scope, i) => ({ ...scope, [at.records]: part.filter((p) => p.scope === i).map((p) => p.record) }))
            .filter((scope) => (scope[at.records] as unknown[]).length > 0),
        },
      ],
    }) as R;
  const middle = records.length >> 1;
  return [build(records.slice(0, middle)), build(records.slice(middle))];
};

const pipeline = <R>(spec: {
  signal: SignalName;
  topic: TopicName;
  recordName: string;
  decodeJson: (text: string) => OtlpResult<R>;
  decodeProtobuf: (bytes: Uint8Array) => OtlpResult<R>;
  validate: (request: R, limits: AttributeLimits) => { request: R; rejected: number; message?: string };
  split: (request: R) => { serviceName: string; request: R; count: number }[];
  encode: (request: R) => Uint8Array;
  respond: SignalPipeline['respond'];
  nesting: Nesting;
}): SignalPipeline => ({
  signal: spec.signal,
  topic: spec.topic,
  recordName: spec.recordName,
  respond: spec.respond,
  prepare: (body, format, limits) => {
    const decoded = format === 'json' ? spec.decodeJson(body.toString('utf8')) : spec.decodeProtobuf(body);
    if (!decoded.ok) return decoded;
    const { request, rejected, message } = spec.validate(decoded.value, limits);
    const batches = spec
      .split(request)
      .filter((b) => b.count > 0)
      .map((b) => ({ serviceName: b.serviceName, bytes: spec.encode(b.request), count: b.count }));
    return { ok: true, value: { batches, rejected, message } };
  },
  fit: (batch, maxBytes) => {
    if (batch.bytes.length <= maxBytes) return [batch];
    const decoded = spec.decodeProtobuf(batch.bytes);
    if (!decoded.ok) return [batch];
    const pieces: ResourceBatch[] = [];
    const place = (request: R) => {
      const bytes = spec.encode(request);
      const halves = bytes.length > maxBytes ? halve(request, spec.nesting) : undefined;
      if (halves) return halves.forEach(place);
      pieces.push({ serviceName: batch.serviceName, bytes, count: spec.split(request)[0]?.count ?? 0 });
    };
    place(decoded.value);
    return pieces;
  },
});

/**
 * Traces: a protobuf body that validation would leave as it is goes to the log as sent, one slice per
 * resource, without decoding spans or re-encoding (scan.ts); any other body takes the full path, which
 * also words the partial-success answer.
 */
const scanFirst = (full: SignalPipeline): SignalPipeline => ({
  ...full,
  prepare: (body, format, limits) => {
    const scanned = format === 'protobuf' ? scanTracesProtobuf(body, limits) : undefined;
    if (!scanned) return full.prepare(body, format, limits);
    const batches = scanned.map((b) => ({ serviceName: b.serviceName, bytes: b.bytes, count: b.spanCount }));
    return { ok: true, value: { batches, rejected: 0 } };
  },
});

export const signals: Record<SignalName, SignalPipeline> = {
  traces: scanFirst(pipeline({
    signal: 'traces',
    topic: topics.spans,
    recordName: 'spans',
    decodeJson: decodeTracesJson,
    decodeProtobuf: decodeTracesProtobuf,
    validate: (r, limits) => {
      const v = validateTraces(r, limits);
      return { request: v.request, rejected: v.rejectedSpans, message: v.message };
    },
    split: (r) => splitTracesByResource(r).map((b) => ({ serviceName: b.serviceName, request: b.request, count: b.spanCount })),
    encode: encodeTracesProtobuf,
    respond: (rejected, errorMessage, format) => encodeTraceResponse({ rejectedSpans: rejected, errorMessage }, format as never),
    nesting: { resources: 'resourceSpans', scopes: 'scopeSpans', records: 'spans' },
  })),
  metrics: pipeline({
    signal: 'metrics',
    topic: topics.metrics,
    recordName: 'data points',
    decodeJson: decodeMetricsJson,
    decodeProtobuf: decodeMetricsProtobuf,
    validate: (r, limits) => {
      const v = validateMetrics(r, limits);
      return { request: v.request, rejected: v.rejectedDataPoints, message: v.message };
    },
    split: (r) => splitMetricsByResource(r).map((b) => ({ serviceName: b.serviceName, request: b.request, count: b.pointCount })),
    encode: encodeMetricsProtobuf,
    respond: (rejected, errorMessage, format) => encodeMetricsResponse({ rejectedDataPoints: rejected, errorMessage }, format as never),
    nesting: { resources: 'resourceMetrics', scopes: 'scopeMetrics', records: 'metrics' },
  }),
  logs: pipeline({
    signal: 'logs',
    topic: topics.logs,
    recordName: 'log records',
    decodeJson: decodeLogsJson,
    decodeProtobuf: decodeLogsProtobuf,
    validate: (r, limits) => {
      const v = validateLogs(r, limits);
      return { request: v.request, rejected: v.rejectedLogRecords, message: v.message };
    },
    split: (r) => splitLogsByResource(r).map((b) => ({ serviceName: b.serviceName, request: b.request, count: b.recordCount })),
    encode: encodeLogsProtobuf,
    respond: (rejected, errorMessage, format) => encodeLogsResponse({ rejectedLogRecords: rejected, errorMessage }, format as never),
    nesting: { resources: 'resourceLogs', scopes: 'scopeLogs', records: 'logRecords' },
  }),
};
