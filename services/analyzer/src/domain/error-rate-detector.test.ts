import { describe, expect, it } from 'vitest';
import { binomialUpperTail } from '@hephaestus/schemas';
import { defaultErrorRateSettings, detectErrorRate, quietStreak, type Bucket } from './error-rate-detector.ts';

const bucket = (calls: number, errors: number, startMs = 0): Bucket => ({ startMs, calls, errors });
const healthy = Array.from({ length: 30 }, (_, i) => bucket(100, 1, i * 10_000));

describe('error-rate detector', () => {
  it('does not alarm on 1 error in 2 calls', () => {
    const verdict = detectErrorRate(bucket(2, 1), healthy);
    expect(verdict.anomalous).toBe(false);
    expect(verdict.score).toBe(0);
    expect(verdict.explanation).toContain('too few');
  });

  it('alarms on 200 errors in 1,000 calls against a 1 % baseline', () => {
    const verdict = detectErrorRate(bucket(1000, 200), healthy);
    expect(verdict.anomalous).toBe(true);
    expect(verdict.score).toBeGreaterThan(0.999);
    expect(verdict.baseline).toBeCloseTo(0.01, 5);
    expect(verdict.explanation).toBe('error rate 20 % (200 of 1000 calls) vs usual 1.0 %');
  });

  it('leaves a burst out of the baseline: its second interval is judged against the usual rate, not the first interval', () => {
    // A short history (the demo's first minute): three healthy intervals, then 80 % errors.
    const history = [bucket(100, 1), bucket(100, 1), bucket(100, 1), bucket(100, 80)];
    const second = detectErrorRate(bucket(100, 82), history);
    expect(second.baseline).toBeCloseTo(0.01, 5);
    expect(second.explanation).toBe('error rate 82 % (82 of 100 calls) vs usual 1.0 %');
    // A level that lasts past half the history is the usual one.
    const lasting = [bucket(100, 1), bucket(100, 1), ...Array.from({ length: 5 }, () => bucket(100, 30))];
    expect(detectErrorRate(bucket(100, 30), lasting).baseline).toBeGreaterThan(0.2);
  });

  it('does not alarm when the rate is within the service\'s usual noise', () => {
    const noisy = Array.from({ length: 30 }, () => bucket(100, 20));
    expect(detectErrorRate(bucket(100, 24), noisy).anomalous).toBe(false);
  });

  it('needs the effect size as well as significance', () => {
    // 8 % vs 1 %: significant on 1,000 calls, but below the 10-point minimum increase.
    const verdict = detectErrorRate(bucket(1000, 80), healthy);
    expect(verdict.score).toBeGreaterThan(0.999);
    expect(verdict.anomalous).toBe(false);
  });

  it('uses the baseline floor for a service that never failed', () => {
    const clean = Array.from({ length: 10 }, () => bucket(50, 0));
    expect(detectErrorRate(bucket(50, 25), clean)).toMatchObject({ anomalous: true, baseline: defaultErrorRateSettings.baselineFloor });
  });

  it('computes the binomial upper tail', () => {
    expect(binomialUpperTail(10, 0, 0.5)).toBe(1);
    expect(binomialUpperTail(2, 2, 0.5)).toBeCloseTo(0.25, 10);
    expect(binomialUpperTail(10, 1, 0.5)).toBeCloseTo(1 - 1 / 1024, 6);
  });

  it('counts the quiet streak from the end, skipping intervals without calls', () => {
    const series = [bucket(50, 25), bucket(50, 0), bucket(0, 0), bucket(40, 1)];
    expect(quietStreak(series, 0.01)).toBe(2);
    expect(quietStreak([...series, bucket(50, 30)], 0.01)).toBe(0);
  });
});
