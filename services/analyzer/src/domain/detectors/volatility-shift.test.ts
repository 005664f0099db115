import { describe, expect, it } from 'vitest';
import { alarms, feed, maxScore, noisy } from './test-series.ts';
import { createVolatilityDetector } from './volatility-shift.ts';

describe('volatility-shift detector', () => {
  it('flags a series that goes flat (a stuck sensor)', () => {
    const values = [...noisy(2000, 50, 10), ...new Array<number>(200).fill(50)];
    const verdicts = feed(createVolatilityDetector(), values);
    expect(alarms(verdicts, 0, 2000)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 2000 && v.anomalous);
    expect(first).toBeGreaterThan(2000);
    expect(first).toBeLessThan(2150);
    expect(verdicts[first]!.explanation).toMatch(/recent spread ± [\d.]+$|recent spread ± [\d.]+, \d+ interval/);
  });

  it('flags a series that starts to thrash', () => {
    const verdicts = feed(createVolatilityDetector(), [...noisy(2000, 50, 2), ...noisy(200, 50, 20, 5)]);
    expect(alarms(verdicts, 2000, 2100)).toBeGreaterThan(0);
  });

  it('stays quiet on a noisy flat series and while learning', () => {
    const verdicts = feed(createVolatilityDetector(), noisy(4000, 50, 10));
    expect(alarms(verdicts)).toBe(0);
    expect(maxScore(verdicts, 0, 500)).toBe(0);
  });
});
