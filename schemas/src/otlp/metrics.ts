// The OTLP metrics signal: decode (protobuf, JSON) → validate → split per resource → encode for the
// log, the export response, and the normalized metric points the analyzer reads.
import type { MetricKind, MetricPoint, MetricTemporality } from '../telemetry.ts';
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
  readDouble,
  readEnum,
  readId,
  readInt64,
  readList,
  readObject,
  readResource,
  readScope,
  readString,
  readUint32,
  readUint64,
  toAttributeRecord,
  toHex,
  writeKeyValue,
  writeResource,
  writeScope,
  requestDecoders,
} from './common.ts';
import { otlpTypes } from './descriptor.ts';
import { serviceNameOf } from './traces.ts';

/** An ExportMetricsServiceRequest (collector/metrics/v1/metrics_service.proto), decoded. */
export interface MetricsRequest {
  resourceMetrics: OtlpResourceMetrics[];
}

export interface OtlpResourceMetrics {
  resource: OtlpResource;
  scopeMetrics: OtlpScopeMetrics[];
  schemaUrl: string;
}

export interface OtlpScopeMetrics {
  scope: OtlpInstrumentationScope;
  metrics: OtlpMetric[];
  schemaUrl: string;
}

/** Metric.data is a oneof: at most one of gauge, sum, histogram, exponentialHistogram and summary is set. */
export interface OtlpMetric {
  name: string;
  description: string;
  unit: string;
  gauge?: OtlpGauge;
  sum?: OtlpSum;
  histogram?: OtlpHistogram;
  exponentialHistogram?: OtlpExponentialHistogram;
  summary?: OtlpSummary;
  metadata: OtlpKeyValue[];
}

export interface OtlpGauge {
  dataPoints: OtlpNumberDataPoint[];
}

/** AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative. */
export interface OtlpSum {
  dataPoints: OtlpNumberDataPoint[];
  aggregationTemporality: number;
  isMonotonic: boolean;
}

export interface OtlpHistogram {
  dataPoints: OtlpHistogramDataPoint[];
  aggregationTemporality: number;
}

export interface OtlpExponentialHistogram {
  dataPoints: OtlpExponentialHistogramDataPoint[];
  aggregationTemporality: number;
}

export interface OtlpSummary {
  dataPoints: OtlpSummaryDataPoint[];
}

/** The value is a oneof: at most one of asDouble and asInt is set. */
export interface OtlpNumberDataPoint {
  attributes: OtlpKeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  asDouble?: number;
  asInt?: bigint;
  exemplars: OtlpExemplar[];
  /** DataPointFlags: bit 0 is NO_RECORDED_VALUE. */
  flags: number;
}

/** sum, min and max are proto3 `optional`: absent, not zero, when the sender did not set them. */
export interface OtlpHistogramDataPoint {
  attributes: OtlpKeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: bigint;
  sum?: number;
  /** One more than explicitBounds once validated (or both empty). */
  bucketCounts: bigint[];
  explicitBounds: number[];
  exemplars: OtlpExemplar[];
  flags: number;
  min?: number;
  max?: number;
}

export interface OtlpExponentialHistogramDataPoint {
  attributes: OtlpKeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: bigint;
  sum?: number;
  scale: number;
  zeroCount: bigint;
  positive: OtlpExponentialBuckets;
  negative: OtlpExponentialBuckets;
  flags: number;
  exemplars: OtlpExemplar[];
  min?: number;
  max?: number;
  zeroThreshold: number;
}

export interface OtlpExponentialBuckets {
  offset: number;
  bucketCounts: bigint[];
}

export interface OtlpSummaryDataPoint {
  attributes: OtlpKeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: bigint;
  sum: number;
  quantileValues: OtlpValueAtQuantile[];
  flags: number;
}

export interface OtlpValueAtQuantile {
  quantile: number;
  value: number;
}

/** The value is a oneof like a NumberDataPoint's; the ids are empty, or 16 and 8 bytes once validated. */
export interface OtlpExemplar {
  filteredAttributes: OtlpKeyValue[];
  timeUnixNano: bigint;
  asDouble?: number;
  asInt?: bigint;
  spanId: Uint8Array;
  traceId: Uint8Array;
}

