// `npm run bench:ingest`: drives one ingest process over loopback with 512-span OTLP requests (protobuf
// and JSON) against real Kafka (acks all) and prints throughput, latency, CPU per million spans and
// peak RSS, beside the same process's decode-only ceiling (decode + validate + encode, no write).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { decodeTracesJson, encodeTracesProtobuf } from '@hephaestus/schemas';
import { signals } from '../../services/ingest/src/signals.ts';
import { agentSpans } from './requests.ts';
import { helpOrRefuse } from '../usage.ts';

const usage = `usage: npm run bench:ingest [-- --help]

Drives one ingest process over loopback with 512-span OTLP requests (protobuf and JSON) against real
Kafka (KAFKA_BROKERS, default 127.0.0.1:9092; acks all) and prints throughput, latency, CPU per
million spans and peak RSS beside the same process's decode-only ceiling.

  BENCH_SECONDS=N      seconds per run (default 8)
  BENCH_CONCURRENCY=N  requests in flight (default 8)
  -h, --help           show this help`;
helpOrRefuse(usage);

const spansPerRequest = 512;
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

const json = JSON.stringify(agentSpans(spansPerRequest));
const decoded = decodeTracesJson(json);
if (!decoded.ok) throw new Error(decoded.error.message);
const bodies = { protobuf: Buffer.from(encodeTracesProtobuf(decoded.value)), json: Buffer.from(json) };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Decode-only ceiling in this process: what the receiver's CPU work alone allows. */
const ceiling = (format: 'protobuf' | 'json') => {
  const body = bodies[format];
  const until = performance.now() + 3000;
  let spans = 0;
  const cpu = process.cpuUsage();
  while (performance.now() < until) {
    const prepared = signals.traces.prepare(body, format, {});
    if (!prepared.ok) throw new Error(prepared.error.message);
    spans += spansPerRequest;
  }
  const used = process.cpuUsage(cpu);
  return spans / ((used.user + used.system) / 1e6);
};

const server = fork(join(import.meta.dirname, 'server.ts'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = <T>(type: string) =>
  new Promise<T>((resolve) => {
    const onMessage = (m: { type: string }) => {
      if (m.type === type) {
        server.off('message', onMessage);
        resolve(m as T);
      }
    };
    server.on('message', onMessage);
    if (type !== 'ready') server.send({ type });
  });
const { port } = await ask<{ port: number }>('ready');
const dispatcher = new Agent({ connections: 256, pipelining: 1 });

type Run = { spansPerSecond: number; mbPerSecond: number; p50: number; p99: number; cpuPerMillion: number; peakRssMb: number; statuses: Record<number, number> };

const drive = async (format: 'protobuf' | 'json', ratePerSecond?: number, connections = concurrency): Promise<Run> => {
  await ask('reset');
  const body = bodies[format];
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const started = performance.now();
  const until = started + seconds * 1000;
  let sent = 0;
  const worker = async () => {
    while (performance.now() < until) {
      if (ratePerSecond) {
        const due = started + (sent / ratePerSecond) * 1000;
        sent++;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const t0 = performance.now();
      const response = await request(`http://127.0.0.1:${port}/v1/traces`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf', authorization: 'Bearer bench' },
        body,
      });
      await response.body.arrayBuffer();
      latencies.push(performance.now() - t0);
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const stats = await ask<{ cpuSeconds: number; peakRssBytes: number }>('stats');
  const ok = statuses[200] ?? 0;
  latencies.sort((a, b) => a - b);
  return {
    spansPerSecond: (ok * spansPerRequest) / elapsed,
    mbPerSecond: (ok * body.length) / elapsed / 1e6,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpuPerMillion: stats.cpuSeconds / ((ok * spansPerRequest) / 1e6),
    peakRssMb: stats.peakRssBytes / 1e6,
    statuses,
  };
};

console.log(`ingest benchmark: ${spansPerRequest} spans/request, ${concurrency} connections, ${seconds} s per run, Kafka acks=all`);
console.log(`request sizes: protobuf ${fmt(bodies.protobuf.length / 1024, 1)} KiB, JSON ${fmt(bodies.json.length / 1024, 1)} KiB\n`);
console.log('format    | decode-only ceiling | spans/s (full) | ratio | MB/s | p50 ms | p99 ms | CPU s per 1M spans | peak RSS MB | statuses');
for (const format of ['protobuf', 'json'] as const) {
  const top = ceiling(format);
  const run = await drive(format);
  console.log(
    `${format.padEnd(9)} | ${fmt(top).padStart(19)} | ${fmt(run.spansPerSecond).padStart(14)} | ${fmt(run.spansPerSecond / top, 2).padStart(5)} | ${fmt(run.mbPerSecond, 1).padStart(4)} | ${fmt(run.p50, 1).padStart(6)} | ${fmt(run.p99, 1).padStart(6)} | ${fmt(run.cpuPerMillion, 2).padStart(18)} | ${fmt(run.peakRssMb).padStart(11)} | ${JSON.stringify(run.statuses)}`,
  );
  if (format === 'protobuf') {
    const half = await drive(format, run.spansPerSecond / 2 / spansPerRequest);
    console.log(`${'  at half'.padEnd(9)} | ${''.padStart(19)} | ${fmt(half.spansPerSecond).padStart(14)} |       |      | ${fmt(half.p50, 1).padStart(6)} | ${fmt(half.p99, 1).padStart(6)} |`);
    // Overload: many more connections than the receiver can serve; it must shed with 429, not grow.
    const overload = await drive(format, undefined, 200);
    console.log(`${'  overload'.padEnd(9)} | ${'200 connections'.padStart(19)} | ${fmt(overload.spansPerSecond).padStart(14)} |       |      | ${fmt(overload.p50, 1).padStart(6)} | ${fmt(overload.p99, 1).padStart(6)} | ${''.padStart(18)} | ${fmt(overload.peakRssMb).padStart(11)} | ${JSON.stringify(overload.statuses)}`);
  }
}
server.send({ type: 'stop' });
await dispatcher.close();
