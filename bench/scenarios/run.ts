// `npm run bench:scenarios`: every fault of the demo catalogue end to end on real Kafka and PostgreSQL
// (a fresh database per run): the control plane in process with the default playbooks, a webhook pager,
// a demo fleet per fault; healthy phase, fault, the story, healthy phase after. The truth comes from
// the event store; it prints one row per fault and the totals beside the goals of issue #7.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { freshDatabase } from '@hephaestus/platform/testing';
import { faultNames, isFaultName, type FaultName } from '../../cli/src/demo/faults.ts';
import { readEvents, runHealthy, runWave, startBench } from './harness.ts';
import { formatTable, storyOf, type ScenarioTimes } from './score.ts';

const usage = `usage: npm run bench:scenarios -- [options]

Runs each fault of the demo catalogue end to end on real Kafka and PostgreSQL (started with
deploy/local/kafka and deploy/local/postgres if they are not running; a fresh database per run) and
prints, per fault: detected, time to detect, time to alert, root cause, action taken, time to
recovery, rollback, false alarms and pages; then MTTD, MTTR, auto-remediation rate, pages per fault,
false pages, actions on healthy agents and how long before its limit the leak was predicted.

Faults run side by side (one fleet of four agents per fault, onsets two intervals apart) after a
healthy phase in which the detectors learn; about 20 minutes at the default resolution.

  --only NAME        run only this fault (repeatable, or comma-separated): ${faultNames.join(', ')}
  --resolution S     the analyzer's interval in seconds (default 10)
  --warmup N         intervals the detectors learn before they judge (default 30)
  --rate N           requests per second each fleet's entry agent drives (default 4)
  --keep-database    keep the run's database and print its URL (look at its events, or replay it)
  --healthy-minutes N  no faults: the fleets run healthy for N minutes after the warm-up, and it
                     prints the incidents, pages and actions they cost (goal: none)
  --cpu-hog          keep one core busy for the whole run (a bounded busy-loop process the bench
                     starts and stops): the table should not change
  -h, --help         show this help`;

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true, default: [] },
    resolution: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '30' },
    rate: { type: 'string', default: '4' },
    'keep-database': { type: 'boolean', default: false },
    'cpu-hog': { type: 'boolean', default: false },
    'healthy-minutes': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const fail = (message: string): never => {
  console.error(`bench:scenarios: ${message}\n\n${usage}`);
  process.exit(2);
};
const positive = (name: string, raw: string) => {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : fail(`--${name} wants a positive number, got '${raw}'`);
};
const resolutionSeconds = positive('resolution', values.resolution);
const warmupBuckets = Math.round(positive('warmup', values.warmup));
const rate = positive('rate', values.rate);
const only = values.only.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
for (const name of only) if (!isFaultName(name)) fail(`no fault '${name}'`);
const chosen = (names: FaultName[]) => (only.length ? names.filter((n) => only.includes(n)) : names);
// One wave of side-by-side fleets; the three error faults (whose callers' errors correlate) not next to each other.
const wave = chosen(['error-burst', 'latency-spike', 'provider-outage', 'spend-runaway', 'bad-deploy', 'memory-leak', 'latency-creep']);

const startedAt = Date.now();
const say = (line: string) => console.log(`[${String(Math.round((Date.now() - startedAt) / 1000)).padStart(5)} s] ${line}`);

/** deploy/local/<name> start: idempotent; returns what it printed. */
const deployLocal = (name: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(new URL(`../../deploy/local/${name}`, import.meta.url).pathname, ['start'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`deploy/local/${name} start exited with ${code}`))));
  });

say('starting Kafka and PostgreSQL (deploy/local, idempotent)');
await deployLocal('kafka');
const postgresUrl = /^DATABASE_URL=(.+)$/m.exec(await deployLocal('postgres'))?.[1]?.trim() ?? fail('deploy/local/postgres start printed no DATABASE_URL');
process.env.DATABASE_URL = postgresUrl;
const kafkaBrokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const db = await freshDatabase();
say(`fresh database ${new URL(db.url).pathname.slice(1)}; Kafka at ${kafkaBrokers}; resolution ${resolutionSeconds} s`);

// A busy loop in its own process, one core, stopped with the bench (and after an hour at most).
const hog = values['cpu-hog']
  ? spawn(process.execPath, ['-e', 'const end = Date.now() + 3_600_000; while (Date.now() < end) {}'], { stdio: 'ignore' })
  : undefined;
if (hog) say(`cpu hog running (pid ${hog.pid}): one core busy for the whole run`);
const bench = await startBench({ kafkaBrokers, databaseUrl: db.url, resolutionSeconds, warmupBuckets });
for (const note of bench.playbookNotes) say(note);
const times: ScenarioTimes[] = [];
try {
  if (values['healthy-minutes'] !== undefined) {
    const minutes = positive('healthy-minutes', values['healthy-minutes']);
    const healthy = await runHealthy(bench, { faults: wave, healthyMs: minutes * 60_000, rate, say });
    console.log(`\nhealthy fleets: ${healthy.fleets} fleets (${healthy.agents} agents), ${healthy.minutes} min judged at ${resolutionSeconds} s: ${healthy.incidents} incidents opened, ${healthy.pages} pages (goal 0), ${healthy.actions} actions (goal 0)`);
  } else {
    say(`faults: ${wave.join(', ')}`);
    times.push(...(await runWave(bench, { faults: wave, staggerMs: 2 * resolutionSeconds * 1000, healthyAfterMs: 6 * resolutionSeconds * 1000, rate, say })));
    const events = await readEvents(bench.sql);
    const order = faultNames.filter((n) => times.some((t) => t.fault === n));
    const stories = order.map((name) => storyOf(times.find((t) => t.fault === name)!, events));
    console.log(`\nfault scenarios (${Math.round((Date.now() - startedAt) / 60_000)} min, ${events.length} events, ${bench.pages.length} webhook notices received)\n`);
    console.log(formatTable(stories, resolutionSeconds));
  }
} finally {
  await bench.stop();
  hog?.kill('SIGKILL');
  if (values['keep-database']) say(`database kept: ${db.url}`);
  else await db.drop();
}
process.exit(0);