const temporalities: readonly (MetricTemporality | undefined)[] = [undefined, 'delta', 'cumulative'];
const temporalityNames = ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'];
const noRecordedValue = 1;

// ---------------------------------------------------------------------------------------------
// decode

const dataMembers = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;
const valueMembers = ['asDouble', 'asInt'] as const;

/** The member of a oneof that is set, if any; more than one is malformed, as for AnyValue. */
const oneofMember = <M extends string>(o: Obj, members: readonly M[], path: string): M | undefined => {
  const set = members.filter((m) => o[m] !== undefined && o[m] !== null);
  if (set.length > 1) throw new MalformedOtlp(`${path}: more than one value set (${set.join(', ')})`);
  return set[0];
};

const readBool = (v: unknown, path: string): boolean => {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new MalformedOtlp(`${path}: expected a boolean, got ${JSON.stringify(v)}`);
  return v;
};

/** sint32: the exponential histogram's scale and bucket offsets. */
const readInt32 = (v: unknown, path: string): number => {
  const n = readInt64(v, path);
  if (n < -(2n ** 31n) || n >= 2n ** 31n) throw new MalformedOtlp(`${path}: expected a signed 32-bit integer, got ${n}`);
  return Number(n);
};

const readTemporality = (v: unknown, path: string): number => readEnum(v, path, temporalityNames);

/** A proto3 `optional` double: absent stays absent. */
const readOptionalDouble = <K extends string>(o: Obj, key: K, path: string): Partial<Record<K, number>> =>
  o[key] === undefined || o[key] === null ? {} : ({ [key]: readDouble(o[key], `${path}.${key}`) } as Partial<Record<K, number>>);

const readValue = (o: Obj, path: string): { asDouble?: number; asInt?: bigint } => {
  const member = oneofMember(o, valueMembers, path);
  if (member === 'asDouble') return { asDouble: readDouble(o.asDouble, `${path}.asDouble`) };
  if (member === 'asInt') return { asInt: readInt64(o.asInt, `${path}.asInt`) };
  return {};
};

/** What every kind of data point starts with. */
const readPointTimes = (o: Obj, path: string): Pick<OtlpNumberDataPoint, 'attributes' | 'startTimeUnixNano' | 'timeUnixNano'> => ({
  attributes: readAttributes(o.attributes, `${path}.attributes`),
  startTimeUnixNano: readUint64(o.startTimeUnixNano, `${path}.startTimeUnixNano`),
  timeUnixNano: readUint64(o.timeUnixNano, `${path}.timeUnixNano`),
});

const readExemplar = (v: unknown, path: string): OtlpExemplar => {
  const o = readObject(v, path) ?? {};
  return {
    filteredAttributes: readAttributes(o.filteredAttributes, `${path}.filteredAttributes`),
    timeUnixNano: readUint64(o.timeUnixNano, `${path}.timeUnixNano`),
    ...readValue(o, path),
    spanId: readId(o.spanId, `${path}.spanId`),
    traceId: readId(o.traceId, `${path}.traceId`),
  };
};

const readNumberDataPoint = (v: unknown, path: string): OtlpNumberDataPoint => {
  const o = readObject(v, path) ?? {};
  return {
    ...readPointTimes(o, path),
    ...readValue(o, path),
    exemplars: readList(o.exemplars, `${path}.exemplars`, readExemplar),
    flags: readUint32(o.flags, `${path}.flags`),
  };
};

const readHistogramDataPoint = (v: unknown, path: string): OtlpHistogramDataPoint => {
  const o = readObject(v, path) ?? {};
  return {
    ...readPointTimes(o, path),
    count: readUint64(o.count, `${path}.count`),
    ...readOptionalDouble(o, 'sum', path),
    bucketCounts: readList(o.bucketCounts, `${path}.bucketCounts`, readUint64),
    explicitBounds: readList(o.explicitBounds, `${path}.explicitBounds`, readDouble),
    exemplars: readList(o.exemplars, `${path}.exemplars`, readExemplar),
    flags: readUint32(o.flags, `${path}.flags`),
    ...readOptionalDouble(o, 'min', path),
    ...readOptionalDouble(o, 'max', path),
  };
};

