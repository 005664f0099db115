// Normalized telemetry records: what the analyzer works on after decoding OTLP from the log.
import { z } from 'zod';
import { severity, signalExplanation, signalName } from './events.ts';

/** An OTLP AnyValue as plain data: ints are numbers when safe (else decimal strings), bytes are base64. */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export const attributeValueSchema: z.ZodType<AttributeValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(attributeValueSchema), z.record(z.string(), attributeValueSchema)]),
);

const attributesSchema = z.record(z.string(), attributeValueSchema);
const traceIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 lowercase hex digits');
const spanIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits');
const unixNanoSchema = z.string().regex(/^\d+$/, 'expected nanoseconds since the epoch as a decimal string');

export const spanKindSchema = z.enum(['unspecified', 'internal', 'server', 'client', 'producer', 'consumer']);
export type SpanKind = z.infer<typeof spanKindSchema>;

export const spanStatusSchema = z.enum(['unset', 'ok', 'error']);
export type SpanStatus = z.infer<typeof spanStatusSchema>;

export const spanRecordSchema = z.object({
  service: z.string(),
  traceId: traceIdSchema,
  spanId: spanIdSchema,
  parentSpanId: spanIdSchema.optional(),
  name: z.string(),
  kind: spanKindSchema,
  startTimeUnixNano: unixNanoSchema,
  endTimeUnixNano: unixNanoSchema,
  startTimeMs: z.number(),
  durationMs: z.number().nonnegative(),
  status: spanStatusSchema,
  statusMessage: z.string().optional(),
  attributes: attributesSchema,
  resource: attributesSchema,
  scope: z.object({ name: z.string(), version: z.string().optional() }),
  events: z.array(z.object({ name: z.string(), timeUnixNano: unixNanoSchema, attributes: attributesSchema })),
  links: z.array(z.object({ traceId: traceIdSchema, spanId: spanIdSchema, attributes: attributesSchema })),
});

export type SpanRecord = z.infer<typeof spanRecordSchema>;

/**
 * One applied batch of a telemetry partition as the analyzer's collectors hand it to its judge on
 * heph.signals (JSON, when analyzers run apart): its source (`<topic>/<partition>`), the oldest and
 * newest event time of its items, and the spans the correlator learns from, without their resource.
 */
export const signalBatchSchema = z.object({
  source: z.string(),
  firstMs: z.number().optional(),
  lastMs: z.number().optional(),
  spans: z.array(spanRecordSchema.omit({ resource: true })),
  behind: z.boolean().optional(),
  detection: z.lazy(() => detectionReportSchema).optional(),
});

/**
 * What a detector saw in one interval of one service, for the incident policy (which decides whether it
 * matters): the value against its baseline, why, and what relates it to other signals.
 */
export const observationSchema = z.object({
  service: z.string(),
  signal: signalName,
  bucketStartMs: z.number(),
  value: z.number(),
  baseline: z.number(),
  summary: z.string(),
  explanation: signalExplanation,
  traceIds: z.array(z.string()).optional(),
  signature: z.string().optional(),
  signatureTemplate: z.string().optional(),
  calls: z.number().optional(),
  errors: z.number().optional(),
  controlUrl: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  etaSeconds: z.number().optional(),
  confidence: z.number().optional(),
  severity: severity.optional(),
  sustainOnly: z.boolean().optional(),
  confirmedOver: z.number().optional(),
  level: z.number().optional(),
});
export type Observation = z.infer<typeof observationSchema>;

/**
 * A collector's detection pass (stage 1, analyzers apart): every interval that closed before `before`
 * is judged for the services of the partition indexes it holds, and these are its observations.
 */
export const detectionReportSchema = z.object({
  indexes: z.array(z.number().int()),
  before: z.number(),
  observations: z.array(observationSchema),
});
export type DetectionReport = z.infer<typeof detectionReportSchema>;

const scopeSchema = z.object({ name: z.string(), version: z.string().optional() });
const countSchema = z.number().int().nonnegative();

export const metricKindSchema = z.enum(['gauge', 'sum', 'histogram', 'exponential_histogram', 'summary']);
export type MetricKind = z.infer<typeof metricKindSchema>;

export const metricTemporalitySchema = z.enum(['delta', 'cumulative']);
export type MetricTemporality = z.infer<typeof metricTemporalitySchema>;

const exponentialBucketsSchema = z.object({ offset: z.number().int(), bucketCounts: z.array(countSchema) });

/**
 * One OTLP data point with its metric, scope and resource. Which value fields are set follows the
 * kind: `value` for gauge and sum; count, sum, min, max, bounds and bucketCounts for histogram;
 * count, sum, min, max, scale, zeroCount, zeroThreshold, positive and negative for
 * exponential_histogram; count, sum and quantiles for summary. Values that are not finite are left out.
 */
export const metricPointSchema = z.object({
  service: z.string(),
  resource: attributesSchema,
  scope: scopeSchema,
  name: z.string(),
  description: z.string().optional(),
  unit: z.string().optional(),
  kind: metricKindSchema,
  temporality: metricTemporalitySchema.optional(),
  monotonic: z.boolean().optional(),
  attributes: attributesSchema,
  startTimeUnixNano: unixNanoSchema.optional(),
  timeUnixNano: unixNanoSchema,
  timeMs: z.number(),
  value: z.number().optional(),
  count: countSchema.optional(),
  sum: z.number().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  bounds: z.array(z.number()).optional(),
  bucketCounts: z.array(countSchema).optional(),
  scale: z.number().int().optional(),
  zeroCount: countSchema.optional(),
  zeroThreshold: z.number().nonnegative().optional(),
  positive: exponentialBucketsSchema.optional(),
  negative: exponentialBucketsSchema.optional(),
  quantiles: z.array(z.object({ quantile: z.number(), value: z.number() })).optional(),
  exemplars: z.array(z.object({ traceId: traceIdSchema.optional(), spanId: spanIdSchema.optional(), value: z.number(), timeUnixNano: unixNanoSchema })),
});

export type MetricPoint = z.infer<typeof metricPointSchema>;

/**
 * One OTLP log record with its scope and resource. `timeMs` is the record's time, or when the
 * collector observed it if the record has none (the logs data model's rule); the body is an
 * AttributeValue (null when empty).
 */
export const logRecordNormalizedSchema = z.object({
  service: z.string(),
  resource: attributesSchema,
  scope: scopeSchema,
  timeUnixNano: unixNanoSchema,
  observedTimeUnixNano: unixNanoSchema,
  timeMs: z.number(),
  severityNumber: z.number().int(),
  severityText: z.string(),
  body: attributeValueSchema,
  attributes: attributesSchema,
  traceId: traceIdSchema.optional(),
  spanId: spanIdSchema.optional(),
  eventName: z.string().optional(),
});

export type LogRecordNormalized = z.infer<typeof logRecordNormalizedSchema>;
