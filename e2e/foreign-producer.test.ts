// Interoperability of our topics: a message in the otlp_proto encoding written straight to Kafka by
// someone else (here the OpenTelemetry JS SDK's own protobuf serializer, as a Collector's Kafka exporter
// would write it) is consumed by the analyzer like ingest's own.
import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@hephaestus/platform';
import { freshDatabase, kafkaBrokers, testLogger } from '@hephaestus/platform/testing';
import { startControlPlane, upConfig, type ControlPlane } from '../cli/src/control-plane.ts';
import { eventually, ownKafka } from './support.ts';

describe('a foreign producer on otel.spans', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('is consumed by the analyzer into the same rollups', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const prefix = `foreign-${randomBytes(4).toString('hex')}`;
    const plane: ControlPlane = await startControlPlane(
      loadConfig(upConfig, { KAFKA_BROKERS: kafkaBrokers().join(','), DATABASE_URL: db.url, HEPH_INGEST_PORT: '0', HEPH_CONSOLE_PORT: '0', ...ownKafka(prefix) }),
      testLogger(),
    );
    cleanups.push(plane.stop);

    const service = `foreign-${randomBytes(3).toString('hex')}`;
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new SimpleSpanProcessor(memory)] });
    const tracer = provider.getTracer('collector-like');
    for (let i = 0; i < 30; i++) {
      const span = tracer.startSpan('GET /x', { kind: SpanKind.SERVER });
      if (i % 3 === 0) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    const body = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans());
    if (!body) throw new Error('the serializer gave no body');
    await plane.runtime.log.send('otel.spans', [{ key: service, value: Buffer.from(body), headers: { 'content-type': 'application/x-protobuf' } }]);

    const row = await eventually('the analyzer to count the foreign spans', async () => {
      const [r] = await plane.runtime.db.sql<{ calls: number; errors: number }[]>`
        SELECT sum(calls)::int AS calls, sum(errors)::int AS errors FROM rollups WHERE service = ${service}`;
      return r && r.calls === 30 ? r : undefined;
    }, 60_000);
    expect(row).toEqual({ calls: 30, errors: 10 });
    await provider.shutdown();
  });
});