const readExponentialBuckets = (v: unknown, path: string): OtlpExponentialBuckets => {
  const o = readObject(v, path) ?? {};
  return { offset: readInt32(o.offset, `${path}.offset`), bucketCounts: readList(o.bucketCounts, `${path}.bucketCounts`, readUint64) };
};

const readExponentialHistogramDataPoint = (v: unknown, path: string): OtlpExponentialHistogramDataPoint => {
  const o = readObject(v, path) ?? {};
  return {
    ...readPointTimes(o, path),
    count: readUint64(o.count, `${path}.count`),
    ...readOptionalDouble(o, 'sum', path),
    scale: readInt32(o.scale, `${path}.scale`),
    zeroCount: readUint64(o.zeroCount, `${path}.zeroCount`),
    positive: readExponentialBuckets(o.positive, `${path}.positive`),
    negative: readExponentialBuckets(o.negative, `${path}.negative`),
    flags: readUint32(o.flags, `${path}.flags`),
    exemplars: readList(o.exemplars, `${path}.exemplars`, readExemplar),
    ...readOptionalDouble(o, 'min', path),
    ...readOptionalDouble(o, 'max', path),
    zeroThreshold: readDouble(o.zeroThreshold, `${path}.zeroThreshold`),
  };
};

const readValueAtQuantile = (v: unknown, path: string): OtlpValueAtQuantile => {
  const o = readObject(v, path) ?? {};
  return { quantile: readDouble(o.quantile, `${path}.quantile`), value: readDouble(o.value, `${path}.value`) };
};

const readSummaryDataPoint = (v: unknown, path: string): OtlpSummaryDataPoint => {
  const o = readObject(v, path) ?? {};
  return {
    ...readPointTimes(o, path),
    count: readUint64(o.count, `${path}.count`),
    sum: readDouble(o.sum, `${path}.sum`),
    quantileValues: readList(o.quantileValues, `${path}.quantileValues`, readValueAtQuantile),
    flags: readUint32(o.flags, `${path}.flags`),
  };
};

const readData = (o: Obj, path: string): Partial<Pick<OtlpMetric, (typeof dataMembers)[number]>> => {
  const member = oneofMember(o, dataMembers, path);
  if (member === undefined) return {};
  const at = `${path}.${member}`;
  const data = readObject(o[member], at) ?? {};
  const dataPoints = `${at}.dataPoints`;
  switch (member) {
    case 'gauge':
      return { gauge: { dataPoints: readList(data.dataPoints, dataPoints, readNumberDataPoint) } };
    case 'sum':
      return {
        sum: {
          dataPoints: readList(data.dataPoints, dataPoints, readNumberDataPoint),
          aggregationTemporality: readTemporality(data.aggregationTemporality, `${at}.aggregationTemporality`),
          isMonotonic: readBool(data.isMonotonic, `${at}.isMonotonic`),
        },
      };
    case 'histogram':
      return {
        histogram: {
          dataPoints: readList(data.dataPoints, dataPoints, readHistogramDataPoint),
          aggregationTemporality: readTemporality(data.aggregationTemporality, `${at}.aggregationTemporality`),
        },
      };
    case 'exponentialHistogram':
      return {
        exponentialHistogram: {
          dataPoints: readList(data.dataPoints, dataPoints, readExponentialHistogramDataPoint),
          aggregationTemporality: readTemporality(data.aggregationTemporality, `${at}.aggregationTemporality`),
        },
      };
    case 'summary':
      return { summary: { dataPoints: readList(data.dataPoints, dataPoints, readSummaryDataPoint) } };
  }
};

const readMetric = (v: unknown, path: string): OtlpMetric => {
  const o = readObject(v, path) ?? {};
  return {
    name: readString(o.name, `${path}.name`),
    description: readString(o.description, `${path}.description`),
    unit: readString(o.unit, `${path}.unit`),
    ...readData(o, path),
    metadata: readAttributes(o.metadata, `${path}.metadata`),
  };
};

