// The OTLP metrics codec against hand-written OTLP/JSON and against bodies the OpenTelemetry JS SDK sends.
import { ValueType, type HrTime } from '@opentelemetry/api';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { metricPointSchema, type MetricPoint } from '../telemetry.ts';
import {
  decodeMetricsJson,
  decodeMetricsProtobuf,
  encodeMetricsProtobuf,
  encodeMetricsResponse,
  otlpTypes,
  splitMetricsByResource,
  toMetricPoints,
  validateMetrics,
  type MetricsRequest,
  type OtlpResult,
} from './codec.ts';

const traceId = '5b8efff798038103d269b633813fc60c';
const spanId = 'eee19b7ec3c1b174';
const start = '1544712660000000000';
const time = '1544712660300000000';

const unwrap = <T>(result: OtlpResult<T>): T => {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.message}`);
  return result.value;
};

const errorOf = <T>(result: OtlpResult<T>): string => {
  if (result.ok) throw new Error('expected a malformed result');
  expect(result.error.code).toBe('malformed');
  return result.error.message;
};

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

// Shaped like the OTLP/JSON example in opentelemetry-proto (examples/metrics.json): one metric of each kind.
const exampleJson = {
  resourceMetrics: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'my.service' } },
          { key: 'host.cores', value: { intValue: 8 } },
        ],
      },
      scopeMetrics: [
        {
          scope: { name: 'my.library', version: '1.0.0', attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }] },
          metrics: [
            {
              name: 'my.counter',
              unit: '1',
              description: 'I am a Counter',
              metadata: [{ key: 'origin', value: { stringValue: 'sdk' } }],
              sum: {
                aggregationTemporality: 1,
                isMonotonic: true,
                dataPoints: [
                  {
                    asDouble: 5,
                    startTimeUnixNano: start,
                    timeUnixNano: time,
                    attributes: [{ key: 'my.counter.attr', value: { stringValue: 'some value' } }],
                    exemplars: [
                      {
                        timeUnixNano: '1544712660250000000',
                        asInt: '3',
                        traceId: traceId.toUpperCase(),
                        spanId,
                        filteredAttributes: [{ key: 'user', value: { stringValue: 'u1' } }],
                      },
                    ],
                  },
                ],
              },
            },
            {
              name: 'my.gauge',
              unit: '1',
              description: 'I am a Gauge',
              gauge: {
                dataPoints: [
                  { asDouble: 10, timeUnixNano: 1544712661000000000, attributes: [{ key: 'my.gauge.attr', value: { stringValue: 'some value' } }] },
                  { asInt: '-3', timeUnixNano: time, flags: 0 },
                ],
              },
            },
            {
              name: 'my.histogram',
              unit: 'ms',
              description: 'I am a Histogram',
              histogram: {
                aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
                dataPoints: [
                  { startTimeUnixNano: start, timeUnixNano: time, count: '2', sum: 2, bucketCounts: ['1', 1], explicitBounds: [1], min: 0, max: 2 },
                ],
              },
            },
            {
              name: 'my.exponential.histogram',
              unit: 'ms',
              exponentialHistogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  {
                    startTimeUnixNano: start,
                    timeUnixNano: time,
                    count: '4',
                    sum: 10,
                    scale: -1,
                    zeroCount: '1',
                    zeroThreshold: 0.001,
                    positive: { offset: 1, bucketCounts: ['1', '1'] },
                    negative: { offset: -2, bucketCounts: ['1'] },
                    min: -3,
                    max: 5,
                  },
                ],
              },
            },
            {
              name: 'my.summary',
              unit: 's',
              summary: {
                dataPoints: [
                  {
                    startTimeUnixNano: start,
                    timeUnixNano: time,
                    count: '4',
                    sum: 20,
                    quantileValues: [
                      { quantile: 0.5, value: 4 },
                      { quantile: 1, value: 8 },
                    ],
                  },
                ],
              },
              somethingNew: { ignored: true },
            },
          ],
        },
      ],
    },
  ],
};

const exampleRequest = (): MetricsRequest => unwrap(decodeMetricsJson(JSON.stringify(exampleJson)));

const metricNamed = (req: MetricsRequest, name: string) => req.resourceMetrics[0]?.scopeMetrics[0]?.metrics.find((m) => m.name === name);

/** The same data as protobufjs's own JSON reader takes it (ids as bytes; it reads strings as base64). */
const toWireObject = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(toWireObject);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, (k === 'traceId' || k === 'spanId') && typeof x === 'string' ? bytes(x) : toWireObject(x)]));
};

describe('decodeMetricsJson', () => {
  it('reads every kind of metric, hex exemplar ids, 64-bit integers as strings or numbers, enums as integers or names', () => {
    const req = exampleRequest();
    expect(metricNamed(req, 'my.counter')).toEqual({
      name: 'my.counter',
      description: 'I am a Counter',
      unit: '1',
      metadata: [{ key: 'origin', value: { stringValue: 'sdk' } }],
      sum: {
        aggregationTemporality: 1,
        isMonotonic: true,
        dataPoints: [
          {
            attributes: [{ key: 'my.counter.attr', value: { stringValue: 'some value' } }],
            startTimeUnixNano: 1544712660000000000n,
            timeUnixNano: 1544712660300000000n,
            asDouble: 5,
            exemplars: [
              {
                filteredAttributes: [{ key: 'user', value: { stringValue: 'u1' } }],
                timeUnixNano: 1544712660250000000n,
                asInt: 3n,
                traceId: bytes(traceId),
                spanId: bytes(spanId),
              },
            ],
            flags: 0,
          },
        ],
      },
    });
    const gauge = metricNamed(req, 'my.gauge')?.gauge;
    expect(gauge?.dataPoints[0]?.timeUnixNano).toBe(1544712661000000000n);
    expect(gauge?.dataPoints[1]).toEqual({ attributes: [], startTimeUnixNano: 0n, timeUnixNano: 1544712660300000000n, asInt: -3n, exemplars: [], flags: 0 });
    expect(metricNamed(req, 'my.histogram')?.histogram).toEqual({
      aggregationTemporality: 2,
      dataPoints: [
        {
          attributes: [],
          startTimeUnixNano: 1544712660000000000n,
          timeUnixNano: 1544712660300000000n,
          count: 2n,
          sum: 2,
          bucketCounts: [1n, 1n],
          explicitBounds: [1],
          exemplars: [],
          flags: 0,
          min: 0,
          max: 2,
        },
      ],
    });
    expect(metricNamed(req, 'my.exponential.histogram')?.exponentialHistogram?.dataPoints[0]).toMatchObject({
      count: 4n,
      scale: -1,
      zeroCount: 1n,
      zeroThreshold: 0.001,
      positive: { offset: 1, bucketCounts: [1n, 1n] },
      negative: { offset: -2, bucketCounts: [1n] },
      min: -3,
      max: 5,
    });
    expect(metricNamed(req, 'my.summary')?.summary?.dataPoints[0]).toMatchObject({
      count: 4n,
      sum: 20,
      quantileValues: [
        { quantile: 0.5, value: 4 },
        { quantile: 1, value: 8 },
      ],
    });
  });

  it('fills absent fields with their defaults and leaves unset optional doubles and oneofs out', () => {
    const body = { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', histogram: { dataPoints: [{ timeUnixNano: time }] } }, { name: 'empty' }] }] }] };
    expect(unwrap(decodeMetricsJson(JSON.stringify(body)))).toEqual({
      resourceMetrics: [
        {
          resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [] },
          schemaUrl: '',
          scopeMetrics: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              schemaUrl: '',
              metrics: [
                {
                  name: 'm',
                  description: '',
                  unit: '',
                  metadata: [],
                  histogram: {
                    aggregationTemporality: 0,
                    dataPoints: [
                      { attributes: [], startTimeUnixNano: 0n, timeUnixNano: 1544712660300000000n, count: 0n, bucketCounts: [], explicitBounds: [], exemplars: [], flags: 0 },
                    ],
                  },
                },
                { name: 'empty', description: '', unit: '', metadata: [] },
              ],
            },
          ],
        },
      ],
    });
    const point = unwrap(decodeMetricsJson(JSON.stringify(body))).resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.histogram!.dataPoints[0]!;
    expect(Object.keys(point)).not.toContain('sum');
    expect(unwrap(decodeMetricsJson('{}'))).toEqual({ resourceMetrics: [] });
  });

  const metric = (m: unknown) => JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [m] }] }] });

  it.each([
    ['not JSON', '{"resourceMetrics": [', /^invalid OTLP JSON: /],
    ['a JSON array', '[]', /request: expected an object, got an array/],
    ['resourceMetrics not an array', '{"resourceMetrics": {}}', /resourceMetrics: expected an array/],
    ['two kinds of data in one metric', metric({ name: 'm', gauge: {}, sum: {} }), /metrics\[0\]: more than one value set \(gauge, sum\)/],
    ['a point with both asDouble and asInt', metric({ gauge: { dataPoints: [{ asDouble: 1, asInt: 1 }] } }), /dataPoints\[0\]: more than one value set \(asDouble, asInt\)/],
    ['a base64 exemplar trace id', metric({ gauge: { dataPoints: [{ exemplars: [{ traceId: 'W47/95gDgQPSabYzgT/GDA==' }] }] } }), /exemplars\[0\]\.traceId: expected a hex-encoded id/],
    ['an unknown temporality name', metric({ sum: { aggregationTemporality: 'DELTA' } }), /sum\.aggregationTemporality: expected an enum value/],
    ['isMonotonic as a string', metric({ sum: { isMonotonic: 'true' } }), /sum\.isMonotonic: expected a boolean, got "true"/],
    ['a scale out of the 32-bit range', metric({ exponentialHistogram: { dataPoints: [{ scale: 2 ** 31 }] } }), /dataPoints\[0\]\.scale: expected a signed 32-bit integer, got 2147483648/],
    ['a negative bucket count', metric({ histogram: { dataPoints: [{ bucketCounts: ['-1'] }] } }), /bucketCounts\[0\]: expected an unsigned 64-bit integer/],
    ['a fractional count', metric({ histogram: { dataPoints: [{ count: 1.5 }] } }), /dataPoints\[0\]\.count: expected an unsigned 64-bit integer, got 1.5/],
    ['a sum that is not a number', metric({ histogram: { dataPoints: [{ sum: 'lots' }] } }), /dataPoints\[0\]\.sum: expected a number, got "lots"/],
    ['a gauge that is not an object', metric({ gauge: [] }), /metrics\[0\]\.gauge: expected an object, got an array/],
  ])('refuses %s with a message, without throwing', (_, body, message) => {
    expect(errorOf(decodeMetricsJson(body))).toMatch(message);
  });
});

describe('decodeMetricsProtobuf and encodeMetricsProtobuf', () => {
  it('round-trips every field the JSON decoder reads', () => {
    const req = exampleRequest();
    expect(unwrap(decodeMetricsProtobuf(encodeMetricsProtobuf(req)))).toEqual(req);
  });

  it('decodes to the same request as the JSON of the same data', () => {
    const wire = otlpTypes.ExportMetricsServiceRequest.fromObject(toWireObject(exampleJson) as Record<string, unknown>);
    const body = otlpTypes.ExportMetricsServiceRequest.encode(wire).finish();
    expect(unwrap(decodeMetricsProtobuf(body))).toEqual(exampleRequest());
  });

  it('keeps optional doubles and point values that are zero, and leaves out what is unset', () => {
    const req = exampleRequest();
    delete metricNamed(req, 'my.histogram')!.histogram!.dataPoints[0]!.sum;
    metricNamed(req, 'my.gauge')!.gauge!.dataPoints[0]!.asDouble = 0;
    metricNamed(req, 'my.gauge')!.gauge!.dataPoints[1]!.asInt = 0n;
    const decoded = unwrap(decodeMetricsProtobuf(encodeMetricsProtobuf(req)));
    const point = metricNamed(decoded, 'my.histogram')!.histogram!.dataPoints[0]!;
    expect(point.min).toBe(0);
    expect(Object.keys(point)).not.toContain('sum');
    expect(metricNamed(decoded, 'my.gauge')!.gauge!.dataPoints.map((p) => [p.asDouble, p.asInt])).toEqual([
      [0, undefined],
      [undefined, 0n],
    ]);
  });

  it('keeps full 64-bit precision for times, counts and int values', () => {
    const req = exampleRequest();
    const gauge = metricNamed(req, 'my.gauge')!.gauge!;
    gauge.dataPoints[1]!.asInt = -(2n ** 63n);
    gauge.dataPoints[1]!.timeUnixNano = 2n ** 64n - 1n;
    const histogram = metricNamed(req, 'my.histogram')!.histogram!;
    histogram.dataPoints[0]!.count = 2n ** 64n - 1n;
    histogram.dataPoints[0]!.bucketCounts = [2n ** 63n, 2n ** 63n - 1n];
    metricNamed(req, 'my.exponential.histogram')!.exponentialHistogram!.dataPoints[0]!.positive.bucketCounts = [2n ** 64n - 1n];
    expect(unwrap(decodeMetricsProtobuf(encodeMetricsProtobuf(req)))).toEqual(req);
  });

  it('ignores unknown fields on the wire', () => {
    const body = encodeMetricsProtobuf(exampleRequest());
    const withUnknown = new Uint8Array([...body, 0x98, 0x06, 0x01]);
    expect(unwrap(decodeMetricsProtobuf(withUnknown))).toEqual(exampleRequest());
  });

  it('decodes an empty body as an empty request', () => {
    expect(unwrap(decodeMetricsProtobuf(new Uint8Array(0)))).toEqual({ resourceMetrics: [] });
  });

  it.each([
    ['a truncated body', encodeMetricsProtobuf(exampleRequest()).subarray(0, 40)],
    ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['a JSON body sent as protobuf', new TextEncoder().encode(JSON.stringify(exampleJson))],
    ['a wrong wire type', new Uint8Array([0x0f])],
  ])('refuses %s with a message, without throwing', (_, body) => {
    expect(errorOf(decodeMetricsProtobuf(body))).toMatch(/^invalid OTLP protobuf: .+/);
  });
});

const gaugePoint = (value: number, timeUnixNano = time) => ({ asDouble: value, timeUnixNano });

const gauge = (name: string, points: unknown[]) => ({ name, gauge: { dataPoints: points } });

const resourceMetrics = (service: string | undefined, metrics: unknown[]) => ({
  resource: { attributes: service === undefined ? [] : [{ key: 'service.name', value: { stringValue: service } }] },
  scopeMetrics: [{ scope: { name: 'test' }, metrics }],
});

const request = (...rm: unknown[]): MetricsRequest => unwrap(decodeMetricsJson(JSON.stringify({ resourceMetrics: rm })));

describe('splitMetricsByResource', () => {
  it('gives one request per resource, named by service.name, counting data points of every kind', () => {
    const req = request(
      resourceMetrics('cart', [gauge('a', [gaugePoint(1), gaugePoint(2)]), gauge('b', [gaugePoint(3)])]),
      exampleJson.resourceMetrics[0],
      resourceMetrics(undefined, [gauge('c', [gaugePoint(1)])]),
    );
    const parts = splitMetricsByResource(req);
    expect(parts.map((p) => [p.serviceName, p.pointCount])).toEqual([
      ['cart', 3],
      ['my.service', 6],
      ['unknown_service', 1],
    ]);
    expect(parts[1]?.request).toEqual({ resourceMetrics: [req.resourceMetrics[1]] });
    expect(parts.map((p) => unwrap(decodeMetricsProtobuf(encodeMetricsProtobuf(p.request))))).toEqual(parts.map((p) => p.request));
  });

  it('leaves out resources without data points', () => {
    const parts = splitMetricsByResource(request(resourceMetrics('idle', [gauge('a', [])]), resourceMetrics('busy', [gauge('b', [gaugePoint(1)])])));
    expect(parts.map((p) => p.serviceName)).toEqual(['busy']);
  });
});

describe('validateMetrics', () => {
  it('rejects invalid data points and metrics, counts the points and says why', () => {
    const histogram = (name: string, point: object) => ({ name, histogram: { dataPoints: [{ timeUnixNano: time, count: 1, ...point }] } });
    const req = request(
      resourceMetrics('cart', [
        gauge('queue.depth', [gaugePoint(1, '0'), gaugePoint(2), gaugePoint(3, '0')]),
        gauge('', [gaugePoint(1), gaugePoint(2)]),
        { name: 'no.data', unit: 'ms' },
        histogram('latency', { bucketCounts: [1, 0], explicitBounds: [1, 2] }),
        histogram('latency.unsorted', { bucketCounts: [1, 0, 0], explicitBounds: [2, 1] }),
        histogram('latency.count.only', {}),
      ]),
      resourceMetrics('all-bad', [gauge('stale', [gaugePoint(1, '0')])]),
    );
    const result = validateMetrics(req);
    expect(result.rejectedDataPoints).toBe(7);
    expect(result.message).toBe(
      "7 data points rejected: missing timestamp (3 data points, first of 'queue.depth'); metric without a name (1 metric, 2 data points); " +
        "metric without data ('no.data'); bucket counts do not match explicit bounds (data point of 'latency'); " +
        "explicit bounds not finite and increasing (data point of 'latency.unsorted')",
    );
    expect(result.request.resourceMetrics).toHaveLength(1);
    const kept = result.request.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    expect(kept.map((m) => m.name)).toEqual(['queue.depth', 'latency.count.only']);
    expect(kept[0]?.gauge?.dataPoints.map((p) => p.asDouble)).toEqual([2]);
  });

  it('says nothing when every metric is valid', () => {
    const req = exampleRequest();
    expect(validateMetrics(req)).toEqual({ request: req, rejectedDataPoints: 0 });
  });

  it('warns about metrics without data with a count of zero', () => {
    const result = validateMetrics(request(resourceMetrics('cart', [{ name: 'a' }, { name: 'b' }, gauge('ok', [gaugePoint(1)])])));
    expect(result.rejectedDataPoints).toBe(0);
    expect(result.message).toBe("0 data points rejected: metric without data (2 metrics, first 'a')");
    expect(result.request.resourceMetrics[0]?.scopeMetrics[0]?.metrics.map((m) => m.name)).toEqual(['ok']);
  });

  it('truncates long strings and caps the attribute count of resources, metadata, points and exemplars', () => {
    const attributes = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'x'.repeat(10) } }));
    const req = request({
      resource: { attributes },
      scopeMetrics: [
        {
          scope: { name: 's', attributes },
          metrics: [
            {
              name: 'm',
              metadata: attributes,
              sum: { dataPoints: [{ ...gaugePoint(1), attributes, exemplars: [{ asDouble: 1, filteredAttributes: attributes }] }] },
            },
            { name: 'q', summary: { dataPoints: [{ timeUnixNano: time, attributes }] } },
          ],
        },
      ],
    });
    const limited = validateMetrics(req, { maxAttributeValueLength: 4, maxAttributeCount: 3 }).request.resourceMetrics[0]!;
    const three = [0, 1, 2].map((i) => ({ key: `k${i}`, value: { stringValue: 'xxxx' } }));
    const [sum, summary] = limited.scopeMetrics[0]!.metrics;
    expect(sum?.sum?.dataPoints[0]?.attributes).toEqual(three);
    expect(sum?.sum?.dataPoints[0]?.exemplars[0]?.filteredAttributes).toEqual(three);
    expect(sum?.metadata).toEqual(three);
    expect(summary?.summary?.dataPoints[0]?.attributes).toEqual(three);
    expect(limited.resource).toMatchObject({ attributes: three, droppedAttributesCount: 2 });
    expect(limited.scopeMetrics[0]?.scope).toMatchObject({ attributes: three, droppedAttributesCount: 2 });
  });

  it('drops exemplars whose ids have the wrong length, keeps those without ids', () => {
    const exemplars = [{ asDouble: 1, traceId, spanId }, { asDouble: 2 }, { asDouble: 3, traceId: '0102' }, { asDouble: 4, traceId, spanId: '01' }];
    const req = request(resourceMetrics('cart', [gauge('m', [{ ...gaugePoint(1), exemplars }])]));
    const point = validateMetrics(req).request.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.gauge!.dataPoints[0]!;
    expect(point.exemplars.map((e) => e.asDouble)).toEqual([1, 2]);
  });
});

describe('encodeMetricsResponse', () => {
  it('writes a partial success that the descriptor decodes', () => {
    const body = encodeMetricsResponse({ rejectedDataPoints: 2, errorMessage: '2 data points rejected: missing timestamp' }, 'protobuf');
    const decoded = otlpTypes.ExportMetricsServiceResponse.toObject(otlpTypes.ExportMetricsServiceResponse.decode(body), { longs: String });
    expect(decoded).toEqual({ partialSuccess: { rejectedDataPoints: '2', errorMessage: '2 data points rejected: missing timestamp' } });
  });

  it('writes JSON with rejectedDataPoints as a string, and a warning with a count of zero', () => {
    expect(JSON.parse(encodeMetricsResponse({ rejectedDataPoints: 2, errorMessage: 'bad points' }, 'json'))).toEqual({
      partialSuccess: { rejectedDataPoints: '2', errorMessage: 'bad points' },
    });
    expect(JSON.parse(encodeMetricsResponse({ rejectedDataPoints: 0, errorMessage: 'metric without data' }, 'json'))).toEqual({
      partialSuccess: { rejectedDataPoints: '0', errorMessage: 'metric without data' },
    });
  });

  it('leaves out partialSuccess when nothing was rejected', () => {
    expect(encodeMetricsResponse({ rejectedDataPoints: 0 }, 'json')).toBe('{}');
    expect(encodeMetricsResponse({ rejectedDataPoints: 0 }, 'protobuf')).toHaveLength(0);
  });

  it('is understood by the OpenTelemetry JS exporter', () => {
    const body = encodeMetricsResponse({ rejectedDataPoints: 3, errorMessage: 'nope' }, 'protobuf');
    expect(ProtobufMetricsSerializer.deserializeResponse(body)).toEqual({ partialSuccess: { rejectedDataPoints: 3, errorMessage: 'nope' } });
    const json = new TextEncoder().encode(encodeMetricsResponse({ rejectedDataPoints: 3, errorMessage: 'nope' }, 'json'));
    expect(JsonMetricsSerializer.deserializeResponse(json)).toEqual({ partialSuccess: { rejectedDataPoints: '3', errorMessage: 'nope' } });
  });
});

describe('toMetricPoints', () => {
  it('normalizes every kind of data point to points the schema accepts', () => {
    const points = toMetricPoints(exampleRequest());
    for (const point of points) expect(metricPointSchema.parse(point)).toEqual(point);
    const common = {
      service: 'my.service',
      resource: { 'service.name': 'my.service', 'host.cores': 8 },
      scope: { name: 'my.library', version: '1.0.0' },
    };
    expect(points).toEqual([
      {
        ...common,
        name: 'my.counter',
        description: 'I am a Counter',
        unit: '1',
        kind: 'sum',
        temporality: 'delta',
        monotonic: true,
        attributes: { 'my.counter.attr': 'some value' },
        startTimeUnixNano: start,
        timeUnixNano: time,
        timeMs: 1544712660300,
        value: 5,
        exemplars: [{ traceId, spanId, value: 3, timeUnixNano: '1544712660250000000' }],
      },
      {
        ...common,
        name: 'my.gauge',
        description: 'I am a Gauge',
        unit: '1',
        kind: 'gauge',
        attributes: { 'my.gauge.attr': 'some value' },
        timeUnixNano: '1544712661000000000',
        timeMs: 1544712661000,
        value: 10,
        exemplars: [],
      },
      { ...common, name: 'my.gauge', description: 'I am a Gauge', unit: '1', kind: 'gauge', attributes: {}, timeUnixNano: time, timeMs: 1544712660300, value: -3, exemplars: [] },
      {
        ...common,
        name: 'my.histogram',
        description: 'I am a Histogram',
        unit: 'ms',
        kind: 'histogram',
        temporality: 'cumulative',
        attributes: {},
        startTimeUnixNano: start,
        timeUnixNano: time,
        timeMs: 1544712660300,
        count: 2,
        sum: 2,
        min: 0,
        max: 2,
        bounds: [1],
        bucketCounts: [1, 1],
        exemplars: [],
      },
      {
        ...common,
        name: 'my.exponential.histogram',
        unit: 'ms',
        kind: 'exponential_histogram',
        temporality: 'cumulative',
        attributes: {},
        startTimeUnixNano: start,
        timeUnixNano: time,
        timeMs: 1544712660300,
        count: 4,
        sum: 10,
        min: -3,
        max: 5,
        scale: -1,
        zeroCount: 1,
        zeroThreshold: 0.001,
        positive: { offset: 1, bucketCounts: [1, 1] },
        negative: { offset: -2, bucketCounts: [1] },
        exemplars: [],
      },
      {
        ...common,
        name: 'my.summary',
        unit: 's',
        kind: 'summary',
        attributes: {},
        startTimeUnixNano: start,
        timeUnixNano: time,
        timeMs: 1544712660300,
        count: 4,
        sum: 20,
        quantiles: [
          { quantile: 0.5, value: 4 },
          { quantile: 1, value: 8 },
        ],
        exemplars: [],
      },
    ] satisfies MetricPoint[]);
  });

  it('leaves out values that are not finite or not recorded, and exemplars without a value', () => {
    const req = request(
      resourceMetrics(undefined, [
        gauge('g', [
          { asDouble: 'NaN', timeUnixNano: time },
          { asDouble: 'Infinity', timeUnixNano: time },
          { asDouble: 7, timeUnixNano: time, flags: 1 },
          { timeUnixNano: time, exemplars: [{ timeUnixNano: time }, { asDouble: '-Infinity' }, { asInt: 2, traceId: '0'.repeat(32) }] },
        ]),
        { name: 'h', histogram: { dataPoints: [{ timeUnixNano: time, count: 0, sum: 'NaN' }] } },
        { name: 's', summary: { dataPoints: [{ timeUnixNano: time, quantileValues: [{ quantile: 0.5, value: 'NaN' }, { quantile: 0.9, value: 1 }] }] } },
      ]),
    );
    const points = toMetricPoints(req);
    for (const point of points) expect(metricPointSchema.parse(point)).toEqual(point);
    expect(points.slice(0, 4).map((p) => p.value)).toEqual([undefined, undefined, undefined, undefined]);
    expect(points[3]?.exemplars).toEqual([{ value: 2, timeUnixNano: '0' }]);
    expect(points[4]).toMatchObject({ kind: 'histogram', count: 0, bounds: [], bucketCounts: [] });
    expect(points[4]?.sum).toBeUndefined();
    expect(points[5]?.quantiles).toEqual([{ quantile: 0.9, value: 1 }]);
    expect(points[0]?.service).toBe('unknown_service');
    expect(points[0]?.scope).toEqual({ name: 'test' });
  });
});

// ---------------------------------------------------------------------------------------------
// Interoperability: bodies produced by the official OpenTelemetry JS serializers.

class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const recordMetrics = async (): Promise<ResourceMetrics> => {
  // Delta for the observable counter, cumulative for the rest: both temporalities in one collection.
  const reader = new ManualReader({
    aggregationTemporalitySelector: (type) => (type === InstrumentType.OBSERVABLE_COUNTER ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE),
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3', 'host.cores': 8 }),
    readers: [reader],
    views: [
      { instrumentName: 'http.server.request.duration', aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [0.1, 0.5, 1] } } },
      { instrumentName: 'llm.tokens', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 20 } } },
    ],
  });
  const meter = provider.getMeter('interop-test', '0.1.0');
  meter.createGauge('queue.depth', { unit: '{item}' }).record(-4.5, { queue: 'orders' });
  const requests = meter.createCounter('http.requests', { description: 'requests served', unit: '{request}', valueType: ValueType.INT });
  requests.add(3, { route: '/cart' });
  requests.add(2, { route: '/pay' });
  meter.createUpDownCounter('db.connections', { unit: '{connection}' }).add(-2);
  meter.createObservableCounter('gc.pauses', { unit: 's' }).addCallback((result) => result.observe(1.25, { generation: 'young' }));
  const duration = meter.createHistogram('http.server.request.duration', { unit: 's' });
  for (const v of [0.125, 0.25, 0.75, 2]) duration.record(v, { route: '/cart' });
  const tokens = meter.createHistogram('llm.tokens', { unit: '{token}' });
  for (const v of [0, 12, 40, 41, 900]) tokens.record(v);
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics;
};

const nanos = ([seconds, nanoseconds]: HrTime): bigint => BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);

/** What toMetricPoints should make of one SDK metric, computed from the SDK's own data. */
const expectedPoints = (rm: ResourceMetrics, metric: MetricData): object[] => {
  const { descriptor } = metric;
  const base = (dp: DataPoint<unknown>) => ({
    service: 'checkout',
    resource: { ...rm.resource.attributes },
    scope: { name: 'interop-test', version: '0.1.0' },
    name: descriptor.name,
    ...(descriptor.description ? { description: descriptor.description } : {}),
    ...(descriptor.unit ? { unit: descriptor.unit } : {}),
    attributes: dp.attributes,
    startTimeUnixNano: String(nanos(dp.startTime)),
    timeUnixNano: String(nanos(dp.endTime)),
    timeMs: Number(nanos(dp.endTime) / 1000n) / 1000,
    exemplars: [],
  });
  const temporality = metric.aggregationTemporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative';
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
      return metric.dataPoints.map((dp) => ({ ...base(dp), kind: 'gauge', value: dp.value }));
    case DataPointType.SUM:
      return metric.dataPoints.map((dp) => ({ ...base(dp), kind: 'sum', temporality, monotonic: metric.isMonotonic, value: dp.value }));
    case DataPointType.HISTOGRAM:
      return metric.dataPoints.map(({ value: h, ...dp }) => ({
        ...base({ ...dp, value: h }),
        kind: 'histogram',
        temporality,
        count: h.count,
        sum: h.sum,
        min: h.min,
        max: h.max,
        bounds: h.buckets.boundaries,
        bucketCounts: h.buckets.counts,
      }));
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return metric.dataPoints.map(({ value: h, ...dp }) => ({
        ...base({ ...dp, value: h }),
        kind: 'exponential_histogram',
        temporality,
        count: h.count,
        sum: h.sum,
        min: h.min,
        max: h.max,
        scale: h.scale,
        zeroCount: h.zeroCount,
        positive: h.positive,
        negative: h.negative,
      }));
  }
};

describe('interoperability with the OpenTelemetry JS SDK', () => {
  it('decodes its protobuf and JSON bodies to the same request, field for field', async () => {
    const rm = await recordMetrics();
    const protobufBody = ProtobufMetricsSerializer.serializeRequest(rm);
    const jsonBody = JsonMetricsSerializer.serializeRequest(rm);
    if (!protobufBody || !jsonBody) throw new Error('the serializers gave no body');

    const fromProtobuf = unwrap(decodeMetricsProtobuf(protobufBody));
    const fromJson = unwrap(decodeMetricsJson(new TextDecoder().decode(jsonBody)));
    expect(fromJson).toEqual(fromProtobuf);
    expect(validateMetrics(fromProtobuf)).toEqual({ request: fromProtobuf, rejectedDataPoints: 0 });

    const sdkMetrics = rm.scopeMetrics.flatMap((sm) => sm.metrics);
    const points = toMetricPoints(fromProtobuf);
    for (const point of points) expect(metricPointSchema.parse(point)).toEqual(point);
    expect(points).toEqual(sdkMetrics.flatMap((m) => expectedPoints(rm, m)));

    const byName = (name: string) => points.filter((p) => p.name === name);
    expect(byName('queue.depth')).toMatchObject([{ kind: 'gauge', value: -4.5, unit: '{item}', attributes: { queue: 'orders' } }]);
    expect(byName('http.requests')).toMatchObject([
      { kind: 'sum', temporality: 'cumulative', monotonic: true, value: 3, attributes: { route: '/cart' }, description: 'requests served' },
      { kind: 'sum', temporality: 'cumulative', monotonic: true, value: 2, attributes: { route: '/pay' } },
    ]);
    expect(byName('db.connections')).toMatchObject([{ kind: 'sum', temporality: 'cumulative', monotonic: false, value: -2 }]);
    expect(byName('gc.pauses')).toMatchObject([{ kind: 'sum', temporality: 'delta', monotonic: true, value: 1.25, attributes: { generation: 'young' } }]);
    expect(byName('http.server.request.duration')).toMatchObject([
      { kind: 'histogram', count: 4, sum: 3.125, min: 0.125, max: 2, bounds: [0.1, 0.5, 1], bucketCounts: [0, 2, 1, 1] },
    ]);
    const [exponential] = byName('llm.tokens');
    // Histogram instruments take no negative values (the API drops them), so the negative range stays empty.
    expect(exponential).toMatchObject({ kind: 'exponential_histogram', count: 5, zeroCount: 1, min: 0, max: 900, sum: 993, negative: { bucketCounts: [] } });
    expect(exponential?.positive?.bucketCounts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(points[0]?.resource).toEqual({ 'service.name': 'checkout', 'service.version': '1.2.3', 'host.cores': 8 });
  });

  it('re-encodes its request without loss', async () => {
    const body = ProtobufMetricsSerializer.serializeRequest(await recordMetrics());
    if (!body) throw new Error('the serializer gave no body');
    const decoded = unwrap(decodeMetricsProtobuf(body));
    expect(unwrap(decodeMetricsProtobuf(encodeMetricsProtobuf(decoded)))).toEqual(decoded);
  });
});
