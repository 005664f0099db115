// The OTLP protobuf schema as a protobufjs reflection descriptor, written from
// open-telemetry/opentelemetry-proto v1.11.0 (field numbers and types as in the .proto files).
import protobuf from 'protobufjs';

type Fields = Record<string, protobuf.IField>;

const field = (type: string, id: number): protobuf.IField => ({ type, id });
const repeated = (type: string, id: number): protobuf.IField => ({ rule: 'repeated', type, id });
// proto3 `optional`: explicit presence, modelled by protobufjs as a synthetic one-field oneof.
const optional = (type: string, id: number): protobuf.IField => ({ type, id, options: { proto3_optional: true } });

const message = (fields: Fields, extra: Omit<protobuf.IType, 'fields'> = {}): protobuf.IType => ({ ...extra, fields });
const oneof = (...names: string[]): protobuf.IOneOf => ({ oneof: names });
const enumeration = (values: Record<string, number>): protobuf.IEnum => ({ values });

const COMMON = 'opentelemetry.proto.common.v1';
const KEY_VALUE = `${COMMON}.KeyValue`;
const ANY_VALUE = `${COMMON}.AnyValue`;
const SCOPE = `${COMMON}.InstrumentationScope`;
const RESOURCE = 'opentelemetry.proto.resource.v1.Resource';

// opentelemetry/proto/common/v1/common.proto
const common: Record<string, protobuf.IType> = {
  AnyValue: message(
    {
      stringValue: field('string', 1),
      boolValue: field('bool', 2),
      intValue: field('int64', 3),
      doubleValue: field('double', 4),
      arrayValue: field('ArrayValue', 5),
      kvlistValue: field('KeyValueList', 6),
      bytesValue: field('bytes', 7),
      // Profiles only: other signals treat it as absent (common.proto).
      stringValueStrindex: field('int32', 8),
    },
    {
      oneofs: {
        value: oneof('stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue', 'stringValueStrindex'),
      },
    },
  ),
  ArrayValue: message({ values: repeated('AnyValue', 1) }),
  KeyValueList: message({ values: repeated('KeyValue', 1) }),
  KeyValue: message({ key: field('string', 1), value: field('AnyValue', 2), keyStrindex: field('int32', 3) }),
  InstrumentationScope: message({
    name: field('string', 1),
    version: field('string', 2),
    attributes: repeated('KeyValue', 3),
    droppedAttributesCount: field('uint32', 4),
  }),
  EntityRef: message({
    schemaUrl: field('string', 1),
    type: field('string', 2),
    idKeys: repeated('string', 3),
    descriptionKeys: repeated('string', 4),
  }),
};

// opentelemetry/proto/resource/v1/resource.proto
const resource: Record<string, protobuf.IType> = {
  Resource: message({
    attributes: repeated(KEY_VALUE, 1),
    droppedAttributesCount: field('uint32', 2),
    entityRefs: repeated(`${COMMON}.EntityRef`, 3),
  }),
};