const readScopeMetrics = (v: unknown, path: string): OtlpScopeMetrics => {
  const o = readObject(v, path) ?? {};
  return {
    scope: readScope(o.scope, `${path}.scope`),
    metrics: readList(o.metrics, `${path}.metrics`, readMetric),
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
  };
};

const readResourceMetrics = (v: unknown, path: string): OtlpResourceMetrics => {
  const o = readObject(v, path) ?? {};
  return {
    resource: readResource(o.resource, `${path}.resource`),
    scopeMetrics: readList(o.scopeMetrics, `${path}.scopeMetrics`, readScopeMetrics),
    schemaUrl: readString(o.schemaUrl, `${path}.schemaUrl`),
  };
};

const readMetricsRequest = (v: unknown): MetricsRequest => {
  const o = readObject(v, 'request');
  if (o === undefined) throw new MalformedOtlp('request: expected an object, got null');
  return { resourceMetrics: readList(o.resourceMetrics, 'resourceMetrics', readResourceMetrics) };
};

const decoders = requestDecoders(otlpTypes.ExportMetricsServiceRequest, readMetricsRequest);

/** Decodes an OTLP/HTTP protobuf body (ExportMetricsServiceRequest). Never throws. */
export const decodeMetricsProtobuf: (bytes: Uint8Array) => OtlpResult<MetricsRequest> = decoders.protobuf;

/**
 * Decodes an OTLP/HTTP JSON body: lowerCamelCase keys, exemplar trace and span ids in hex, 64-bit
 * integers as strings or numbers, enums as integers or names; unknown fields are ignored. Never throws.
 */
export const decodeMetricsJson: (text: string) => OtlpResult<MetricsRequest> = decoders.json;

// ---------------------------------------------------------------------------------------------
// validate

type OtlpDataPoint = OtlpNumberDataPoint | OtlpHistogramDataPoint | OtlpExponentialHistogramDataPoint | OtlpSummaryDataPoint;

const dataPointsOf = (m: OtlpMetric): readonly OtlpDataPoint[] =>
  m.gauge?.dataPoints ?? m.sum?.dataPoints ?? m.histogram?.dataPoints ?? m.exponentialHistogram?.dataPoints ?? m.summary?.dataPoints ?? [];

const hasData = (m: OtlpMetric): boolean => dataMembers.some((member) => m[member] !== undefined);

const noName = 'metric without a name';
const noData = 'metric without data';

// metrics.proto: a point's time_unix_nano is required; bucket_counts has one more element than
// explicit_bounds, or both are empty; explicit_bounds are strictly increasing. Bounds must also be
// finite here: an infinite bound adds only an empty bucket, and normalized points carry JSON numbers.
const pointRejection = (p: { timeUnixNano: bigint }): string | undefined => (p.timeUnixNano === 0n ? 'missing timestamp' : undefined);

const histogramRejection = (p: OtlpHistogramDataPoint): string | undefined => {
  const bounds = p.explicitBounds;
  const bucketsFit = p.bucketCounts.length === bounds.length + 1 || (p.bucketCounts.length === 0 && bounds.length === 0);
  const boundsIncrease = bounds.every((b, i) => Number.isFinite(b) && (i === 0 || b > bounds[i - 1]!));
  const missing = pointRejection(p);
  if (missing !== undefined) return missing;
  if (!bucketsFit) return 'bucket counts do not match explicit bounds';
  return boundsIncrease ? undefined : 'explicit bounds not finite and increasing';
};

const isValidId = (bytes: Uint8Array, length: number): boolean => bytes.length === 0 || bytes.length === length;

