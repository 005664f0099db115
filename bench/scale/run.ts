// `npm run bench:scale`: the services as processes (`heph ingest`, `heph analyzer`) on real Kafka and
// PostgreSQL. For 1 and then 2 analyzer processes (same run, a fresh database and topics each) it prints
// - telemetry throughput: spans written to Kafka while the analyzers are stopped, then the rate at which
//   the analyzers consume and store that backlog (consumer lag back to 0), timed from the moment each
//   holds its share of the partitions;
// - ingest → incident lag under load: a fleet of services exporting spans steadily, then victims that
//   start failing one after another; for each page, the time from the incident's decision point in
//   event time (the end of the interval that confirmed it) to the webhook receiving the page, i.e. the
//   lag beyond the detection window, p50 and p99 (goal: p99 < 0.5 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { parseOrRefuse } from '../usage.ts';
import { freshDatabase, kafkaBrokers } from '@hephaestus/platform/testing';
import { decodeTracesJson, encodeTracesProtobuf } from '@hephaestus/schemas';

const usage = `usage: npm run bench:scale -- [options]

Runs heph ingest and 1, then 2, heph analyzer processes on Kafka (KAFKA_BROKERS, default
127.0.0.1:9092) and PostgreSQL (DATABASE_URL; a fresh database per part) and prints the analyzers'
throughput on a backlog and the ingest → incident lag of pages under a steady load.

  --services N      services exporting steadily (default 40)
  --victims N       of them, how many start failing, one every 4 s (default 20)
  --backlog N       spans written while the analyzers are stopped (default 600000)
  --partitions N    partitions of each telemetry topic (HEPH_KAFKA_TELEMETRY_PARTITIONS; default 12)
  -h, --help        show this help`;

const values = parseOrRefuse(usage, {
    services: { type: 'string', default: '40' },
    victims: { type: 'string', default: '20' },
    backlog: { type: 'string', default: '600000' },
    partitions: { type: 'string', default: '12' },
});
const serviceCount = Number(values.services);
const victimCount = Math.min(Number(values.victims), serviceCount);
const backlogSpans = Number(values.backlog);
const telemetryPartitions = Number(values.partitions);
const resolutionSeconds = 2;
const graceSeconds = 1;
const t0 = performance.now();
const say = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;

/** One OTLP/protobuf request of `count` server spans of `service`, ending now; `failing`: every span an error. */
const request = (service: string, count: number, failing: boolean) => {
  const traceId = randomBytes(16).toString('hex');
  const end = BigInt(Date.now()) * 1_000_000n;
  const json = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: 'bench-scale' },
            spans: Array.from({ length: count }, (_, i) => ({
              traceId,
              spanId: randomBytes(8).toString('hex'),
              name: 'POST /work',
              kind: 2,
              startTimeUnixNano: (end - 40_000_000n - BigInt(i) * 1000n).toString(),
              endTimeUnixNano: (end - BigInt(i) * 1000n).toString(),
              attributes: [{ key: 'http.request.method', value: { stringValue: 'POST' } }],
              status: { code: failing ? 2 : 1 },
            })),
          },
        ],
      },
    ],
  };
  const decoded = decodeTracesJson(JSON.stringify(json));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return new Uint8Array(encodeTracesProtobuf(decoded.value));
};

const send = async (ingestUrl: string, body: Uint8Array<ArrayBuffer>) => {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${ingestUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    await response.arrayBuffer();
    if (response.ok) return;
    if (attempt > 20) throw new Error(`ingest answered ${response.status}`);
    await sleep(200);
  }
};

/** A `heph <service>` child: its JSON log lines, its URL once up. */
const startService = (service: 'ingest' | 'analyzer', env: Record<string, string>) => {
  const lines: Array<Record<string, unknown>> = [];
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, '../../cli/src/main.ts'), service], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts.filter(Boolean)) {
      lines.push(JSON.parse(line));
      if (process.env.BENCH_SCALE_LOG) appendFileSync(process.env.BENCH_SCALE_LOG, `${service}[${child.pid}] ${line}\n`);
    }
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    lines,
    url: async () => {
      for (;;) {
        const up = lines.find((l) => l.msg === 'service up');
        if (up) return String(up.url);
        if (child.exitCode !== null) throw new Error(`heph ${service} exited with ${child.exitCode}`);
        await sleep(50);
      }
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
};

