import { describe, expect, it } from 'vitest';
import { combineDetectors } from './combined.ts';
import type { Detector } from './detector.ts';
import { createDefaultDetector, createDetector, defaultMembers, detectorNames } from './index.ts';
import { createSeasonalDetector, dayMs, weekMs } from './seasonal-baseline.ts';
import { createRangeDetector } from './range.ts';
import { alarms, feed, maxScore, noisy, random, startMs } from './test-series.ts';

/** Alarm episodes: runs of anomalous points. */
const episodes = (create: () => Detector, values: readonly number[], stepMs: number) =>
  feed(create(), values, stepMs).filter((v, i, all) => v.anomalous && !all[i - 1]?.anomalous).length;

describe('the default combined detector', () => {
  it('stays quiet on a noisy flat series', () => {
    expect(alarms(feed(createDefaultDetector(), noisy(4000, 100, 5)))).toBe(0);
  });

  it('flags a spike, a level shift and a flatline, each explained by the detector that saw it', () => {
    const values = [...noisy(2000, 100, 5), 180, ...noisy(499, 100, 5, 2), ...noisy(500, 108, 5, 3), ...new Array<number>(200).fill(108)];
    const verdicts = feed(createDefaultDetector({ common: { label: 'queue depth' } }), values);
    expect(alarms(verdicts, 0, 2000)).toBe(0);
    expect(verdicts[2000]!.anomalous).toBe(true);
    expect(verdicts[2000]!.explanation).toMatch(/^queue depth 180 vs usual/);
    expect(alarms(verdicts, 2500, 2600)).toBeGreaterThan(0);
    expect(alarms(verdicts, 3000, 3100)).toBeGreaterThan(0);
  });

  it('does not alarm while learning', () => {
    const values = [...noisy(60, 0, 1), 1e6, -1e6, ...noisy(30, 0, 1)];
    expect(maxScore(feed(createDefaultDetector(), values))).toBe(0);
  });

  it('resumes from a structured clone of its state', () => {
    const values = noisy(3000, 10, 1);
    values[2500] = 30;
    const whole = feed(createDefaultDetector(), values).map((v) => v.score);
    const first = createDefaultDetector();
    feed(first, values.slice(0, 1200));
    const resumed = createDefaultDetector({}, structuredClone(first.state));
    const rest = values.slice(1200).map((v, i) => resumed.update(startMs + (1200 + i) * 60_000, v).score);
    expect(rest).toEqual(whole.slice(1200));
  });

  it('raises fewer alarm episodes on healthy series than the set before 2026-12-04 (shape, seasonal learning at 0.1, the week trusted after two, no guard on range)', () => {
    expect(defaultMembers).toEqual(['range', 'ewma', 'cusum', 'volatility', 'seasonal', 'robust']);
    const before = () =>
      combineDetectors([
        createRangeDetector({ minBeyondSd: 0 }),
        ...defaultMembers.slice(1, 4).map((n) => createDetector(n)),
        createSeasonalDetector({ learningRate: 0.1, cycles: [{ periodMs: dayMs, bins: 24 }, { periodMs: weekMs, bins: 168 }] }),
        createDetector('shape'),
      ]);
    const daily = noisy(3 * 8640, 0, 3, 1).map((e, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 8640) + e);
    const count = noisy(20_000, 3, Math.sqrt(3), 4).map((v) => Math.max(0, Math.round(v)));
    // Errors per interval: mostly 0, now and then 1, rarely 2.
    const u = random(5);
    const errors = Array.from({ length: 20_000 }, () => (u() < 0.02 ? (u() < 0.2 ? 2 : 1) : 0));
    let now = 0;
    let then = 0;
    for (const [values, stepMs] of [
      [daily, 10_000],
      [noisy(20_000, 100, 5, 3), 60_000],
      [count, 60_000],
      [errors, 10_000],
    ] as const) {
      const a = episodes(() => createDefaultDetector(), values, stepMs);
      const b = episodes(before, values, stepMs);
      expect(a).toBeLessThanOrEqual(b);
      now += a;
      then += b;
    }
    expect(now).toBeLessThan(then);
  });

  it('creates every detector by name', () => {
    for (const name of detectorNames) expect(createDetector(name).update(0, 1).score).toBe(0);
  });
});
