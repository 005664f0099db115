import { describe, expect, it } from 'vitest';
import { createRobustDetector, medianAbsoluteDeviation } from './robust-zscore.ts';
import { alarms, feed, gaussian, maxScore, noisy, random } from './test-series.ts';

describe('robust median/MAD detector', () => {
  it('computes the median absolute deviation of a sorted window', () => {
    const sorted = new Float64Array([1, 1, 2, 2, 4, 6, 9]);
    // median 2; deviations 1 1 0 0 2 4 7 -> median 1.
    expect(medianAbsoluteDeviation(sorted, 7, 2)).toBe(1);
    const even = new Float64Array([1, 2, 3, 4]);
    // median 2.5; deviations 1.5 0.5 0.5 1.5 -> 1.
    expect(medianAbsoluteDeviation(even, 4, 2.5)).toBe(1);
  });

  it('stays quiet on a noisy flat series', () => {
    expect(alarms(feed(createRobustDetector(), noisy(3000, 100, 5)))).toBe(0);
  });

  it('flags a spike, and a burst of spikes does not teach it that spikes are normal', () => {
    const values = noisy(1000, 100, 2);
    for (const i of [700, 705, 710, 715]) values[i] = 160;
    const verdicts = feed(createRobustDetector(), values);
    expect(verdicts[700]!.anomalous).toBe(true);
    expect(verdicts[715]!.score).toBeGreaterThan(0.45);
    expect(verdicts[715]!.explanation).toMatch(/^value 160 vs usual (99|100)(\.\d+)? ± \d/);
  });

  it('matches a from-scratch median over the window', () => {
    const values = noisy(200, 0, 1, 7);
    const d = createRobustDetector({ windowPoints: 9, warmupPoints: 0 });
    values.forEach((v, i) => {
      const verdict = d.update(i, v);
      if (i < 9) return;
      const window = values.slice(i - 9, i).sort((a, b) => a - b);
      expect(verdict.usual).toBeCloseTo(window[4]!, 12);
    });
  });

  it('is not infinitely sensitive in a window gone nearly flat: a share of the longer-run spread joins the scale', () => {
    // A noisy series (± 5) whose reading all but sticks for 70 points (± 0.01), then moves by 1.
    const g = gaussian(5);
    const values = [...noisy(1000, 100, 5), ...Array.from({ length: 70 }, () => 100 + 0.01 * g()), 101];
    expect(alarms(feed(createRobustDetector(), values))).toBe(0);
    // Without the share the scale is about 0.1 % of the median, and that 1 is nine of it.
    expect(feed(createRobustDetector({ overallSpreadShare: 0 }), values)[1070]!.anomalous).toBe(true);
    // A real move off the stuck reading still alarms.
    expect(feed(createRobustDetector(), [...values.slice(0, 1070), 130])[1070]!.anomalous).toBe(true);
  });

  it('judges a window mostly of one value (a count that is 0 most of the time) by its mean absolute deviation', () => {
    const u = random(2);
    const counts = Array.from({ length: 20_000 }, () => (u() < 0.3 ? (u() < 0.2 ? 2 : 1) : 0));
    expect(alarms(feed(createRobustDetector(), counts))).toBe(0);
    expect(feed(createRobustDetector(), [...counts, 8])[20_000]!.anomalous).toBe(true);
  });

  it('does not alarm while it learns', () => {
    expect(maxScore(feed(createRobustDetector(), [...noisy(150, 0, 1), 1e6, ...noisy(150, 0, 1)]))).toBe(0);
  });
});
