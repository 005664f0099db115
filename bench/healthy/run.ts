// `npm run bench:healthy`: false pages on a healthy fleet over simulated days. The scenarios last
// minutes; a detector that mistakes a daily cycle for a fault pages at the same hour every day. This
// writes days of telemetry of a fleet that never fails (traffic and latency following a daily cycle,
// noise, the odd slow call and failed request, a memory gauge that breathes with the load) into the
// Postgres-backed log of a fresh database, replays it with `heph backtest` (the detectors, incident
// policy, routing and playbook matching on the telemetry's own time, acting on nothing) and prints
// every incident it would open: each is a false page.
import { Writable } from 'node:stream';
import { createPgLog, openDatabase } from '@hephaestus/platform';
import { parseOrRefuse } from '../usage.ts';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { decodeMetricsJson, decodeTracesJson, encodeMetricsProtobuf, encodeTracesProtobuf, topics } from '@hephaestus/schemas';
import { runBacktest, type BacktestReport } from '../../cli/src/backtest.ts';

const usage = `usage: npm run bench:healthy -- [options]

Writes days of telemetry of a healthy fleet (web -> planner agent -> vector-db; traffic and latency
follow a daily cycle, with noise, rare slow calls and rare failed requests; the agent's memory gauge
rises and falls with the load) into a fresh PostgreSQL database (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/test as the admin database), replays it with heph backtest and
prints the incidents it would open and the pages it would send: on a healthy fleet, every one is false.

  --days N          simulated days (default 3)
  --resolution S    the analyzer's resolution in seconds (default 10)
  --seed N          the random seed (default 1)
  --strong-cycle    latency rises with the load much more: the LLM calls 0.84x at night to 1.4x at the
                    peak, vector-db 0.88x to 1.3x (by default 0.94x to 1.15x and 0.96x to 1.1x)
  --fault           the control: vector-db answers 5 times slower from 15:00 to 15:20 on the last
                    day, which must open one incident (without it, a bench that sees nothing would
                    look as good as one that sees well)
  -h, --help        show this help`;

const values = parseOrRefuse(usage, {
    days: { type: 'string', default: '3' },
    resolution: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    fault: { type: 'boolean', default: false },
    'strong-cycle': { type: 'boolean', default: false },
});
const days = Number(values.days);
const resolutionSeconds = Number(values.resolution);
if (!(days > 0) || !(resolutionSeconds > 0)) {
  console.error(`bench:healthy: --days and --resolution must be positive numbers\n\n${usage}`);
  process.exit(2);
}

