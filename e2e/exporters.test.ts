// Compatibility with the real OpenTelemetry JS exporters: traces, metrics and logs, over OTLP/HTTP in
// JSON (`exporter-*-otlp-http`) and protobuf (`exporter-*-otlp-proto`), into a running ingest on Kafka.
// Every record must arrive in the log intact, compared field by field with what the SDK exported.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as TracesJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLog, listen, newRegistry, type ConsumedRecord, type Log } from '@hephaestus/platform';
import { kafkaBrokers, startGroupAtEnd, testLogger } from '@hephaestus/platform/testing';
import { decodeLogsProtobuf, decodeMetricsProtobuf, decodeTracesProtobuf, toLogRecords, toMetricPoints, toSpanRecords } from '@hephaestus/schemas';
import { createIngestServer } from '../services/ingest/src/ingest.ts';

const nanos = ([seconds, fraction]: [number, number]) => (BigInt(seconds) * 1_000_000_000n + BigInt(fraction)).toString();

let log: Log;
let app: FastifyInstance;
let base: string;
const received: ConsumedRecord[] = [];
let stop: () => Promise<void>;

beforeAll(async () => {
  log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'exporter-compat' }, testLogger());
  await log.ensureTopics();
  app = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: ['compat-token'], maxBodyBytes: 4 << 20, writeTimeoutMs: 10_000 });
  base = `http://127.0.0.1:${await listen(app, '127.0.0.1', 0)}`;
  // Only this file's records: a new group would first read every earlier test's telemetry.
  const groupId = `exporter-compat-${randomBytes(4).toString('hex')}`;
  await startGroupAtEnd(groupId, ['otel.spans', 'otel.metrics', 'otel.logs']);
  const subscription = await log.subscribe({
    groupId,
    topics: ['otel.spans', 'otel.metrics', 'otel.logs'],
    handle: async ({ records }) => void received.push(...records),
  });
  stop = subscription.stop;
});
afterAll(async () => {
  await stop?.();
  await app.close();
  await log.close();
});

/** Waits until `count` records of the service, decoded from its messages, have reached the topic. */
const arrived = async <T>(topic: string, service: string, count: number, decode: (value: Buffer) => T[]): Promise<T[]> => {
  const deadline = Date.now() + 30_000;
  let records: T[] = [];
  while (Date.now() < deadline) {
    records = received.filter((r) => r.topic === topic && r.key === service).flatMap((r) => decode(r.value));
    if (records.length >= count) return records;
    await sleep(50);
  }
  throw new Error(`${records.length} of ${count} records for ${service} reached ${topic}`);
};

const unwrap = <T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
};

const headers = { authorization: 'Bearer compat-token' };
const encodings = [['json', 'http/json'], ['protobuf', 'http/protobuf']] as const;

