// `npm run bench:correlation`: generated fleets with known faults, run through what the analyzer runs
// (the correlator, rollup, the error-rate test with its hysteresis and error-signature surges per 10 s
// interval, all decided by the one incident policy) and scored: pages per fault, root-cause top-1,
// false pages, and the time from the first bad span to the page. BENCH_SEEDS runs per scenario (30);
// BENCH_DEBUG=1 prints every page that was false, split or named the wrong cause, with its signals and
// run seed; BENCH_SEED=<run seed> replays that one run (e.g. BENCH_SEED=8003 BENCH_DEBUG=1).
import { serialize } from 'node:v8';
import { createCorrelator } from '../../services/analyzer/src/adapters/correlator.ts';
import { defaultErrorRateSettings, type Bucket } from '../../services/analyzer/src/domain/error-rate-detector.ts';
import { errorRateObservation, signatureObservation } from '../../services/analyzer/src/domain/observations.ts';
import { decidePass, defaultPolicySettings, frozenBaseline, initialPolicyState, type Decision, type Observation, type PolicyState } from '../../services/analyzer/src/domain/incident-policy.ts';
import type { IncidentCommand } from '@hephaestus/aggregates';
import { maxExemplars, rollupSpans } from '../../services/analyzer/src/domain/rollup.ts';
import {
  agentFleet,
  callersOf,
  createFault,
  createRandom,
  createWorld,
  faultMessageCount,
  generateInterval,
  layeredFleet,
  mergeFleets,
  shopFleet,
  type Delivered,
  type Fault,
  type Fleet,
  type Random,
} from './fleet.ts';
import { helpOrRefuse } from '../usage.ts';

const usage = `usage: npm run bench:correlation [-- --help]

Replays generated fleets with known faults (cascades, two faults at once, a flapping signal, a noisy
healthy fleet) through the correlator, the error-rate test, error-signature surges and the incident
policy, and prints pages per fault, root cause top-1, time to page and false pages.

  BENCH_SEEDS=N     runs per scenario (default 30)
  BENCH_DEBUG=1     print every false, split or mis-ranked page with its signals and run seed
  BENCH_SEED=S      replay the one run with that seed (e.g. BENCH_SEED=8003 BENCH_DEBUG=1)
  -h, --help        show this help`;
helpOrRefuse(usage);

const resolutionSeconds = 10;
const resolutionMs = resolutionSeconds * 1000;
/** HEPH_DETECT_GRACE_SECONDS: an interval is judged once the telemetry has passed its end by this much. */
const graceMs = 2_000;
const epochMs = 1_750_000_000_000;
/** Intervals before any fault: the detectors' baselines and the signature warm-up fill in. */
const faultBucket = 45;
/** What the analyzer runs with when nothing is configured (analyzer.ts: a recurrence within 10 minutes reopens). */
const errorRate = defaultErrorRateSettings;
const policySettings = defaultPolicySettings(resolutionMs);
/** Intervals after a fault ends (5 minutes and more): its incident resolves, and a late recurrence would reopen or page anew. */
const afterBuckets = 35;
/** A fleet's first intervals: its services have (almost) no history for a baseline yet. */
const coldStartBuckets = 10;
const seeds = Number(process.env.BENCH_SEEDS ?? 30);
/** A run seed is seed × 1000 + the scenario's index. */
const onlyRun = process.env.BENCH_SEED === undefined ? undefined : Number(process.env.BENCH_SEED);
const debug = Boolean(process.env.BENCH_DEBUG);

type Scenario = {
  name: string;
  buckets: number;
  healthy?: boolean;
  setup(random: Random, startMs: number): { fleet: Fleet; faults: Fault[] };
};

/** A service with at least three services calling it, directly or not. */
const deepService = (fleet: Fleet, random: Random): string | undefined => {
  const deep = [...fleet.services.keys()].filter((s) => callersOf(fleet, s).size >= 3);
  return deep.length > 0 ? random.pick(deep) : undefined;
};

