import { describe, expect, it } from 'vitest';
import { createCusumDetector } from './cusum.ts';
import { createEwmaDetector } from './ewma-zscore.ts';
import { alarms, feed, maxScore, noisy } from './test-series.ts';

describe('CUSUM level-shift detector', () => {
  it('catches a sustained shift of two standard deviations that no single point gives away', () => {
    const values = [...noisy(1500, 100, 5), ...noisy(300, 110, 5, 2)];
    const verdicts = feed(createCusumDetector(), values);
    expect(alarms(verdicts, 0, 1500)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 1500 && v.anomalous);
    expect(first).toBeGreaterThan(1500);
    expect(first).toBeLessThan(1560);
    expect(verdicts[first]!.explanation).toMatch(/sustained rise of \d+ σ accumulated/);
    // The same shift is invisible point by point.
    expect(alarms(feed(createEwmaDetector(), values), 1500)).toBe(0);
  });

  it('catches a drop as well as a rise', () => {
    const verdicts = feed(createCusumDetector(), [...noisy(1500, 100, 5), ...noisy(300, 90, 5, 3)]);
    const first = verdicts.findIndex((v, i) => i >= 1500 && v.anomalous);
    expect(first).toBeGreaterThan(1500);
    expect(verdicts[first]!.explanation).toMatch(/sustained drop/);
  });

  it('stays quiet on a noisy flat series and while learning', () => {
    const verdicts = feed(createCusumDetector(), noisy(4000, 100, 5));
    expect(alarms(verdicts)).toBe(0);
    expect(maxScore(verdicts, 0, 500)).toBe(0);
  });
});