export interface MetricsValidation {
  /** The metrics that passed, with their attributes limited; metrics, scopes and resources left empty are dropped. */
  request: MetricsRequest;
  rejectedDataPoints: number;
  /**
   * For the OTLP partial success response; set when something was rejected (a metric without data
   * has no data points, so the message can come with a count of 0, which OTLP allows as a warning).
   */
  message?: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const shortName = (name: string): string => (name.length > 64 ? `${name.slice(0, 64)}…` : name);

/**
 * Drops what metrics.proto calls invalid: metrics without a name or without data, data points
 * without a timestamp, histogram points whose buckets do not fit their bounds; drops exemplars whose
 * ids have the wrong length, and applies the attribute limits to resources, scopes, metric metadata,
 * data points and exemplars.
 */
export const validateMetrics = (req: MetricsRequest, limits: AttributeLimits = {}): MetricsValidation => {
  const applied = { ...defaultAttributeLimits, ...limits };
  const rejections = new Map<string, { dataPoints: number; metrics: number; first: string }>();
  let rejectedDataPoints = 0;

  const reject = (reason: string, metric: OtlpMetric, dataPoints: number): void => {
    rejectedDataPoints += dataPoints;
    const seen = rejections.get(reason);
    if (seen) {
      seen.dataPoints += dataPoints;
      seen.metrics++;
    } else rejections.set(reason, { dataPoints, metrics: 1, first: shortName(metric.name) });
  };

  const limit = (attributes: OtlpKeyValue[]): OtlpKeyValue[] => limitAttributes(attributes, 0, applied).attributes;

  const limitExemplars = (exemplars: OtlpExemplar[]): OtlpExemplar[] =>
    exemplars
      .filter((e) => isValidId(e.traceId, 16) && isValidId(e.spanId, 8))
      .map((e) => ({ ...e, filteredAttributes: limit(e.filteredAttributes) }));

  const limitPoint = <P extends { attributes: OtlpKeyValue[]; exemplars: OtlpExemplar[] }>(p: P): P => ({
    ...p,
    attributes: limit(p.attributes),
    exemplars: limitExemplars(p.exemplars),
  });

  const keep = <P extends OtlpDataPoint>(metric: OtlpMetric, points: P[], rejectionOf: (p: P) => string | undefined): P[] =>
    points.filter((p) => {
      const reason = rejectionOf(p);
      if (reason !== undefined) reject(reason, metric, 1);
      return reason === undefined;
    });

  const validateMetric = (m: OtlpMetric): OtlpMetric[] => {
    if (m.name === '') {
      reject(noName, m, dataPointsOf(m).length);
      return [];
    }
    if (!hasData(m)) {
      reject(noData, m, 0);
      return [];
    }
    const metric: OtlpMetric = { name: m.name, description: m.description, unit: m.unit, metadata: limit(m.metadata) };
    if (m.gauge) metric.gauge = { dataPoints: keep(m, m.gauge.dataPoints, pointRejection).map(limitPoint) };
    if (m.sum) metric.sum = { ...m.sum, dataPoints: keep(m, m.sum.dataPoints, pointRejection).map(limitPoint) };
    if (m.histogram) metric.histogram = { ...m.histogram, dataPoints: keep(m, m.histogram.dataPoints, histogramRejection).map(limitPoint) };
    if (m.exponentialHistogram) {
      const dataPoints = keep(m, m.exponentialHistogram.dataPoints, pointRejection).map(limitPoint);
      metric.exponentialHistogram = { ...m.exponentialHistogram, dataPoints };
    }
    if (m.summary) {
      metric.summary = { dataPoints: keep(m, m.summary.dataPoints, pointRejection).map((p) => ({ ...p, attributes: limit(p.attributes) })) };
    }
    return dataPointsOf(metric).length > 0 ? [metric] : [];
  };

  const resourceMetrics = req.resourceMetrics
    .map((rm) => ({
      ...rm,
      resource: { ...rm.resource, ...limitAttributes(rm.resource.attributes, rm.resource.droppedAttributesCount, applied) },
      scopeMetrics: rm.scopeMetrics
        .map((sm) => ({
          ...sm,
          scope: { ...sm.scope, ...limitAttributes(sm.scope.attributes, sm.scope.droppedAttributesCount, applied) },
          metrics: sm.metrics.flatMap(validateMetric),
        }))
        .filter((sm) => sm.metrics.length > 0),
    }))
    .filter((rm) => rm.scopeMetrics.length > 0);

  const validation: MetricsValidation = { request: { resourceMetrics }, rejectedDataPoints };
  if (rejections.size > 0) {
    const reasons = [...rejections].map(([reason, { dataPoints, metrics, first }]) => {
      if (reason === noName) return `${reason} (${plural(metrics, 'metric')}, ${plural(dataPoints, 'data point')})`;
      if (reason === noData) return metrics === 1 ? `${reason} ('${first}')` : `${reason} (${metrics} metrics, first '${first}')`;
      return dataPoints === 1 ? `${reason} (data point of '${first}')` : `${reason} (${dataPoints} data points, first of '${first}')`;
    });
    validation.message = `${plural(rejectedDataPoints, 'data point')} rejected: ${reasons.join('; ')}`;
  }
  return validation;
};

// ---------------------------------------------------------------------------------------------
// split

const countDataPoints = (rm: OtlpResourceMetrics): number =>
  rm.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((k, m) => k + dataPointsOf(m).length, 0), 0);