// opentelemetry/proto/trace/v1/trace.proto
const trace: Record<string, protobuf.IType | protobuf.IEnum> = {
  TracesData: message({ resourceSpans: repeated('ResourceSpans', 1) }),
  ResourceSpans: message({ resource: field(RESOURCE, 1), scopeSpans: repeated('ScopeSpans', 2), schemaUrl: field('string', 3) }),
  ScopeSpans: message({ scope: field(SCOPE, 1), spans: repeated('Span', 2), schemaUrl: field('string', 3) }),
  Span: message(
    {
      traceId: field('bytes', 1),
      spanId: field('bytes', 2),
      traceState: field('string', 3),
      parentSpanId: field('bytes', 4),
      flags: field('fixed32', 16),
      name: field('string', 5),
      kind: field('SpanKind', 6),
      startTimeUnixNano: field('fixed64', 7),
      endTimeUnixNano: field('fixed64', 8),
      attributes: repeated(KEY_VALUE, 9),
      droppedAttributesCount: field('uint32', 10),
      events: repeated('Event', 11),
      droppedEventsCount: field('uint32', 12),
      links: repeated('Link', 13),
      droppedLinksCount: field('uint32', 14),
      status: field('Status', 15),
    },
    {
      nested: {
        SpanKind: enumeration({
          SPAN_KIND_UNSPECIFIED: 0,
          SPAN_KIND_INTERNAL: 1,
          SPAN_KIND_SERVER: 2,
          SPAN_KIND_CLIENT: 3,
          SPAN_KIND_PRODUCER: 4,
          SPAN_KIND_CONSUMER: 5,
        }),
        Event: message({
          timeUnixNano: field('fixed64', 1),
          name: field('string', 2),
          attributes: repeated(KEY_VALUE, 3),
          droppedAttributesCount: field('uint32', 4),
        }),
        Link: message({
          traceId: field('bytes', 1),
          spanId: field('bytes', 2),
          traceState: field('string', 3),
          attributes: repeated(KEY_VALUE, 4),
          droppedAttributesCount: field('uint32', 5),
          flags: field('fixed32', 6),
        }),
      },
    },
  ),
  Status: message(
    { message: field('string', 2), code: field('StatusCode', 3) },
    { nested: { StatusCode: enumeration({ STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 }) } },
  ),
  SpanFlags: enumeration({
    SPAN_FLAGS_DO_NOT_USE: 0,
    SPAN_FLAGS_TRACE_FLAGS_MASK: 0x000000ff,
    SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK: 0x00000100,
    SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK: 0x00000200,
  }),
};

