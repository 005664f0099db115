// Topic names and the partition counts the control plane creates them with (auto-creation stays off).

export const topics = {
  spans: 'otel.spans',
  metrics: 'otel.metrics',
  logs: 'otel.logs',
  events: 'heph.events',
  deadletter: 'heph.deadletter',
  /** What the analyzer's collectors hand its judge (analyzers run apart on Kafka): see SignalBatch. */
  signals: 'heph.signals',
} as const;

export type TopicName = (typeof topics)[keyof typeof topics];

export const topicPartitions: Record<TopicName, number> = {
  'otel.spans': 3,
  'otel.metrics': 3,
  'otel.logs': 3,
  'heph.events': 1,
  'heph.deadletter': 1,
  // One partition: the judge reads the collectors' batches in the order they were written.
  'heph.signals': 1,
};

/** Topic settings other than the broker's defaults: heph.signals is read within moments, or from a checkpoint a minute old. */
export const topicConfigs: Partial<Record<TopicName, Record<string, string>>> = {
  'heph.signals': { 'retention.ms': String(6 * 3_600_000) },
};

/** Headers every telemetry message carries (DESIGN.md, Topics). */
export const telemetryHeaders = {
  contentType: 'content-type',
  recordCount: 'heph-record-count',
  schemaVersion: 'heph-schema-version',
} as const;

export const otlpProtoContentType = 'application/x-protobuf';
export const telemetrySchemaVersion = '1';