describe.each(encodings)('the OpenTelemetry JS exporters in %s', (encoding) => {
  it('deliver traces intact', async () => {
    const service = `compat-traces-${encoding}-${randomBytes(3).toString('hex')}`;
    const memory = new InMemorySpanExporter();
    const exporter = encoding === 'json' ? new TracesJson({ url: `${base}/v1/traces`, headers }) : new TracesProto({ url: `${base}/v1/traces`, headers });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment.name': 'test' }),
      spanProcessors: [new SimpleSpanProcessor(memory), new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('compat', '1.2.3');
    tracer.startActiveSpan('POST /v1/plan', { kind: SpanKind.SERVER, attributes: { 'http.route': '/v1/plan', retries: 3, ratio: 0.25, ok: true, tags: ['a', 'b'] } }, (root) => {
      const child = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: { 'gen_ai.usage.input_tokens': 321 } });
      child.addEvent('gen_ai.choice', { finish_reason: 'stop' });
      child.recordException(new Error('upstream timeout'));
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timeout' });
      child.end();
      root.end();
    });
    await provider.forceFlush();
    const exported = memory.getFinishedSpans();
    const records = await arrived('otel.spans', service, exported.length, (v) => toSpanRecords(unwrap(decodeTracesProtobuf(v))));
    expect(records).toHaveLength(exported.length);
    for (const span of exported) {
      const record = records.find((r) => r.spanId === span.spanContext().spanId)!;
      expect(record).toMatchObject({
        service,
        traceId: span.spanContext().traceId,
        name: span.name,
        startTimeUnixNano: nanos(span.startTime),
        endTimeUnixNano: nanos(span.endTime),
        attributes: span.attributes,
        resource: { 'service.name': service, 'deployment.environment.name': 'test' },
        scope: { name: 'compat', version: '1.2.3' },
        status: span.status.code === SpanStatusCode.ERROR ? 'error' : 'unset',
      });
      expect(record.parentSpanId).toBe(span.parentSpanContext?.spanId);
      expect(record.events.map((e) => [e.name, e.timeUnixNano, e.attributes])).toEqual(span.events.map((e) => [e.name, nanos(e.time), e.attributes ?? {}]));
    }
    await provider.shutdown();
  });

  it('deliver metrics intact', async () => {
    const service = `compat-metrics-${encoding}-${randomBytes(3).toString('hex')}`;
    const otlp = encoding === 'json' ? new MetricsJson({ url: `${base}/v1/metrics`, headers }) : new MetricsProto({ url: `${base}/v1/metrics`, headers });
    // One collection, seen twice: what the exporter is handed is what must arrive.
    const captured: ResourceMetrics[] = [];
    const exporter: PushMetricExporter = {
      export: (metrics, done) => {
        captured.push(metrics);
        otlp.export(metrics, done);
      },
      forceFlush: () => otlp.forceFlush(),
      shutdown: () => otlp.shutdown(),
      selectAggregationTemporality: (kind) => otlp.selectAggregationTemporality!(kind),
    };
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service }), readers: [reader] });
    const meter = provider.getMeter('compat');
    meter.createCounter('gen_ai.client.token.usage.total', { unit: '{token}' }).add(321, { 'gen_ai.request.model': 'gpt-4o' });
    meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' }).record(0.42, { 'gen_ai.request.model': 'gpt-4o' });
    meter.createGauge('process.memory.usage', { unit: 'By' }).record(123_456_789);
    meter.createUpDownCounter('queue.depth').add(-4);
    await provider.forceFlush();
    const exported = captured.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    const points = await arrived('otel.metrics', service, exported.length, (v) => toMetricPoints(unwrap(decodeMetricsProtobuf(v))));
    expect(points.map((p) => p.name).sort()).toEqual(exported.map((m) => m.descriptor.name).sort());
    for (const metric of exported) {
      const point = points.find((p) => p.name === metric.descriptor.name)!;
      const data = metric.dataPoints[0]!;
      expect(point).toMatchObject({ service, attributes: data.attributes, timeUnixNano: nanos(data.endTime) });
      expect(point.unit ?? '').toBe(metric.descriptor.unit);
      if (typeof data.value === 'number') expect(point.value).toBe(data.value);
      else expect(point).toMatchObject({ kind: 'histogram', count: (data.value as { count: number }).count, sum: (data.value as { sum: number }).sum });
    }
    expect(points.find((p) => p.name === 'gen_ai.client.token.usage.total')).toMatchObject({ kind: 'sum', monotonic: true, temporality: 'cumulative', value: 321 });
    expect(points.find((p) => p.name === 'queue.depth')).toMatchObject({ kind: 'sum', monotonic: false, value: -4 });
    expect(points.find((p) => p.name === 'process.memory.usage')).toMatchObject({ kind: 'gauge', value: 123_456_789 });
    await provider.shutdown();
  });

  it('deliver logs intact', async () => {
    const service = `compat-logs-${encoding}-${randomBytes(3).toString('hex')}`;
    const memory = new InMemoryLogRecordExporter();
    const exporter = encoding === 'json' ? new LogsJson({ url: `${base}/v1/logs`, headers }) : new LogsProto({ url: `${base}/v1/logs`, headers });
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      processors: [new SimpleLogRecordProcessor({ exporter: memory }), new SimpleLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger('compat');
    logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'timeout after 3012 ms calling 10.0.0.7', attributes: { 'exception.type': 'TimeoutError', attempt: 2 } });
    logger.emit({ severityNumber: SeverityNumber.INFO, body: { event: 'plan.done', steps: 4 }, attributes: {} });
    await provider.forceFlush();
    const exported = memory.getFinishedLogRecords();
    const records = await arrived('otel.logs', service, exported.length, (v) => toLogRecords(unwrap(decodeLogsProtobuf(v))));
    expect(records).toHaveLength(exported.length);
    // Each record was its own export request: match them by severity, not by arrival order.
    exported.forEach((record) => {
      expect(records.find((r) => r.severityNumber === record.severityNumber)).toMatchObject({
        service,
        severityNumber: record.severityNumber,
        severityText: record.severityText ?? '',
        body: record.body,
        attributes: record.attributes,
        timeUnixNano: nanos(record.hrTime),
      });
    });
    await provider.shutdown();
  });
});