/** An outage of a service with three or more callers, in the shop or a random layered fleet. */
const cascade = (staggerMs: number) => (random: Random, startMs: number) => {
  for (;;) {
    const app = random.chance(0.5) ? shopFleet() : layeredFleet(random);
    const root = deepService(app, random);
    if (!root) continue;
    const fleet = mergeFleets(app, agentFleet());
    return { fleet, faults: [createFault(random, fleet, { id: 'outage', root, startMs, durationMs: 12 * resolutionMs, staggerMs, messageIndex: random.int(0, faultMessageCount - 1) })] };
  }
};

const scenarios: Scenario[] = [
  {
    name: 'cascade: outage → 3+ callers, onsets a bucket apart',
    buckets: faultBucket + 12 + afterBuckets,
    setup: cascade(resolutionMs),
  },
  {
    name: 'cascade: outage → 3+ callers, same-interval onsets',
    buckets: faultBucket + 12 + afterBuckets,
    setup: cascade(0),
  },
  {
    name: 'two independent faults at once',
    buckets: faultBucket + 12 + afterBuckets,
    setup: (random, startMs) => {
      const app = random.chance(0.5) ? shopFleet() : layeredFleet(random);
      const fleet = mergeFleets(app, agentFleet());
      const [m1, m2] = random.shuffle([...Array(faultMessageCount).keys()]);
      return {
        fleet,
        faults: [
          createFault(random, fleet, { id: 'app', root: random.pick([...app.services.keys()]), startMs, durationMs: 12 * resolutionMs, staggerMs: resolutionMs, messageIndex: m1! }),
          createFault(random, fleet, { id: 'agents', root: random.pick(['planner', 'researcher', 'coder']), startMs: startMs + random.uniform(0, 20_000), durationMs: 12 * resolutionMs, staggerMs: resolutionMs, messageIndex: m2! }),
        ],
      };
    },
  },
  {
    name: 'flapping signal (on/off every other interval, 5 min)',
    buckets: faultBucket + 30 + afterBuckets,
    setup: (random, startMs) => {
      const fleet = mergeFleets(random.chance(0.5) ? shopFleet() : layeredFleet(random), agentFleet());
      const root = random.pick([...fleet.services.keys()]);
      return { fleet, faults: [createFault(random, fleet, { id: 'flap', root, startMs, durationMs: 30 * resolutionMs, staggerMs: 0, flapping: true, messageIndex: random.int(0, faultMessageCount - 1) })] };
    },
  },
  {
    // 40 minutes a run: the default 30 seeds cover the 20 healthy fleet-hours issue 14 asks for.
    name: 'noisy healthy fleet (1–3 % errors, 40 min a run)',
    buckets: 240,
    healthy: true,
    setup: (random) => ({ fleet: mergeFleets(random.chance(0.5) ? shopFleet() : layeredFleet(random), agentFleet()), faults: [] }),
  },
];

type PageSignal = { service: string; signal: string; onsetMs: number; summary: string; reason: string };

/** One page: an incident opened or reopened, with what joined it until it resolved (or the run ended). */
type Page = {
  incidentId: string;
  kind: 'opened' | 'reopened';
  /** When the analyzer decides: the interval's end plus the grace. */
  timeMs: number;
  signals: PageSignal[];
  /** The settled ranking's top candidate (what the healer acts on); a reopened incident keeps its settlement. */
  settledTop?: string;
  lastTop?: string;
};

type StoredBucket = Bucket & { errorTraceIds: string[] };

/** `checkpointBytes`: the correlator's checkpoint at the end of the run, with its exemplar traces and without. */
type RunResult = { faults: Fault[]; pages: Page[]; spans: number; intervals: number; pipelineMs: number; checkpointBytes: { all: number; withoutExemplars: number } };

const percent = (rate: number) => `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)} %`;

