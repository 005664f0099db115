// Multiwindow, multi-burn-rate alerts on a service's objectives (the Google SRE workbook, "Alerting on
// SLOs"): a rule fires while the error budget burns at least its factor over its long AND its short window.
import type { DDSketch } from '@datadog/sketches-js';
import type { BurnRateRule, Objective, ObjectiveAlerting, SignalExplanation } from '@hephaestus/schemas';

/** One bucket of an objective's events: `bad` of `total` calls failed it (an error, or slower than the threshold). */
export type EventBucket = { startMs: number; total: number; bad: number };

/** The number of values the sketch holds above `threshold`, within its relative accuracy (1 % as rollups keep it). */
export const countAbove = (sketch: DDSketch, threshold: number): number => {
  const { bins, offset } = sketch.store;
  let above = 0;
  for (let i = 0; i < bins.length; i++) {
    const count = bins[i] ?? 0;
    if (count > 0 && sketch.mapping.value(i + offset) > threshold) above += count;
  }
  return above;
};

/**
 * An objective's events in one rollup bucket. Latency counts what the sketch holds, which is fewer
 * than `calls` when a stored sketch could not be read: both sides of the ratio come from one source.
 */
export const eventsOf = (objective: Objective, rollup: { calls: number; errors: number; sketch?: DDSketch }): { total: number; bad: number } => {
  if (objective.kind === 'availability') return { total: rollup.calls, bad: Math.min(rollup.errors, rollup.calls) };
  if (!rollup.sketch) return { total: 0, bad: 0 };
  const total = rollup.sketch.count;
  return { total, bad: Math.min(countAbove(rollup.sketch, objective.thresholdMs), total) };
};

/** How far back the buckets must reach for every rule of `alerting`. */
export const lookbackMs = (alerting: ObjectiveAlerting, resolutionSeconds: number): number =>
  Math.max(...alerting.rules.map((r) => r.longWindowBuckets)) * resolutionSeconds * 1000;

export type WindowBurn = { buckets: number; total: number; bad: number; ratio: number; burnRate: number };

export type RuleBurn = {
  rule: string;
  severity: BurnRateRule['severity'];
  long: WindowBurn;
  short: WindowBurn;
  /**
   * No verdict, so the rule neither fires nor clears: `too_few_calls` when the short window holds under
   * `minCalls` calls, `too_new` when the service's first calls are younger than the long window (the
   * long window is what makes the rule precise: judged on less, one bad bucket of a noisy new service
   * tickets it).
   */
  verdict: 'firing' | 'under' | 'too_few_calls' | 'too_new';
};

export type ObjectiveVerdict =
  | {
      firing: false;
      /**
       * No rule fires and at least one judged its windows and found them under its factor: an incident
       * opened on this objective may resolve. False while every rule lacks calls or history (a
       * service that stopped answering has not recovered); `burnRates` has each rule's verdict.
       */
      clear: boolean;
      burnRates: RuleBurn[];
    }
  | {
      firing: true;
      /** The first rule, in the configured order, that fires. */
      rule: BurnRateRule;
      severity: BurnRateRule['severity'];
      burnRateLong: number;
      burnRateShort: number;
      long: WindowBurn;
      short: WindowBurn;
      /** The error budget as a ratio of calls: 0.01 for a 99 % objective. */
      allowedRatio: number;
      summary: string;
      explanation: SignalExplanation;
      burnRates: RuleBurn[];
    };

const allowedRatioOf = (objective: Objective) => 1 - objective.targetPercent / 100;

// Burn rates equal to the factor on paper (14.4 % errors against a 1 % budget) must fire despite floating point.
const reaches = (burnRate: number, factor: number) => burnRate >= factor * (1 - 1e-9);

const windowBurn = (buckets: EventBucket[], fromMs: number, toMs: number, allowedRatio: number, windowBuckets: number): WindowBurn => {
  let total = 0;
  let bad = 0;
  for (const b of buckets) {
    if (b.startMs < fromMs || b.startMs >= toMs) continue;
    total += b.total;
    bad += b.bad;
  }
  const ratio = total > 0 ? bad / total : 0;
  return { buckets: windowBuckets, total, bad, ratio, burnRate: ratio / allowedRatio };
};

type Judged = { buckets: EventBucket[]; firstCallMs: number; allowedRatio: number; minCalls: number; resolutionMs: number; atMs: number };