/**
 * One request per ResourceMetrics that carries data points (a resource batch is one message on the
 * log, keyed by service name); resources without data points are left out.
 */
export const splitMetricsByResource = (req: MetricsRequest): { serviceName: string; request: MetricsRequest; pointCount: number }[] =>
  req.resourceMetrics
    .map((rm) => ({ serviceName: serviceNameOf(rm.resource), request: { resourceMetrics: [rm] }, pointCount: countDataPoints(rm) }))
    .filter((part) => part.pointCount > 0);

// ---------------------------------------------------------------------------------------------
// encode

const writeValue = (p: { asDouble?: number; asInt?: bigint }): Obj =>
  p.asInt !== undefined ? { asInt: longBits(p.asInt) } : p.asDouble !== undefined ? { asDouble: p.asDouble } : {};

const writeExemplar = (e: OtlpExemplar): Obj => ({
  filteredAttributes: e.filteredAttributes.map(writeKeyValue),
  timeUnixNano: longBits(e.timeUnixNano),
  ...writeValue(e),
  spanId: e.spanId,
  traceId: e.traceId,
});

const writePointTimes = (p: OtlpDataPoint): Obj => ({
  attributes: p.attributes.map(writeKeyValue),
  startTimeUnixNano: longBits(p.startTimeUnixNano),
  timeUnixNano: longBits(p.timeUnixNano),
});

const writeNumberDataPoint = (p: OtlpNumberDataPoint): Obj => ({
  ...writePointTimes(p),
  ...writeValue(p),
  exemplars: p.exemplars.map(writeExemplar),
  flags: p.flags,
});

const writeHistogramDataPoint = (p: OtlpHistogramDataPoint): Obj => ({
  ...p,
  ...writePointTimes(p),
  count: longBits(p.count),
  bucketCounts: p.bucketCounts.map(longBits),
  exemplars: p.exemplars.map(writeExemplar),
});

const writeExponentialHistogramDataPoint = (p: OtlpExponentialHistogramDataPoint): Obj => ({
  ...p,
  ...writePointTimes(p),
  count: longBits(p.count),
  zeroCount: longBits(p.zeroCount),
  positive: { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.map(longBits) },
  negative: { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.map(longBits) },
  exemplars: p.exemplars.map(writeExemplar),
});

const writeSummaryDataPoint = (p: OtlpSummaryDataPoint): Obj => ({ ...p, ...writePointTimes(p), count: longBits(p.count) });

const writeMetric = (m: OtlpMetric): Obj => ({
  name: m.name,
  description: m.description,
  unit: m.unit,
  metadata: m.metadata.map(writeKeyValue),
  ...(m.gauge && { gauge: { dataPoints: m.gauge.dataPoints.map(writeNumberDataPoint) } }),
  ...(m.sum && { sum: { ...m.sum, dataPoints: m.sum.dataPoints.map(writeNumberDataPoint) } }),
  ...(m.histogram && { histogram: { ...m.histogram, dataPoints: m.histogram.dataPoints.map(writeHistogramDataPoint) } }),
  ...(m.exponentialHistogram && {
    exponentialHistogram: { ...m.exponentialHistogram, dataPoints: m.exponentialHistogram.dataPoints.map(writeExponentialHistogramDataPoint) },
  }),
  ...(m.summary && { summary: { dataPoints: m.summary.dataPoints.map(writeSummaryDataPoint) } }),
});