/** One scenario run: the generator feeds the analyzer's code interval by interval, as the analyzer would. */
const runOnce = (scenario: Scenario, seed: number): RunResult => {
  const random = createRandom(seed);
  const faultStartMs = epochMs + faultBucket * resolutionMs + random.uniform(0, resolutionMs);
  const { fleet, faults } = scenario.setup(random, faultStartMs);
  const world = createWorld(random, fleet, faults, resolutionMs);

  const correlator = createCorrelator({ resolutionSeconds });
  const context = { topology: correlator.topology, traces: correlator.traces, settings: policySettings };
  let policy: PolicyState = initialPolicyState();
  const series = new Map<string, Map<number, StoredBucket>>();
  const pages: Page[] = [];
  const episodes = new Map<string, Page>();
  let inFlight: Delivered[] = [];
  let spanCount = 0;
  let pipelineMs = 0;

  // detect (error rate), as decide-incidents.ts does: the count-aware test per service, and while an
  // incident holds a service's error rate, an interval still off its frozen baseline keeps it open.
  const observeErrorRates = (start: number): Observation[] => {
    const out: Observation[] = [];
    for (const [service, buckets] of series) {
      const current = buckets.get(start);
      if (!current) continue;
      const observation = errorRateObservation({
        service,
        current,
        history: [...buckets.values()].filter((b) => b.startMs < start && b.startMs >= start - errorRate.baselineBuckets * resolutionMs).sort((a, b) => a.startMs - b.startMs),
        frozenBaseline: frozenBaseline(policy, service, 'error_rate'),
        settings: errorRate,
        resolutionSeconds,
        signature: correlator.topSignature(service, start - resolutionMs),
      });
      if (observation) out.push(observation);
    }
    return out;
  };

  // detect (error signatures): new or surging templates, as evidence for the incident they relate to.
  const observeSignatures = (closedBefore: number): Observation[] =>
    correlator.closeSignatureBuckets(closedBefore).map((surge) => signatureObservation(surge, correlator.templateOf(surge.service, surge.signatureId), resolutionSeconds));

  // score: a page per OpenIncident or ReopenIncident (the default routing groups by alertname and
  // service: attached signals, rankings and severity changes update the group, they never page).
  const score = (commands: IncidentCommand[], decisions: Decision[], bucketStartMs: number, nowMs: number) => {
    for (const c of commands) {
      if (c.type === 'OpenIncident' || c.type === 'ReopenIncident') {
        const lead = decisions.find((d) => d.incidentId === c.incidentId && (d.decision === 'opened' || d.decision === 'reopened'))!;
        const onsetMs = c.type === 'OpenIncident' ? Date.parse(c.windowStart) : bucketStartMs;
        const page: Page = { incidentId: c.incidentId, kind: c.type === 'OpenIncident' ? 'opened' : 'reopened', timeMs: nowMs, signals: [{ service: lead.service, signal: lead.signal, onsetMs, summary: c.type === 'OpenIncident' ? c.summary : c.reason, reason: lead.reason }] };
        if (c.type === 'ReopenIncident') page.settledTop = episodes.get(c.incidentId)?.settledTop;
        pages.push(page);
        episodes.set(c.incidentId, page);
      } else if (c.type === 'AttachSignal') {
        episodes.get(c.incidentId)!.signals.push({ service: c.service, signal: c.signal, onsetMs: Date.parse(c.onsetAt), summary: c.summary, reason: c.reason ?? '' });
      } else if (c.type === 'RankRootCauses') {
        const page = episodes.get(c.incidentId)!;
        page.lastTop = c.candidates[0]?.service;
        if (c.settled) page.settledTop = page.lastTop;
      }
    }
  };

  for (let b = 0; b < scenario.buckets; b++) {
    const bucketStartMs = epochMs + b * resolutionMs;
    const jitter = new Map([...fleet.services.keys()].map((s) => [s, random.uniform(0.5, 1.5)]));
    inFlight.push(...generateInterval(world, bucketStartMs, 1 + 0.25 * Math.sin((2 * Math.PI * b) / 90), jitter));

    // consume: what has reached the log when the interval is judged, batch by batch in no set order.
    const nowMs = bucketStartMs + resolutionMs + graceMs;
    const batches = new Map<string, Delivered[]>();
    const later: Delivered[] = [];
    for (const d of inFlight) {
      if (d.arrivalMs > nowMs) {
        later.push(d);
        continue;
      }
      const batch = batches.get(d.span.service);
      if (batch) batch.push(d);
      else batches.set(d.span.service, [d]);
    }
    inFlight = later;
    const spans = random.shuffle([...batches.values()]).flatMap((batch) => batch.map((d) => d.span));
    spanCount += spans.length;
    const pipelineStart = performance.now();
    for (const span of spans) correlator.observe(span);

    // rollup: merged into stored buckets, late spans into the intervals they belong to.
    for (const delta of rollupSpans(spans, resolutionSeconds)) {
      let buckets = series.get(delta.service);
      if (!buckets) series.set(delta.service, (buckets = new Map()));
      const bucket = buckets.get(delta.bucketStartMs) ?? { startMs: delta.bucketStartMs, calls: 0, errors: 0, errorTraceIds: [] };
      bucket.calls += delta.calls;
      bucket.errors += delta.errors;
      bucket.errorTraceIds = [...bucket.errorTraceIds, ...delta.errorTraceIds].slice(0, maxExemplars);
      buckets.set(delta.bucketStartMs, bucket);
    }
    for (const buckets of series.values()) for (const start of buckets.keys()) if (start < bucketStartMs - errorRate.baselineBuckets * resolutionMs) buckets.delete(start);

    // detect → decide: the interval that just closed, through the incident policy.
    const observations = [...observeErrorRates(bucketStartMs), ...observeSignatures(bucketStartMs + resolutionMs)];
    const result = decidePass(policy, observations, bucketStartMs + resolutionMs, context);
    policy = result.state;
    score(result.commands, result.decisions, bucketStartMs, nowMs);
    pipelineMs += performance.now() - pipelineStart;
  }
  const saved = correlator.snapshot();
  const checkpointBytes = { all: serialize(saved).length, withoutExemplars: serialize({ ...saved, exemplars: undefined }).length };
  return { faults, pages, spans: spanCount, intervals: scenario.buckets, pipelineMs, checkpointBytes };
};

