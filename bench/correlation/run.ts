// `npm run bench:correlation`: generated fleets with known faults, run through the analyzer's real
// domain code (rollup → error-rate detection per 10 s interval, topology, error signatures, grouping,
// root-cause ranking; one page per group) and scored: pages per fault, root-cause top-1 accuracy,
// false pages, and the time from the first bad span to the page. BENCH_SEEDS runs per scenario (30);
// BENCH_DEBUG=1 prints each page that missed its fault or named the wrong cause.
import { detectErrorRate, defaultErrorRateSettings, type Bucket } from '../../services/analyzer/src/domain/error-rate-detector.ts';
import { maxExemplars, rollupSpans } from '../../services/analyzer/src/domain/rollup.ts';
import { createExemplarStore } from '../../services/analyzer/src/domain/correlation/exemplars.ts';
import { closeQuietGroups, correlateBatch, defaultGroupingSettings, rankRootCauses, shouldPage, type Group, type GroupingSettings, type Signal } from '../../services/analyzer/src/domain/correlation/grouping.ts';
import { createSurgeTracker, createTemplateMiner } from '../../services/analyzer/src/domain/correlation/signatures.ts';
import { createTopology } from '../../services/analyzer/src/domain/correlation/topology.ts';
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

const resolutionSeconds = 10;
const resolutionMs = resolutionSeconds * 1000;
const graceMs = 2_000;
const epochMs = 1_750_000_000_000;
/** Intervals before any fault: the detectors' baselines and the signature warm-up fill in. */
const faultBucket = 45;
/** Intervals of history a service needs before it is judged (the analyzer replays stored history at start). */
const warmupBuckets = 10;
const grouping: GroupingSettings = { ...defaultGroupingSettings, windowMs: 60_000, quietMs: 300_000, maxHops: 2 };
const quietBuckets = grouping.quietMs / resolutionMs;
const seeds = Number(process.env.BENCH_SEEDS ?? 30);

type Scenario = {
  name: string;
  buckets: number;
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
    buckets: faultBucket + 12 + quietBuckets + 5,
    setup: cascade(resolutionMs),
  },
  {
    name: 'cascade: outage → 3+ callers, same-interval onsets',
    buckets: faultBucket + 12 + quietBuckets + 5,
    setup: cascade(0),
  },
  {
    name: 'two independent faults at once',
    buckets: faultBucket + 12 + quietBuckets + 5,
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
    buckets: faultBucket + 30 + quietBuckets + 5,
    setup: (random, startMs) => {
      const fleet = mergeFleets(random.chance(0.5) ? shopFleet() : layeredFleet(random), agentFleet());
      const root = random.pick([...fleet.services.keys()]);
      return { fleet, faults: [createFault(random, fleet, { id: 'flap', root, startMs, durationMs: 30 * resolutionMs, staggerMs: 0, flapping: true, messageIndex: random.int(0, faultMessageCount - 1) })] };
    },
  },
  {
    name: 'noisy healthy fleet (1–3 % errors, 20 min)',
    buckets: faultBucket + 120,
    setup: (random) => ({ fleet: mergeFleets(random.chance(0.5) ? shopFleet() : layeredFleet(random), agentFleet()), faults: [] }),
  },
];

type Page = { group: Group; timeMs: number; top: string | undefined; topWithoutTraces: string | undefined; topAtClose?: string };

type RunResult = { faults: Fault[]; pages: Page[]; spans: number; unpaged: number; pipelineMs: number };

