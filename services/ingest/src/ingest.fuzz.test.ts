// Throws thousands of mutated OTLP requests at the receiver (real Kafka behind it) and checks every one
// gets a deliberate answer (2xx, 400, 413, 415) and the process keeps serving.
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLog, newRegistry, type Log } from '@hephaestus/platform';
import { kafkaBrokers, testLogger } from '@hephaestus/platform/testing';
import { decodeTracesJson, encodeTracesProtobuf } from '@hephaestus/schemas';
import { createIngestServer } from './ingest.ts';

/** mulberry32: a seeded generator, so a failure reproduces. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const json = JSON.stringify({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fuzz' } }, { key: 'k8s.pod.name', value: { stringValue: 'p-1' } }] },
      scopeSpans: [
        {
          scope: { name: 'fuzzer', version: '1' },
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              parentSpanId: 'aaa19b7ec3c1b174',
              name: 'chat gpt-4o',
              kind: 3,
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000500000000',
              attributes: [
                { key: 'gen_ai.usage.input_tokens', value: { intValue: '321' } },
                { key: 'ratio', value: { doubleValue: 0.5 } },
                { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } } },
              ],
              events: [{ name: 'exception', timeUnixNano: '1700000000100000000', attributes: [{ key: 'exception.message', value: { stringValue: 'boom' } }] }],
              status: { code: 2, message: 'failed' },
            },
          ],
        },
      ],
    },
  ],
});

const mutate = (input: Buffer, next: () => number): Buffer => {
  const bytes = Buffer.from(input);
  const choice = next();
  if (choice < 0.4) {
    for (let i = 0, n = 1 + Math.floor(next() * 8); i < n; i++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    return bytes;
  }
  if (choice < 0.6) return bytes.subarray(0, Math.floor(next() * bytes.length));
  if (choice < 0.8) {
    const at = Math.floor(next() * bytes.length);
    const junk = Buffer.from(Array.from({ length: 1 + Math.floor(next() * 16) }, () => Math.floor(next() * 256)));
    return Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
  }
  const at = Math.floor(next() * bytes.length);
  return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + 32), bytes.subarray(at)]);
};

describe('ingest under fuzzing', () => {
  let log: Log;
  let app: FastifyInstance;
  beforeAll(async () => {
    log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'ingest-fuzz' }, testLogger());
    await log.ensureTopics();
    app = createIngestServer({ log, logger: testLogger(), registry: newRegistry(), tokens: [], maxBodyBytes: 1 << 20, writeTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await app.close();
    await log.close();
  });

  it('answers thousands of mutated protobuf, JSON and gzip requests deliberately and keeps serving', async () => {
    const decoded = decodeTracesJson(json);
    if (!decoded.ok) throw new Error(decoded.error.message);
    const seeds = { protobuf: Buffer.from(encodeTracesProtobuf(decoded.value)), json: Buffer.from(json) };
    const next = random(20261125);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const format = i % 2 === 0 ? 'protobuf' : 'json';
      let body = mutate(seeds[format], next);
      const gzip = i % 7 === 0;
      if (gzip) body = next() < 0.5 ? gzipSync(body) : mutate(gzipSync(body), next);
      const response = await app.inject({
        method: 'POST',
        url: '/v1/traces',
        headers: { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        payload: body,
      });
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      expect([200, 400, 413, 415]).toContain(response.statusCode);
    }
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect(statuses.get(200)).toBeGreaterThan(10);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
