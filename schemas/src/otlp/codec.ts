// The OTLP codec ingest and the analyzer share: one module per signal behind this entry point
// (traces now; metrics and logs slot in beside them on the same model and descriptor). No I/O.
export type {
  AttributeLimits,
  OtlpAnyValue,
  OtlpEntityRef,
  OtlpError,
  OtlpInstrumentationScope,
  OtlpKeyValue,
  OtlpResource,
  OtlpResult,
} from './common.ts';
export { defaultAttributeLimits, toAttributeRecord, toAttributeValue } from './common.ts';
export { otlpDescriptor, otlpRoot, otlpTypes } from './descriptor.ts';
export { scanTracesProtobuf, type ResourceSpansBatch } from './scan.ts';
export type {
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpSpanEvent,
  OtlpSpanLink,
  OtlpStatus,
  TracesPartialSuccess,
  TracesRequest,
  TracesValidation,
} from './traces.ts';
export {
  decodeTracesJson,
  decodeTracesProtobuf,
  encodeTraceResponse,
  encodeTracesProtobuf,
  serviceNameOf,
  splitTracesByResource,
  toSpanRecords,
  unknownService,
  validateTraces,
} from './traces.ts';
export type {
  MetricsPartialSuccess,
  MetricsRequest,
  MetricsValidation,
  OtlpExemplar,
  OtlpExponentialBuckets,
  OtlpExponentialHistogram,
  OtlpExponentialHistogramDataPoint,
  OtlpGauge,
  OtlpHistogram,
  OtlpHistogramDataPoint,
  OtlpMetric,
  OtlpNumberDataPoint,
  OtlpResourceMetrics,
  OtlpScopeMetrics,
  OtlpSum,
  OtlpSummary,
  OtlpSummaryDataPoint,
  OtlpValueAtQuantile,
} from './metrics.ts';
export {
  decodeMetricsJson,
  decodeMetricsProtobuf,
  encodeMetricsProtobuf,
  encodeMetricsResponse,
  splitMetricsByResource,
  toMetricPoints,
  validateMetrics,
} from './metrics.ts';
export type { LogsPartialSuccess, LogsRequest, LogsValidation, OtlpLogRecord, OtlpResourceLogs, OtlpScopeLogs } from './logs.ts';
export { decodeLogsJson, decodeLogsProtobuf, encodeLogsProtobuf, encodeLogsResponse, splitLogsByResource, toLogRecords, validateLogs } from './logs.ts';