const judgeRule = (rule: BurnRateRule, j: Judged): RuleBurn => {
  const longFromMs = j.atMs - rule.longWindowBuckets * j.resolutionMs;
  const long = windowBurn(j.buckets, longFromMs, j.atMs, j.allowedRatio, rule.longWindowBuckets);
  const short = windowBurn(j.buckets, j.atMs - rule.shortWindowBuckets * j.resolutionMs, j.atMs, j.allowedRatio, rule.shortWindowBuckets);
  const verdict =
    short.total < Math.max(j.minCalls, 1) ? 'too_few_calls'
    : j.firstCallMs > longFromMs ? 'too_new'
    : reaches(long.burnRate, rule.burnRate) && reaches(short.burnRate, rule.burnRate) ? 'firing'
    : 'under';
  return { rule: rule.name, severity: rule.severity, long, short, verdict };
};

// describe: the on-call engineer's line and the explanation the incident carries.

const grouped = (n: number) => n.toLocaleString('en-US');
const percent = (ratio: number) => {
  const p = ratio * 100;
  return `${Number(p.toFixed(p > 0 && p < 1 ? 2 : 1))} %`;
};
const duration = (seconds: number) =>
  seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : seconds >= 120 ? `${Number((seconds / 60).toFixed(1))} min` : `${seconds} s`;
const times = (burnRate: number) => `${Number(burnRate.toFixed(1))}×`;

const describeObjective = (objective: Objective) =>
  objective.kind === 'availability' ? `its ${objective.targetPercent} % objective` : `its ${objective.targetPercent} % under ${grouped(objective.thresholdMs)} ms objective`;

const describeBad = (objective: Objective, w: WindowBurn) =>
  objective.kind === 'availability'
    ? `${percent(w.ratio)} errors, ${grouped(w.bad)} of ${grouped(w.total)} calls`
    : `${percent(w.ratio)} slower than ${grouped(objective.thresholdMs)} ms, ${grouped(w.bad)} of ${grouped(w.total)} calls`;

const summaryOf = (objective: Objective, rule: BurnRateRule, long: WindowBurn, resolutionSeconds: number) =>
  `${objective.service} ${objective.kind} burning ${describeObjective(objective)} ${times(long.burnRate)} over ${duration(long.buckets * resolutionSeconds)} (${describeBad(objective, long)}), ${rule.name} burn`;

const explanationOf = (objective: Objective, rule: BurnRateRule, burn: RuleBurn, allowedRatio: number, resolutionSeconds: number): SignalExplanation => {
  const what = objective.kind === 'availability' ? 'failed' : `took over ${grouped(objective.thresholdMs)} ms`;
  const window = (w: WindowBurn) => `${grouped(w.bad)} of ${grouped(w.total)} calls ${what} over the last ${duration(w.buckets * resolutionSeconds)} (${times(w.burnRate)})`;
  return {
    detector: `burn_rate.${rule.name}`,
    baseline: allowedRatio,
    threshold: rule.burnRate,
    windowSeconds: rule.longWindowBuckets * resolutionSeconds,
    evidence: `${window(burn.long)}; ${window(burn.short)}; the ${objective.targetPercent} % objective allows ${percent(allowedRatio)}, this rule fires at ${times(rule.burnRate)} over both windows`,
  };
};

/**
 * Judges one objective at `atMs`, the end (exclusive) of the newest bucket judged: each rule's windows
 * are the buckets starting in the `longWindowBuckets` / `shortWindowBuckets` buckets before it.
 * Buckets may come in any order and with gaps (a bucket without calls need not be there); pass them
 * from `lookbackMs` before `atMs`, the service's first calls being the oldest bucket given.
 */
export const evaluateObjective = (objective: Objective, buckets: EventBucket[], at: { resolutionSeconds: number; atMs: number }): ObjectiveVerdict => {
  const allowedRatio = allowedRatioOf(objective);
  const resolutionMs = at.resolutionSeconds * 1000;
  const { rules, minCalls } = objective.alerting;
  const firstCallMs = buckets.reduce((first, b) => (b.total > 0 && b.startMs < first ? b.startMs : first), Infinity);
  const judged: Judged = { buckets, firstCallMs, allowedRatio, minCalls, resolutionMs, atMs: at.atMs };
  const burnRates = rules.map((rule) => judgeRule(rule, judged));
  const index = burnRates.findIndex((b) => b.verdict === 'firing');
  if (index < 0) return { firing: false, clear: burnRates.some((b) => b.verdict === 'under'), burnRates };
  const rule = rules[index]!;
  const burn = burnRates[index]!;
  return {
    firing: true,
    rule,
    severity: rule.severity,
    burnRateLong: burn.long.burnRate,
    burnRateShort: burn.short.burnRate,
    long: burn.long,
    short: burn.short,
    allowedRatio,
    summary: summaryOf(objective, rule, burn.long, at.resolutionSeconds),
    explanation: explanationOf(objective, rule, burn, allowedRatio, at.resolutionSeconds),
    burnRates,
  };
};