/** One scenario run: the generator feeds the analyzer's domain code interval by interval, as the analyzer would. */
const runOnce = (scenario: Scenario, seed: number): RunResult => {
  const random = createRandom(seed);
  const faultStartMs = epochMs + faultBucket * resolutionMs + random.uniform(0, resolutionMs);
  const { fleet, faults } = scenario.setup(random, faultStartMs);
  const world = createWorld(random, fleet, faults, resolutionMs);

  const topology = createTopology({ maxPending: 50_000, windowMs: 5 * 60_000 });
  const exemplars = createExemplarStore();
  const miner = createTemplateMiner();
  const surges = createSurgeTracker({ resolutionMs });
  const templates = new Map<string, string>();
  const series = new Map<string, Map<number, Bucket & { errorTraceIds: string[] }>>();
  let groups: Group[] = [];
  const pages = new Map<string, Page>();
  let inFlight: Delivered[] = [];
  let spanCount = 0;
  let unpaged = 0;
  let pipelineMs = 0;

  const rank = (group: Group, withTraces: boolean) => {
    const traces = withTraces ? group.traceIds.map((id) => exemplars.trace(id)).filter((t) => t !== undefined) : undefined;
    return rankRootCauses(group, topology, traces)[0]?.service;
  };

  for (let b = 0; b < scenario.buckets; b++) {
    const bucketStartMs = epochMs + b * resolutionMs;
    const jitter = new Map([...fleet.services.keys()].map((s) => [s, random.uniform(0.5, 1.5)]));
    inFlight.push(...generateInterval(world, bucketStartMs, 1 + 0.25 * Math.sin((2 * Math.PI * b) / 90), jitter));

    // consume: what has reached the log when the interval is judged, batch by batch in no set order.
    const nowMs = bucketStartMs + resolutionMs + graceMs;
    const arrived = inFlight.filter((d) => d.arrivalMs <= nowMs);
    inFlight = inFlight.filter((d) => d.arrivalMs > nowMs);
    const batches = new Map<string, Delivered[]>();
    for (const d of arrived) {
      const batch = batches.get(d.span.service);
      if (batch) batch.push(d);
      else batches.set(d.span.service, [d]);
    }
    const spans = random.shuffle([...batches.values()]).flatMap((batch) => batch.map((d) => d.span));
    spanCount += spans.length;
    const pipelineStart = performance.now();
    for (const span of spans) {
      topology.observe(span);
      exemplars.observe(span);
      if (span.status !== 'error' || !span.statusMessage) continue;
      const mined = miner.add(span.statusMessage);
      templates.set(mined.signatureId, mined.template);
      if (mined.replaces) surges.rename(mined.replaces, mined.signatureId);
      surges.add(span.service, mined.signatureId, span.startTimeMs + span.durationMs);
    }

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

    // detect: every service's interval that just closed, against its stored history; a signal names
    // the interval's exemplar traces (the rollup's trace ids of failing calls).
    const signals: Signal[] = [];
    const exemplarsOf = (service: string) => series.get(service)?.get(bucketStartMs)?.errorTraceIds ?? [];
    for (const [service, buckets] of series) {
      const current = buckets.get(bucketStartMs);
      const from = bucketStartMs - defaultErrorRateSettings.baselineBuckets * resolutionMs;
      for (const start of buckets.keys()) if (start < from) buckets.delete(start);
      if (!current) continue;
      const history = [...buckets.values()].filter((x) => x.startMs < bucketStartMs).sort((x, y) => x.startMs - y.startMs);
      if (history.length < warmupBuckets) continue;
      const verdict = detectErrorRate(current, history);
      if (verdict.anomalous) signals.push({ service, signal: 'error_rate', onsetMs: bucketStartMs, value: verdict.value, summary: verdict.explanation, traceIds: exemplarsOf(service) });
    }
    for (const s of surges.close(bucketStartMs)) {
      signals.push({ service: s.service, signal: `error_signature.${s.kind}`, onsetMs: s.bucketStartMs, value: s.count, summary: `${s.summary}: ${templates.get(s.signatureId)}`, signature: s.signatureId, traceIds: exemplarsOf(s.service) });
    }

    // correlate, then page each group once, as soon as it is worth a page.
    groups = correlateBatch(signals, groups, topology, grouping).groups;
    for (const group of groups) {
      const page = pages.get(group.id);
      if (page) page.group = group;
      else if (shouldPage(group, grouping)) pages.set(group.id, { group, timeMs: nowMs, top: rank(group, true), topWithoutTraces: rank(group, false) });
    }
    const { open, closed } = closeQuietGroups(groups, bucketStartMs, grouping);
    for (const group of closed) {
      const page = pages.get(group.id);
      if (page) page.topAtClose = rank(group, true);
      else unpaged++;
    }
    groups = open;
    pipelineMs += performance.now() - pipelineStart;
  }
  for (const group of groups) {
    const page = pages.get(group.id);
    if (page) page.topAtClose = rank(group, true);
    else unpaged++;
  }
  return { faults, pages: [...pages.values()], spans: spanCount, unpaged, pipelineMs };
};

/** The faults a page is about: those with a signal from a service they affect, raised while they were on. */
const faultsOf = (page: Page, faults: Fault[]) =>
  faults.filter((f) => page.group.signals.some((s) => f.affected.has(s.service) && s.onsetMs >= f.startMs - resolutionMs && s.onsetMs <= f.endMs + resolutionMs));