const metric = async (url: string, name: string) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
};

type Part = { analyzers: number; spansPerSecond: number; backlogSeconds: number; lags: number[]; detections: number[]; pages: number; activeAnalyzers: number };

const part = async (analyzerCount: number): Promise<Part> => {
  const db = await freshDatabase();
  const prefix = `scale-${randomBytes(4).toString('hex')}`;
  const pages: Array<{ service: string; incidentId: string; atMs: number }> = [];
  const webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { status: string; incident: { id: string; service: string } };
      if (parsed.status === 'firing') pages.push({ service: parsed.incident.service, incidentId: parsed.incident.id, atMs: Date.now() });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
  const address = webhook.address();
  const env: Record<string, string> = {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    DATABASE_URL: db.url,
    HEPH_CONSUMER_GROUP_PREFIX: prefix,
    HEPH_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    HEPH_KAFKA_TELEMETRY_PARTITIONS: String(telemetryPartitions),
    HEPH_INGEST_PORT: '0',
    HEPH_ANALYZER_PORT: '0',
    HEPH_RESOLUTION_SECONDS: String(resolutionSeconds),
    HEPH_DETECT_GRACE_SECONDS: String(graceSeconds),
    HEPH_DETECT_WARMUP_BUCKETS: '10',
    HEPH_ALERT_WEBHOOK_URL: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`,
  };
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const ingest = startService('ingest', env);
  const analyzers: Array<ReturnType<typeof startService>> = [];
  try {
    const ingestUrl = await ingest.url();
    say(`${analyzerCount} analyzer${analyzerCount > 1 ? 's' : ''}: ingest up; writing a backlog of ${backlogSpans.toLocaleString('en-US')} spans with no analyzer running`);
    // The backlog: 512-span requests from as many services as the steady load, 16 at a time.
    const perRequest = 512;
    const requests = Math.ceil(backlogSpans / perRequest);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < requests) {
          const i = next++;
          await send(ingestUrl, request(`svc-${String(i % serviceCount).padStart(3, '0')}`, perRequest, false));
        }
      }),
    );
    say(`backlog written; starting ${analyzerCount} analyzer${analyzerCount > 1 ? 's' : ''}`);
    for (let i = 0; i < analyzerCount; i++) analyzers.push(startService('analyzer', env));
    const urls = await Promise.all(analyzers.map((a) => a.url()));
    const consumedNow = async () => (await Promise.all(urls.map((u) => metric(u, 'heph_analyzer_records_total{signal="spans"}')))).reduce((a, b) => a + b, 0);
    // Timed from the moment every analyzer holds its share of the partition indexes (their leases logged;
    // an index is that partition of every telemetry topic): the throughput of the analyzers at work, not
    // of their start (Node, migrations, the first hand-over).
    const share = (a: (typeof analyzers)[number]) => Number(a.lines.findLast((l) => typeof l.pool === 'string' && typeof l.partitions === 'number')?.partitions ?? 0);
    const all = telemetryPartitions;
    while (!(analyzers.every((a) => share(a) >= Math.floor(all / analyzerCount)) && analyzers.reduce((n, a) => n + share(a), 0) === all)) await sleep(20);
    const started = performance.now();
    const consumedAtStart = await consumedNow();
    // Drained: every backlog span counted by the analyzers and the lag back to 0.
    for (;;) {
      // The counter counts spans (the items of the records).
      const consumed = await consumedNow();
      const lag = (await Promise.all(urls.map((u) => metric(u, 'heph_analyzer_consumer_lag_records')))).reduce((a, b) => a + b, 0);
      if (consumed >= requests * perRequest && lag === 0) break;
      await sleep(100);
    }
    const backlogSeconds = (performance.now() - started) / 1000;
    const activeAnalyzers = (await Promise.all(urls.map((u) => metric(u, 'heph_analyzer_active')))).reduce((a, b) => a + b, 0);
    const spansPerSecond = (requests * perRequest - consumedAtStart) / backlogSeconds;
    say(`backlog consumed: ${(requests * perRequest - consumedAtStart).toLocaleString('en-US')} spans in ${backlogSeconds.toFixed(1)} s once the partitions were shared out (${consumedAtStart.toLocaleString('en-US')} before): ${Math.round(spansPerSecond).toLocaleString('en-US')} spans/s (analyzers active: ${activeAnalyzers} of ${analyzerCount})`);

    // Steady load: each service a request of 20 spans every 250 ms; after the detectors' warm-up, one
    // victim every 4 s fails every span.
    const failingSince = new Map<string, number>();
    let running = true;
    const steady = (async () => {
      while (running) {
        const tick = Date.now();
        await Promise.all(
          Array.from({ length: serviceCount }, (_, i) => {
            const service = `svc-${String(i).padStart(3, '0')}`;
            return send(ingestUrl, request(service, 20, failingSince.has(service)));
          }),
        );
        await sleep(Math.max(0, 250 - (Date.now() - tick)));
      }
    })();
    const warmupMs = (10 + 6) * resolutionSeconds * 1000;
    say(`steady load: ${serviceCount} services × 80 spans/s; the detectors learn for ${warmupMs / 1000} s`);
    await sleep(warmupMs);
    for (let v = 0; v < victimCount; v++) {
      const service = `svc-${String(v).padStart(3, '0')}`;
      failingSince.set(service, Date.now());
      await sleep(4000);
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && new Set(pages.map((p) => p.service)).size < victimCount) await sleep(200);
    running = false;
    await steady;

    const lags: number[] = [];
    const detections: number[] = [];
    for (const page of pages) {
      const [opened] = await sql<{ occurred_at: Date }[]>`
        SELECT occurred_at FROM events WHERE type = 'incident.opened' AND data->>'incidentId' = ${page.incidentId}`;
      const since = failingSince.get(page.service);
      if (!opened || since === undefined) continue;
      // The decision point: the confirming interval's end in event time; the grace is part of the window.
      lags.push((page.atMs - opened.occurred_at.getTime() - graceSeconds * 1000) / 1000);
      detections.push((page.atMs - since) / 1000);
    }
    say(`${pages.length} pages for ${victimCount} failing services`);
    return { analyzers: analyzerCount, spansPerSecond, backlogSeconds, lags: lags.sort((a, b) => a - b), detections: detections.sort((a, b) => a - b), pages: pages.length, activeAnalyzers };
  } finally {
    for (const a of analyzers) await a.stop();
    await ingest.stop();
    await sql.end();
    webhook.close();
    await db.drop();
  }
};

const results: Part[] = [];
for (const n of [1, 2]) results.push(await part(n));
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
console.log(`\nscale (${serviceCount} services, ${telemetryPartitions} partitions per telemetry topic, resolution ${resolutionSeconds} s, grace ${graceSeconds} s; the lag is beyond the detection window)\n`);
console.log('analyzers  judging  backlog spans/s   lag p50 s  lag p99 s  failure → page p50 s  pages');
for (const r of results) {
  console.log(
    `${String(r.analyzers).padEnd(11)}${String(r.activeAnalyzers).padEnd(9)}${Math.round(r.spansPerSecond).toLocaleString('en-US').padStart(15)}   ${fmt(percentile(r.lags, 0.5)).padStart(9)}  ${fmt(percentile(r.lags, 0.99)).padStart(9)}  ${fmt(percentile(r.detections, 0.5)).padStart(20)}  ${r.pages}/${victimCount}`,
  );
}
const worst = Math.max(...results.map((r) => percentile(r.lags, 0.99)));
console.log(`\ngoal (issue 17): ingest → incident lag p99 < 0.5 s beyond the detection window: ${fmt(worst)} s, ${worst < 0.5 ? 'met' : 'not met'}`);
console.log(
  `2 analyzers: both collect (the telemetry topics' partitions spread over them), one judges: ${fmt(results[1]!.spansPerSecond / results[0]!.spansPerSecond)}× the throughput of one on this machine (${os.availableParallelism()} cores, shared with ingest, Kafka and PostgreSQL)`,
);