// opentelemetry/proto/metrics/v1/metrics.proto
const metrics: Record<string, protobuf.IType | protobuf.IEnum> = {
  MetricsData: message({ resourceMetrics: repeated('ResourceMetrics', 1) }),
  ResourceMetrics: message({ resource: field(RESOURCE, 1), scopeMetrics: repeated('ScopeMetrics', 2), schemaUrl: field('string', 3) }),
  ScopeMetrics: message({ scope: field(SCOPE, 1), metrics: repeated('Metric', 2), schemaUrl: field('string', 3) }),
  Metric: message(
    {
      name: field('string', 1),
      description: field('string', 2),
      unit: field('string', 3),
      gauge: field('Gauge', 5),
      sum: field('Sum', 7),
      histogram: field('Histogram', 9),
      exponentialHistogram: field('ExponentialHistogram', 10),
      summary: field('Summary', 11),
      metadata: repeated(KEY_VALUE, 12),
    },
    { oneofs: { data: oneof('gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary') } },
  ),
  Gauge: message({ dataPoints: repeated('NumberDataPoint', 1) }),
  Sum: message({
    dataPoints: repeated('NumberDataPoint', 1),
    aggregationTemporality: field('AggregationTemporality', 2),
    isMonotonic: field('bool', 3),
  }),
  Histogram: message({ dataPoints: repeated('HistogramDataPoint', 1), aggregationTemporality: field('AggregationTemporality', 2) }),
  ExponentialHistogram: message({
    dataPoints: repeated('ExponentialHistogramDataPoint', 1),
    aggregationTemporality: field('AggregationTemporality', 2),
  }),
  Summary: message({ dataPoints: repeated('SummaryDataPoint', 1) }),
  AggregationTemporality: enumeration({
    AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
    AGGREGATION_TEMPORALITY_DELTA: 1,
    AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
  }),
  DataPointFlags: enumeration({ DATA_POINT_FLAGS_DO_NOT_USE: 0, DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK: 1 }),
  NumberDataPoint: message(
    {
      attributes: repeated(KEY_VALUE, 7),
      startTimeUnixNano: field('fixed64', 2),
      timeUnixNano: field('fixed64', 3),
      asDouble: field('double', 4),
      asInt: field('sfixed64', 6),
      exemplars: repeated('Exemplar', 5),
      flags: field('uint32', 8),
    },
    { oneofs: { value: oneof('asDouble', 'asInt') } },
  ),
  HistogramDataPoint: message(
    {
      attributes: repeated(KEY_VALUE, 9),
      startTimeUnixNano: field('fixed64', 2),
      timeUnixNano: field('fixed64', 3),
      count: field('fixed64', 4),
      sum: optional('double', 5),
      bucketCounts: repeated('fixed64', 6),
      explicitBounds: repeated('double', 7),
      exemplars: repeated('Exemplar', 8),
      flags: field('uint32', 10),
      min: optional('double', 11),
      max: optional('double', 12),
    },
    { oneofs: { _sum: oneof('sum'), _min: oneof('min'), _max: oneof('max') } },
  ),
  ExponentialHistogramDataPoint: message(
    {
      attributes: repeated(KEY_VALUE, 1),
      startTimeUnixNano: field('fixed64', 2),
      timeUnixNano: field('fixed64', 3),
      count: field('fixed64', 4),
      sum: optional('double', 5),
      scale: field('sint32', 6),
      zeroCount: field('fixed64', 7),
      positive: field('Buckets', 8),
      negative: field('Buckets', 9),
      flags: field('uint32', 10),
      exemplars: repeated('Exemplar', 11),
      min: optional('double', 12),
      max: optional('double', 13),
      zeroThreshold: field('double', 14),
    },
    {
      oneofs: { _sum: oneof('sum'), _min: oneof('min'), _max: oneof('max') },
      nested: { Buckets: message({ offset: field('sint32', 1), bucketCounts: repeated('uint64', 2) }) },
    },
  ),
  SummaryDataPoint: message(
    {
      attributes: repeated(KEY_VALUE, 7),
      startTimeUnixNano: field('fixed64', 2),
      timeUnixNano: field('fixed64', 3),
      count: field('fixed64', 4),
      sum: field('double', 5),
      quantileValues: repeated('ValueAtQuantile', 6),
      flags: field('uint32', 8),
    },
    { nested: { ValueAtQuantile: message({ quantile: field('double', 1), value: field('double', 2) }) } },
  ),
  Exemplar: message(
    {
      filteredAttributes: repeated(KEY_VALUE, 7),
      timeUnixNano: field('fixed64', 2),
      asDouble: field('double', 3),
      asInt: field('sfixed64', 6),
      spanId: field('bytes', 4),
      traceId: field('bytes', 5),
    },
    { oneofs: { value: oneof('asDouble', 'asInt') } },
  ),
};

const severityNumbers: Record<string, number> = {
  SEVERITY_NUMBER_UNSPECIFIED: 0,
  SEVERITY_NUMBER_TRACE: 1, SEVERITY_NUMBER_TRACE2: 2, SEVERITY_NUMBER_TRACE3: 3, SEVERITY_NUMBER_TRACE4: 4,
  SEVERITY_NUMBER_DEBUG: 5, SEVERITY_NUMBER_DEBUG2: 6, SEVERITY_NUMBER_DEBUG3: 7, SEVERITY_NUMBER_DEBUG4: 8,
  SEVERITY_NUMBER_INFO: 9, SEVERITY_NUMBER_INFO2: 10, SEVERITY_NUMBER_INFO3: 11, SEVERITY_NUMBER_INFO4: 12,
  SEVERITY_NUMBER_WARN: 13, SEVERITY_NUMBER_WARN2: 14, SEVERITY_NUMBER_WARN3: 15, SEVERITY_NUMBER_WARN4: 16,
  SEVERITY_NUMBER_ERROR: 17, SEVERITY_NUMBER_ERROR2: 18, SEVERITY_NUMBER_ERROR3: 19, SEVERITY_NUMBER_ERROR4: 20,
  SEVERITY_NUMBER_FATAL: 21, SEVERITY_NUMBER_FATAL2: 22, SEVERITY_NUMBER_FATAL3: 23, SEVERITY_NUMBER_FATAL4: 24,
};

