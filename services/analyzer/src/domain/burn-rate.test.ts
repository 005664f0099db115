// Burn-rate alerts judged on generated traffic: bursts, seeded noise, slow burns and quiet services,
// at the resolutions the analyzer runs at (10 s by default, 5 s in the demo, 2 s in the e2e tests).
import { DDSketch } from '@datadog/sketches-js';
import { describe, expect, it } from 'vitest';
import { defaultObjectives, objectivesFor, signalExplanation, type Objective } from '@hephaestus/schemas';
import { countAbove, evaluateObjective, eventsOf, lookbackMs, type EventBucket, type ObjectiveVerdict } from './burn-rate.ts';

const withLatency = { ...defaultObjectives, defaults: { ...defaultObjectives.defaults, latency: { targetPercent: 99, thresholdMs: 2000 } } };
const [availability, latency] = objectivesFor(withLatency, 'checkout') as [Objective, Objective];
const resolutions = [10, 5, 2];

/** mulberry32: seeded, so a failing run can be replayed. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/** Judges each bucket as it closes, as the analyzer does: the verdict after bucket i sees buckets 0..i. */
const replay = (objective: Objective, series: Array<{ total: number; bad: number }>, resolutionSeconds: number): ObjectiveVerdict[] => {
  const resolutionMs = resolutionSeconds * 1000;
  const startMs = Date.parse('2026-11-25T10:00:00Z');
  const window = lookbackMs(objective.alerting, resolutionSeconds) / resolutionMs;
  const buckets: EventBucket[] = series.map((b, i) => ({ startMs: startMs + i * resolutionMs, ...b }));
  return buckets.map((_, i) => evaluateObjective(objective, buckets.slice(Math.max(0, i + 1 - window), i + 1), { resolutionSeconds, atMs: startMs + (i + 1) * resolutionMs }));
};

const firedRules = (verdicts: ObjectiveVerdict[]) => new Set(verdicts.flatMap((v) => (v.firing ? [v.rule.name] : [])));

/** `count` buckets of `calls` calls each failing with probability `errorRatio` (a fixed number or drawn per bucket). */
const traffic = (random: () => number, count: number, calls: () => number, errorRatio: () => number) =>
  Array.from({ length: count }, () => {
    const total = calls();
    const p = errorRatio();
    let bad = 0;
    for (let c = 0; c < total; c++) if (random() < p) bad++;
    return { total, bad };
  });

const exactly = (count: number, total: number, bad: number) => Array.from({ length: count }, () => ({ total, bad }));