/** ExportMetricsServiceRequest protobuf: what ingest writes to `otel.metrics` (the Collector's otlp_proto). */
export const encodeMetricsProtobuf = (req: MetricsRequest): Uint8Array =>
  otlpTypes.ExportMetricsServiceRequest.encode({
    resourceMetrics: req.resourceMetrics.map((rm) => ({
      resource: writeResource(rm.resource),
      schemaUrl: rm.schemaUrl,
      scopeMetrics: rm.scopeMetrics.map((sm) => ({ scope: writeScope(sm.scope), schemaUrl: sm.schemaUrl, metrics: sm.metrics.map(writeMetric) })),
    })),
  }).finish();

export interface MetricsPartialSuccess {
  rejectedDataPoints: number;
  errorMessage?: string;
}

/**
 * The ExportMetricsServiceResponse body. partial_success is left out when nothing was rejected and
 * there is no message, as the OTLP spec asks of a full success.
 */
export function encodeMetricsResponse(partial: MetricsPartialSuccess, format: 'protobuf'): Uint8Array;
export function encodeMetricsResponse(partial: MetricsPartialSuccess, format: 'json'): string;
export function encodeMetricsResponse(partial: MetricsPartialSuccess, format: 'protobuf' | 'json'): Uint8Array | string;
export function encodeMetricsResponse(partial: MetricsPartialSuccess, format: 'protobuf' | 'json'): Uint8Array | string {
  const errorMessage = partial.errorMessage ?? '';
  const hasPartial = partial.rejectedDataPoints > 0 || errorMessage !== '';
  if (format === 'json') {
    // int64 is a decimal string in OTLP/JSON; empty fields are omitted.
    const partialSuccess = { rejectedDataPoints: String(partial.rejectedDataPoints), ...(errorMessage ? { errorMessage } : {}) };
    return JSON.stringify(hasPartial ? { partialSuccess } : {});
  }
  return otlpTypes.ExportMetricsServiceResponse.encode(
    hasPartial ? { partialSuccess: { rejectedDataPoints: longBits(BigInt(partial.rejectedDataPoints)), errorMessage } } : {},
  ).finish();
}

// ---------------------------------------------------------------------------------------------
// normalize

const nanosToMs = (nanos: bigint): number => Number(nanos / 1000n) / 1000;

// NaN and ±Infinity cannot be rolled up and are not JSON numbers: a value that is not finite is left out.
const finite = <K extends string>(key: K, n: number | undefined): Partial<Record<K, number>> =>
  n !== undefined && Number.isFinite(n) ? ({ [key]: n } as Partial<Record<K, number>>) : {};

const numberOf = (v: { asDouble?: number; asInt?: bigint }): number | undefined => v.asDouble ?? (v.asInt === undefined ? undefined : Number(v.asInt));

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

const toExemplars = (exemplars: OtlpExemplar[]): MetricPoint['exemplars'] =>
  exemplars.flatMap((e) => {
    const value = numberOf(e);
    if (value === undefined || !Number.isFinite(value)) return [];
    const exemplar: MetricPoint['exemplars'][number] = { value, timeUnixNano: e.timeUnixNano.toString() };
    if (e.traceId.length === 16 && !isZero(e.traceId)) exemplar.traceId = toHex(e.traceId);
    if (e.spanId.length === 8 && !isZero(e.spanId)) exemplar.spanId = toHex(e.spanId);
    return [exemplar];
  });

type PointFields = Omit<MetricPoint, 'service' | 'resource' | 'scope' | 'name' | 'description' | 'unit' | 'kind' | 'temporality' | 'monotonic'>;

const pointTimes = (p: OtlpDataPoint): Pick<PointFields, 'attributes' | 'startTimeUnixNano' | 'timeUnixNano' | 'timeMs'> => ({
  attributes: toAttributeRecord(p.attributes),
  ...(p.startTimeUnixNano > 0n ? { startTimeUnixNano: p.startTimeUnixNano.toString() } : {}),
  timeUnixNano: p.timeUnixNano.toString(),
  timeMs: nanosToMs(p.timeUnixNano),
});