// opentelemetry/proto/logs/v1/logs.proto
const logs: Record<string, protobuf.IType | protobuf.IEnum> = {
  LogsData: message({ resourceLogs: repeated('ResourceLogs', 1) }),
  ResourceLogs: message({ resource: field(RESOURCE, 1), scopeLogs: repeated('ScopeLogs', 2), schemaUrl: field('string', 3) }),
  ScopeLogs: message({ scope: field(SCOPE, 1), logRecords: repeated('LogRecord', 2), schemaUrl: field('string', 3) }),
  SeverityNumber: enumeration(severityNumbers),
  LogRecordFlags: enumeration({ LOG_RECORD_FLAGS_DO_NOT_USE: 0, LOG_RECORD_FLAGS_TRACE_FLAGS_MASK: 0x000000ff }),
  LogRecord: message({
    timeUnixNano: field('fixed64', 1),
    observedTimeUnixNano: field('fixed64', 11),
    severityNumber: field('SeverityNumber', 2),
    severityText: field('string', 3),
    body: field(ANY_VALUE, 5),
    attributes: repeated(KEY_VALUE, 6),
    droppedAttributesCount: field('uint32', 7),
    flags: field('fixed32', 8),
    traceId: field('bytes', 9),
    spanId: field('bytes', 10),
    eventName: field('string', 12),
  }),
};

// opentelemetry/proto/collector/{trace,metrics,logs}/v1/*_service.proto: the OTLP/HTTP bodies.
const exportService = (signal: string, items: string, itemType: string, rejectedField: string): Record<string, protobuf.IType> => ({
  [`Export${signal}ServiceRequest`]: message({ [items]: repeated(itemType, 1) }),
  [`Export${signal}ServiceResponse`]: message({ partialSuccess: field(`Export${signal}PartialSuccess`, 1) }),
  [`Export${signal}PartialSuccess`]: message({ [rejectedField]: field('int64', 1), errorMessage: field('string', 2) }),
});

const v1 = (types: Record<string, protobuf.IType | protobuf.IEnum>): protobuf.INamespace => ({ nested: { v1: { nested: types } } });

export const otlpDescriptor: protobuf.INamespace = {
  nested: {
    opentelemetry: {
      nested: {
        proto: {
          nested: {
            common: v1(common),
            resource: v1(resource),
            trace: v1(trace),
            metrics: v1(metrics),
            logs: v1(logs),
            collector: {
              nested: {
                trace: v1(exportService('Trace', 'resourceSpans', 'opentelemetry.proto.trace.v1.ResourceSpans', 'rejectedSpans')),
                metrics: v1(exportService('Metrics', 'resourceMetrics', 'opentelemetry.proto.metrics.v1.ResourceMetrics', 'rejectedDataPoints')),
                logs: v1(exportService('Logs', 'resourceLogs', 'opentelemetry.proto.logs.v1.ResourceLogs', 'rejectedLogRecords')),
              },
            },
          },
        },
      },
    },
  },
};

export const otlpRoot = protobuf.Root.fromJSON(otlpDescriptor);
otlpRoot.resolveAll();

const collector = 'opentelemetry.proto.collector';
export const otlpTypes = {
  ExportTraceServiceRequest: otlpRoot.lookupType(`${collector}.trace.v1.ExportTraceServiceRequest`),
  ExportTraceServiceResponse: otlpRoot.lookupType(`${collector}.trace.v1.ExportTraceServiceResponse`),
  ExportMetricsServiceRequest: otlpRoot.lookupType(`${collector}.metrics.v1.ExportMetricsServiceRequest`),
  ExportMetricsServiceResponse: otlpRoot.lookupType(`${collector}.metrics.v1.ExportMetricsServiceResponse`),
  ExportLogsServiceRequest: otlpRoot.lookupType(`${collector}.logs.v1.ExportLogsServiceRequest`),
  ExportLogsServiceResponse: otlpRoot.lookupType(`${collector}.logs.v1.ExportLogsServiceResponse`),
};