const t0 = performance.now();
const say = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}`);
const dayMs = 86_400_000;
/** Midnight UTC: the simulated days start at 00:00. */
const startMs = Date.UTC(2026, 10, 2);
const nanos = (ms: number) => (BigInt(Math.round(ms)) * 1_000_000n).toString();

/** A small deterministic generator, so a seed gives the same fleet every run. */
let state = Number(values.seed) * 7919 + 17;
const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
/** Poisson by inversion (the rates here are small). */
const poisson = (mean: number) => {
  let k = 0;
  let p = Math.exp(-mean);
  let s = p;
  const u = random();
  while (u > s && k < 1000) {
    k++;
    p *= mean / k;
    s += p;
  }
  return k;
};

/** The daily load: 0.3 at 03:00, 1 at 15:00, smooth in between. */
const load = (tMs: number) => 0.65 - 0.35 * Math.cos((2 * Math.PI * (((tMs - startMs) % dayMs) - 3 * 3_600_000)) / dayMs);

const resource = (service: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: service } }] });
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0').slice(-width);

const strong = values['strong-cycle'];
/** The control fault's start: 15:00 on the last day. */
const faultFromMs = startMs + (days - 1) * dayMs + 15 * 3_600_000;

/** One request at `t`: web's server span, its call to the planner, the planner's LLM call and its vector-db lookup. */
const request = (n: number, t: number) => {
  const traceId = hex(n * 2_654_435_761 + 1, 32);
  const id = (salt: number) => hex(n * 40_503 + salt * 7 + 1, 16);
  // Latency: lognormal noise, a little slower at peak load; one call in 500 is ten times slower.
  const slow = (random() < 0.002 ? 10 : 1) * (values.fault && t >= faultFromMs && t < faultFromMs + 20 * 60_000 ? 5 : 1);
  const dbMs = Math.exp(Math.log(12) + 0.25 * gaussian()) * (strong ? 0.7 + 0.6 * load(t) : 0.9 + 0.2 * load(t)) * slow;
  const llmMs = Math.exp(Math.log(900) + 0.3 * gaussian()) * (strong ? 0.6 + 0.8 * load(t) : 0.85 + 0.3 * load(t));
  const plannerMs = llmMs + dbMs + 5 + 3 * random();
  const webMs = plannerMs + 8 + 4 * random();
  // One request in 1,000 fails (an upstream hiccup), as healthy services do.
  const failed = random() < 0.001;
  const status = (message: string) => (failed ? { code: 2, message } : { code: 1 });
  const inputTokens = Math.round(600 + 300 * random());
  const outputTokens = Math.round(150 + 100 * random());
  const span = (spanId: string, parentSpanId: string, name: string, kind: number, begin: number, ms: number, message: string, attributes: object[] = []) => ({
    traceId, spanId, parentSpanId, name, kind, startTimeUnixNano: nanos(begin), endTimeUnixNano: nanos(begin + ms), attributes, status: status(message),
  });
  return {
    web: [span(id(1), '', 'POST /ask', 2, t, webMs, 'planner failed'), span(id(2), id(1), 'POST /plan', 3, t + 2, plannerMs + 3, 'planner answered 502', [{ key: 'peer.service', value: { stringValue: 'planner' } }])],
    planner: [
      span(id(3), id(2), 'POST /plan', 2, t + 3, plannerMs, 'model call failed'),
      span(id(4), id(3), 'chat gpt-4o-mini', 3, t + 4, llmMs, 'model call failed', [
        { key: 'gen_ai.system', value: { stringValue: 'openai' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: String(inputTokens) } },
        { key: 'gen_ai.usage.output_tokens', value: { intValue: String(outputTokens) } },
      ]),
      span(id(5), id(3), 'GET /search', 3, t + 5 + llmMs, dbMs + 1, 'vector-db timeout', [{ key: 'peer.service', value: { stringValue: 'vector-db' } }]),
    ],
    'vector-db': [span(id(6), id(5), 'GET /search', 2, t + 5 + llmMs, dbMs, 'vector-db timeout')],
  };
};

/** The planner's memory: a base, plus what the load holds, plus slow noise; a gauge every 10 s. */
let memoryNoise = 0;
const memoryAt = (t: number) => {
  memoryNoise = 0.95 * memoryNoise + 0.05 * gaussian();
  return Math.round((400 + 300 * load(t) + 20 * memoryNoise) * 2 ** 20);
};

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
const fresh = await freshDatabase();
const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
const log = createPgLog(db.sql, testLogger());
await log.ensureTopics();

// Write: one log record per service and simulated minute, as an exporter batches.
const endMs = startMs + days * dayMs;
const requestsPerSecondAtPeak = 2;
let n = 0;
let spans = 0;
for (let minute = startMs; minute < endMs; minute += 60_000) {
  const byService: Record<string, object[]> = { web: [], planner: [], 'vector-db': [] };
  for (let second = 0; second < 60; second++) {
    const t = minute + second * 1000;
    for (let k = poisson(requestsPerSecondAtPeak * load(t)); k > 0; k--) {
      const r = request(n++, t + Math.floor(random() * 1000));
      for (const [service, list] of Object.entries(r)) {
        byService[service]!.push(...list);
        spans += list.length;
      }
    }
  }
  const records = Object.entries(byService).map(([service, list]) => {
    const decoded = decodeTracesJson(JSON.stringify({ resourceSpans: [{ resource: resource(service), scopeSpans: [{ scope: { name: 'bench-healthy' }, spans: list }] }] }));
    if (!decoded.ok) throw new Error(decoded.error.message);
    return { key: service, value: Buffer.from(encodeTracesProtobuf(decoded.value)), headers: { 'content-type': 'application/x-protobuf' } };
  });
  await log.send(topics.spans, records);
  const points = Array.from({ length: 6 }, (_, i) => ({ timeUnixNano: nanos(minute + i * 10_000), asInt: String(memoryAt(minute + i * 10_000)) }));
  const metrics = decodeMetricsJson(JSON.stringify({
    resourceMetrics: [{ resource: resource('planner'), scopeMetrics: [{ scope: { name: 'bench-healthy' }, metrics: [{ name: 'process.memory.usage', unit: 'By', gauge: { dataPoints: points } }] }] }],
  }));
  if (!metrics.ok) throw new Error(metrics.error.message);
  await log.send(topics.metrics, [{ key: 'planner', value: Buffer.from(encodeMetricsProtobuf(metrics.value)), headers: { 'content-type': 'application/x-protobuf' } }]);
  if ((minute - startMs) % (6 * 3_600_000) === 0) say(`writing: day ${Math.floor((minute - startMs) / dayMs) + 1}, ${new Date(minute).toISOString().slice(11, 16)}, ${spans.toLocaleString('en-US')} spans so far`);
}
say(`wrote ${days} days: ${n.toLocaleString('en-US')} requests, ${spans.toLocaleString('en-US')} spans, a memory gauge every 10 s`);
await db.close();

const sink = () => {
  let text = '';
  return { stream: new Writable({ write: (chunk, _enc, done) => ((text += chunk.toString()), done()) }), text: () => text };
};
const [out, err] = [sink(), process.stderr];
const code = await runBacktest(['--json', '--idle-seconds', '5'], { stdout: out.stream, stderr: err }, {
  DATABASE_URL: fresh.url,
  HEPH_RESOLUTION_SECONDS: String(resolutionSeconds),
  HEPH_PLAYBOOKS_DIR: 'playbooks',
  HEPH_LIMITS: 'process.memory.usage=2147483648',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
});
await fresh.drop();
if (code !== 0) {
  console.error(`bench:healthy: heph backtest exited ${code}`);
  process.exit(1);
}
const report = JSON.parse(out.text()) as BacktestReport;
const hour = (iso: string) => `day ${Math.floor((Date.parse(iso) - startMs) / dayMs) + 1} ${iso.slice(11, 16)}`;
/** The control's incident: opened on vector-db while its fault ran, or within five minutes of its end. */
const isControl = (i: BacktestReport['incidents'][number]) =>
  values.fault && i.service === 'vector-db' && Date.parse(i.openedAt) >= faultFromMs && Date.parse(i.openedAt) < faultFromMs + 25 * 60_000;
say(`replayed ${report.records.toLocaleString('en-US')} records at ${resolutionSeconds} s resolution: ${report.incidents.length} incidents, ${report.pages} pages, ${report.actions} would-be actions`);
for (const i of report.incidents) {
  console.log(`  ${isControl(i) ? 'control' : 'FALSE  '}  ${hour(i.openedAt)}  ${i.service} ${i.signal}: ${i.summary}${i.reason ? ` (${i.reason})` : ''}; pages ${i.pages.length}; signals ${i.signals.join(', ')}${i.action?.playbook ? `; would run ${i.action.playbook} on ${i.action.target}` : ''}`);
}
const falsePages = report.incidents.filter((i) => !isControl(i)).reduce((n, i) => n + i.pages.length, 0);
console.log(`\nfalse pages: ${falsePages} in ${days} simulated days at ${resolutionSeconds} s (${(falsePages / days).toFixed(2)} a day; a healthy fleet should get none)`);
if (values.fault) {
  const control = report.incidents.filter(isControl);
  console.log(`the control fault (vector-db 5 times slower for 20 min): ${control.length === 0 ? 'MISSED' : `caught, ${control.length} incident, ${control.reduce((n, i) => n + i.pages.length, 0)} page`}`);
}