const numberPoint = (p: OtlpNumberDataPoint): PointFields => ({
  ...pointTimes(p),
  ...((p.flags & noRecordedValue) === 0 ? finite('value', numberOf(p)) : {}),
  exemplars: toExemplars(p.exemplars),
});

const histogramPoint = (p: OtlpHistogramDataPoint): PointFields => ({
  ...pointTimes(p),
  count: Number(p.count),
  ...finite('sum', p.sum),
  ...finite('min', p.min),
  ...finite('max', p.max),
  bounds: p.explicitBounds,
  bucketCounts: p.bucketCounts.map(Number),
  exemplars: toExemplars(p.exemplars),
});

const exponentialHistogramPoint = (p: OtlpExponentialHistogramDataPoint): PointFields => ({
  ...pointTimes(p),
  count: Number(p.count),
  ...finite('sum', p.sum),
  ...finite('min', p.min),
  ...finite('max', p.max),
  scale: p.scale,
  zeroCount: Number(p.zeroCount),
  ...(p.zeroThreshold > 0 ? { zeroThreshold: p.zeroThreshold } : {}),
  positive: { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.map(Number) },
  negative: { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.map(Number) },
  exemplars: toExemplars(p.exemplars),
});

const summaryPoint = (p: OtlpSummaryDataPoint): PointFields => ({
  ...pointTimes(p),
  count: Number(p.count),
  ...finite('sum', p.sum),
  quantiles: p.quantileValues.filter((q) => Number.isFinite(q.quantile) && Number.isFinite(q.value)).map(({ quantile, value }) => ({ quantile, value })),
  exemplars: [],
});

/** The kind, temporality and points of a metric's data, whichever member of the oneof is set. */
const shapeOf = (m: OtlpMetric): { kind: MetricKind; temporality?: number; monotonic?: boolean; points: PointFields[] } | undefined => {
  if (m.gauge) return { kind: 'gauge', points: m.gauge.dataPoints.map(numberPoint) };
  if (m.sum) {
    const { aggregationTemporality, isMonotonic } = m.sum;
    return { kind: 'sum', temporality: aggregationTemporality, monotonic: isMonotonic, points: m.sum.dataPoints.map(numberPoint) };
  }
  if (m.histogram) {
    return { kind: 'histogram', temporality: m.histogram.aggregationTemporality, points: m.histogram.dataPoints.map(histogramPoint) };
  }
  if (m.exponentialHistogram) {
    const { aggregationTemporality, dataPoints } = m.exponentialHistogram;
    return { kind: 'exponential_histogram', temporality: aggregationTemporality, points: dataPoints.map(exponentialHistogramPoint) };
  }
  if (m.summary) return { kind: 'summary', points: m.summary.dataPoints.map(summaryPoint) };
  return undefined;
};

/** Flattens a (validated) request to one point per data point, resource, scope and metric copied onto each. */
export const toMetricPoints = (req: MetricsRequest): MetricPoint[] =>
  req.resourceMetrics.flatMap((rm) => {
    const service = serviceNameOf(rm.resource);
    const resource = toAttributeRecord(rm.resource.attributes);
    return rm.scopeMetrics.flatMap((sm) => {
      const scope = sm.scope.version ? { name: sm.scope.name, version: sm.scope.version } : { name: sm.scope.name };
      return sm.metrics.flatMap((m) => {
        const shape = shapeOf(m);
        if (shape === undefined) return [];
        const temporality = shape.temporality === undefined ? undefined : temporalities[shape.temporality];
        const metric = {
          service,
          resource,
          scope,
          name: m.name,
          ...(m.description ? { description: m.description } : {}),
          ...(m.unit ? { unit: m.unit } : {}),
          kind: shape.kind,
          ...(temporality ? { temporality } : {}),
          ...(shape.monotonic === undefined ? {} : { monotonic: shape.monotonic }),
        };
        return shape.points.map((point): MetricPoint => ({ ...metric, ...point }));
      });
    });
  });