const quantile = (values: number[], q: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)} %`);
const sec = (ms: number) => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);

console.log(`bench:correlation: ${seeds} seeded runs per scenario, ${resolutionSeconds} s intervals, grace ${graceMs / 1000} s, group window ${grouping.windowMs / 1000} s, quiet ${grouping.quietMs / 1000} s, ≤ ${grouping.maxHops} hops`);
console.log('real domain code: rollupSpans + detectErrorRate per interval, topology, template miner + surges, exemplars, correlate, rankRootCauses\n');

const started = performance.now();
let totalSpans = 0;
let totalPipelineMs = 0;
let totalFalse = 0;
let faultsTotal = 0;
let rankedRight = 0;
let exactlyOne = 0;
for (const [index, scenario] of scenarios.entries()) {
  const t0 = performance.now();
  const perFault: number[] = [];
  let merged = 0;
  let falsePages = 0;
  let top = 0;
  let topNoTraces = 0;
  let topClose = 0;
  const delays: number[] = [];
  let faultCount = 0;
  let unpaged = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const result = runOnce(scenario, seed * 1_000 + index);
    totalSpans += result.spans;
    totalPipelineMs += result.pipelineMs;
    unpaged += result.unpaged;
    for (const page of result.pages) {
      const about = faultsOf(page, result.faults);
      if (about.length === 0) falsePages++;
      if (about.length === 0 && process.env.BENCH_DEBUG) console.log('false page', JSON.stringify(page.group.signals.map((s) => [s.service, s.signal, (s.onsetMs - epochMs) / resolutionMs, s.summary])));
      if (about.length > 1) merged++;
    }
    for (const fault of result.faults) {
      faultCount++;
      const mine = result.pages.filter((p) => faultsOf(p, result.faults).includes(fault)).sort((a, b) => a.timeMs - b.timeMs);
      perFault.push(mine.length);
      const first = mine[0];
      if (process.env.BENCH_DEBUG && (mine.length !== 1 || first?.top !== fault.root)) {
        console.log(`fault ${fault.id} root ${fault.root} from ${((fault.startMs - epochMs) / resolutionMs).toFixed(1)} affected ${[...fault.affected].join(',')}`);
        for (const p of mine) console.log('  page', (p.timeMs - epochMs) / resolutionMs, p.top, JSON.stringify(p.group.signals.map((s) => [s.service, s.signal, (s.onsetMs - epochMs) / resolutionMs])));
      }
      if (!first) continue;
      if (first.top === fault.root) top++;
      if (first.topWithoutTraces === fault.root) topNoTraces++;
      if (first.topAtClose === fault.root) topClose++;
      delays.push(first.timeMs - (fault.firstBadSpanMs ?? fault.startMs));
    }
  }
  totalFalse += falsePages;
  faultsTotal += faultCount;
  rankedRight += top;
  exactlyOne += perFault.filter((n) => n === 1).length;
  console.log(`${scenario.name}`);
  if (faultCount > 0) {
    const mean = perFault.reduce((a, b) => a + b, 0) / perFault.length;
    console.log(
      `  pages per fault ${mean.toFixed(2)} (exactly 1: ${pct(perFault.filter((n) => n === 1).length, faultCount)}, missed ${perFault.filter((n) => n === 0).length}, more than 1: ${perFault.filter((n) => n > 1).length}, pages covering two faults: ${merged})`,
    );
    console.log(`  root cause top-1 at the page ${pct(top, faultCount)} (topology + onsets only: ${pct(topNoTraces, faultCount)}; when the group closed: ${pct(topClose, faultCount)})`);
    console.log(`  first bad span → page: p50 ${sec(quantile(delays, 0.5))}, p95 ${sec(quantile(delays, 0.95))}, max ${sec(Math.max(...delays))}`);
  }
  console.log(`  false pages ${falsePages}, groups that never paged ${unpaged}, in ${seeds} runs (${((scenario.buckets * resolutionSeconds * seeds) / 3600).toFixed(1)} fleet-hours)   [${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
}
console.log(
  `overall: ${faultsTotal} faults, exactly one page for ${pct(exactlyOne, faultsTotal)}, root cause top-1 ${pct(rankedRight, faultsTotal)}, ${totalFalse} false pages`,
);
console.log(
  `${(totalSpans / 1e6).toFixed(1)} M spans in ${((performance.now() - started) / 1000).toFixed(1)} s; the analyzer's part (everything but generating traffic) ${Math.round(totalSpans / (totalPipelineMs / 1000)).toLocaleString('en-US')} spans/s on one core`,
);