/** The faults a page is about: those with a signal of the page from a service they affect, raised while they were on. */
const faultsOf = (page: Page, faults: Fault[]) =>
  faults.filter((f) => page.signals.some((s) => f.affected.has(s.service) && s.onsetMs >= f.startMs - resolutionMs && s.onsetMs <= f.endMs + resolutionMs));

const quantile = (values: number[], q: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)} %`);
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const sec = (ms: number) => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);
const at = (ms: number) => ((ms - epochMs) / resolutionMs).toFixed(1);
const describePage = (p: Page) =>
  [`  ${p.kind} on interval ${at(p.timeMs - graceMs - resolutionMs)} (${p.incidentId.slice(0, 8)}), settled top ${p.settledTop ?? '-'}, last top ${p.lastTop ?? '-'}`, ...p.signals.map((s) => `    ${at(s.onsetMs)} ${s.service} ${s.signal}: ${s.summary} [${s.reason}]`)].join('\n');

console.log(`bench:correlation: ${onlyRun === undefined ? `${seeds} seeded runs per scenario` : `run seed ${onlyRun}`}, ${resolutionSeconds} s intervals, grace ${graceMs / 1000} s`);
console.log('the analyzer\'s code: correlator (topology, signatures, exemplars), rollupSpans, detectErrorRate + frozen-baseline hysteresis, signature surges, decidePass (default policy)\n');

const started = performance.now();
let totalSpans = 0;
let totalPipelineMs = 0;
let totalFalse = 0;
let faultsTotal = 0;
let pagesForFaults = 0;
let rankedRight = 0;
let exactlyOne = 0;
let healthyHours = 0;
let healthyFalse = 0;
for (const [index, scenario] of scenarios.entries()) {
  if (onlyRun !== undefined && onlyRun % 1_000 !== index) continue;
  const t0 = performance.now();
  const perFault: number[] = [];
  let merged = 0;
  let falsePages = 0;
  let coldStart = 0;
  let top = 0;
  let topLast = 0;
  const delays: number[] = [];
  let faultCount = 0;
  let intervals = 0;
  let runs = 0;
  const checkpoint = { all: 0, withoutExemplars: 0 };
  for (let seed = 1; seed <= seeds; seed++) {
    if (seed % 10 === 0 || seed === seeds) process.stderr.write(`  ${scenario.name}: run ${seed} of ${seeds}\r`);
    const runSeed = seed * 1_000 + index;
    if (onlyRun !== undefined && onlyRun !== runSeed) continue;
    const result = runOnce(scenario, runSeed);
    runs++;
    totalSpans += result.spans;
    totalPipelineMs += result.pipelineMs;
    intervals += result.intervals;
    checkpoint.all = Math.max(checkpoint.all, result.checkpointBytes.all);
    checkpoint.withoutExemplars = Math.max(checkpoint.withoutExemplars, result.checkpointBytes.withoutExemplars);
    for (const page of result.pages) {
      const about = faultsOf(page, result.faults);
      if (about.length === 0) falsePages++;
      if (about.length === 0 && page.timeMs - graceMs <= epochMs + coldStartBuckets * resolutionMs) coldStart++;
      if (about.length === 0 && debug) console.log(`false page (seed ${runSeed})\n${describePage(page)}`);
      if (about.length > 1) merged++;
    }
    for (const fault of result.faults) {
      faultCount++;
      const mine = result.pages.filter((p) => faultsOf(p, result.faults).includes(fault)).sort((a, b) => a.timeMs - b.timeMs);
      perFault.push(mine.length);
      const first = mine[0];
      const root = first?.settledTop ?? first?.lastTop;
      if (debug && (mine.length !== 1 || root !== fault.root)) {
        console.log(`fault ${fault.id} (seed ${runSeed}): root ${fault.root} from interval ${at(fault.startMs)} to ${at(fault.endMs)}, affected ${[...fault.affected].join(', ')}; ${mine.length} pages`);
        for (const p of mine) console.log(describePage(p));
      }
      if (!first) continue;
      if (root === fault.root) top++;
      if (first.lastTop === fault.root) topLast++;
      delays.push(first.timeMs - (fault.firstBadSpanMs ?? fault.startMs));
    }
  }
  process.stderr.write(' '.repeat(80) + '\r');
  const hours = (intervals * resolutionSeconds) / 3600;
  totalFalse += falsePages;
  faultsTotal += faultCount;
  pagesForFaults += perFault.reduce((a, b) => a + b, 0);
  rankedRight += top;
  exactlyOne += perFault.filter((n) => n === 1).length;
  if (scenario.healthy) {
    healthyHours += hours;
    healthyFalse += falsePages;
  }
  console.log(`${scenario.name}`);
  if (faultCount > 0) {
    const mean = perFault.reduce((a, b) => a + b, 0) / perFault.length;
    console.log(
      `  pages per fault ${mean.toFixed(2)} (exactly 1: ${pct(perFault.filter((n) => n === 1).length, faultCount)}, missed ${perFault.filter((n) => n === 0).length}, more than 1: ${perFault.filter((n) => n > 1).length}, pages covering two faults: ${merged})`,
    );
    console.log(`  root cause top-1 of the settled ranking ${pct(top, faultCount)} (the last ranking: ${pct(topLast, faultCount)})`);
    console.log(`  first bad span → page: p50 ${sec(quantile(delays, 0.5))}, p95 ${sec(quantile(delays, 0.95))}, max ${sec(Math.max(...delays))}`);
  }
  console.log(`  correlator checkpoint at a run's end: up to ${kib(checkpoint.all)}, of which exemplar traces ${kib(checkpoint.all - checkpoint.withoutExemplars)}`);
  console.log(`  false pages ${falsePages} (${coldStart} in a fleet's first ${coldStartBuckets} intervals, without history) in ${runs} runs (${hours.toFixed(1)} fleet-hours)   [${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
}
const pagesPerFault = faultsTotal === 0 ? NaN : pagesForFaults / faultsTotal;
console.log(`overall: ${faultsTotal} faults, ${pagesPerFault.toFixed(2)} pages per fault, exactly one page for ${pct(exactlyOne, faultsTotal)}, root cause top-1 ${pct(rankedRight, faultsTotal)}, ${totalFalse} false pages`);
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log(
  `goals (issue 14): pages per fault ≤ 1.2: ${pagesPerFault.toFixed(2)}, ${met(pagesPerFault <= 1.2)}; false pages 0 over ≥ 20 healthy fleet-hours: ${healthyFalse} over ${healthyHours.toFixed(1)} h, ${met(healthyFalse === 0 && healthyHours >= 20)}`,
);
console.log(
  `${(totalSpans / 1e6).toFixed(1)} M spans in ${((performance.now() - started) / 1000).toFixed(1)} s; the analyzer's part (everything but generating traffic) ${Math.round(totalSpans / (totalPipelineMs / 1000)).toLocaleString('en-US')} spans/s on one core`,
);