describe('burn-rate alerts', () => {
  it.each(resolutions)('pages the fast burn on the second bucket of a burst of 60 in 100 calls failing, not on the first, at %i s', (resolutionSeconds) => {
    const random = seeded(resolutionSeconds);
    const healthy = traffic(random, 100, () => 25, () => 0.01 + 0.02 * random());
    const verdicts = replay(availability, [...healthy, ...exactly(3, 25, 15)], resolutionSeconds);
    expect(verdicts.slice(0, 101).some((v) => v.firing)).toBe(false);
    const second = verdicts[101]!;
    expect(second).toMatchObject({ firing: true, severity: 'critical', rule: { name: 'fast' } });
    if (!second.firing) return;
    expect(second.burnRateLong).toBeGreaterThanOrEqual(14.4);
    expect(second.burnRateShort).toBeCloseTo(60);
    expect(second.explanation.windowSeconds).toBe(6 * resolutionSeconds);
  });

  it.each(resolutions)('never fires on 1 to 3 in 100 calls failing over 5,000 buckets of 20 to 100 calls at %i s', (resolutionSeconds) => {
    const random = seeded(1000 + resolutionSeconds);
    const series = traffic(random, 5000, () => 20 + Math.floor(random() * 81), () => 0.01 + 0.02 * random());
    expect(firedRules(replay(availability, series, resolutionSeconds))).toEqual(new Set());
  });

  it('tickets a sustained 3 % of errors with the slow rule, never paging the fast or medium one', () => {
    const random = seeded(3);
    const series = [...traffic(random, 500, () => 50, () => 0.01), ...traffic(random, 1000, () => 50, () => 0.03)];
    const verdicts = replay(availability, series, 10);
    expect(firedRules(verdicts)).toEqual(new Set(['slow']));
    const ticket = verdicts.findLast((v) => v.firing);
    expect(ticket).toMatchObject({ severity: 'warning', explanation: { detector: 'burn_rate.slow', threshold: 2.5, windowSeconds: 4320 } });
  });

  it('pages the medium rule on a sustained 10 % of errors the fast rule lets through', () => {
    const verdicts = replay(availability, [...exactly(100, 50, 0), ...exactly(40, 50, 5)], 10);
    expect(firedRules(verdicts)).toEqual(new Set(['medium']));
    expect(verdicts.at(-1)).toMatchObject({ firing: true, severity: 'critical', rule: { name: 'medium' } });
  });

  it('gives a rule no verdict while its short window holds fewer calls than minCalls, however bad they are', () => {
    const verdicts = replay(availability, [...exactly(450, 2, 0), ...exactly(4, 2, 2)], 5);
    expect(firedRules(verdicts)).toEqual(new Set());
    const last = verdicts.at(-1)!;
    expect(last).toMatchObject({ firing: false, clear: true });
    if (!last.firing) expect(last.burnRates.map((b) => b.verdict)).toEqual(['too_few_calls', 'too_few_calls', 'under']);
  });

  it('judges a rule only once the service is older than its long window', () => {
    const verdicts = replay(availability, exactly(6, 100, 60), 10);
    expect(verdicts.slice(0, 5).some((v) => v.firing)).toBe(false);
    const sixth = verdicts[5]!;
    expect(sixth).toMatchObject({ firing: true, rule: { name: 'fast' } });
    expect(sixth.burnRates.map((b) => b.verdict)).toEqual(['firing', 'too_new', 'too_new']);
  });

  it('withholds the all-clear while no rule has the calls to judge: a service that stopped answering has not recovered', () => {
    const verdicts = replay(availability, [...exactly(500, 40, 0), ...exactly(3, 40, 30), ...exactly(40, 0, 0)], 10);
    expect(verdicts[502]!.firing).toBe(true);
    expect(verdicts.at(-1)).toMatchObject({ firing: false, clear: false });
  });

  it('clears once the short windows are back under their factors, while the fast long window still remembers the burst', () => {
    const verdicts = replay(availability, [...exactly(100, 40, 0), ...exactly(3, 40, 30), ...exactly(3, 40, 0)], 2);
    expect(verdicts[102]).toMatchObject({ firing: true, rule: { name: 'fast' } });
    expect(verdicts[103]).toMatchObject({ firing: true, rule: { name: 'medium' } });
    const after = verdicts[105]!;
    expect(after).toMatchObject({ firing: false, clear: true });
    const fast = after.burnRates.find((b) => b.rule === 'fast')!;
    expect(fast.long.burnRate).toBeGreaterThan(14.4);
    expect(fast.short.burnRate).toBe(0);
  });

  it('says what burns, how fast, over what and why, in a summary and a signal explanation', () => {
    const buckets = [...Array.from({ length: 5 }, (_, i) => ({ startMs: i * 10_000, total: 470, bad: 70 })), { startMs: 50_000, total: 50, bad: 10 }];
    const verdict = evaluateObjective(availability, buckets, { resolutionSeconds: 10, atMs: 60_000 });
    expect(verdict.firing).toBe(true);
    if (!verdict.firing) return;
    expect(verdict.summary).toBe('checkout availability burning its 99 % objective 15× over 1 min (15 % errors, 360 of 2,400 calls), fast burn');
    expect(signalExplanation.parse(verdict.explanation)).toEqual({
      detector: 'burn_rate.fast',
      baseline: expect.closeTo(0.01, 10),
      threshold: 14.4,
      windowSeconds: 60,
      evidence: '360 of 2,400 calls failed over the last 1 min (15×); 10 of 50 calls failed over the last 10 s (20×); the 99 % objective allows 1 %, this rule fires at 14.4× over both windows',
    });
  });

  it('pages a latency objective on the calls slower than its threshold', () => {
    const slow = exactly(6, 100, 30);
    const verdict = evaluateObjective(latency, slow.map((b, i) => ({ startMs: i * 5000, ...b })), { resolutionSeconds: 5, atMs: 30_000 });
    expect(verdict).toMatchObject({ firing: true, rule: { name: 'fast' }, summary: 'checkout latency burning its 99 % under 2,000 ms objective 30× over 30 s (30 % slower than 2,000 ms, 180 of 600 calls), fast burn' });
  });

  it('counts the calls a sketch holds above the threshold, within its accuracy', () => {
    const sketch = new DDSketch({ relativeAccuracy: 0.01 });
    for (let ms = 1; ms <= 4000; ms++) sketch.accept(ms);
    expect(countAbove(sketch, 2000)).toBeGreaterThanOrEqual(1980);
    expect(countAbove(sketch, 2000)).toBeLessThanOrEqual(2020);
    expect(countAbove(sketch, 5000)).toBe(0);
    expect(eventsOf(latency, { calls: 4000, errors: 7, sketch })).toEqual({ total: 4000, bad: countAbove(sketch, 2000) });
    expect(eventsOf(availability, { calls: 4000, errors: 7, sketch })).toEqual({ total: 4000, bad: 7 });
    expect(eventsOf(latency, { calls: 4000, errors: 7 })).toEqual({ total: 0, bad: 0 });
  });
});
