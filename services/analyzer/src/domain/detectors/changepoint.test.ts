import { describe, expect, it } from 'vitest';
import { createChangepointDetector } from './changepoint.ts';
import { alarms, feed, maxScore, noisy, startMs } from './test-series.ts';

describe('Bayesian online changepoint detector', () => {
  it('stays quiet on a noisy flat series and while learning', () => {
    const verdicts = feed(createChangepointDetector(), noisy(5000, 100, 5));
    expect(alarms(verdicts)).toBe(0);
    expect(maxScore(verdicts, 0, 300)).toBe(0);
  });

  it('flags the start of a new level, then learns it', () => {
    const values = [...noisy(2000, 100, 5), ...noisy(1000, 130, 5, 2)];
    const verdicts = feed(createChangepointDetector({ label: 'latency', unit: 'ms' }), values);
    expect(alarms(verdicts, 0, 2000)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 2000 && v.anomalous);
    expect(first).toBeGreaterThanOrEqual(2000);
    expect(first).toBeLessThan(2005);
    expect(verdicts[first]!.explanation).toMatch(/^latency 1\d\d ms vs usual (99|10\d)(\.\d+)? ms ± [\d.]+ ms, as unlikely under every recent regime as a \d+\.\d σ deviation, 1 interval$/);
    expect(alarms(verdicts, 2200)).toBe(0);
  });

  it('resumes from its state as if it had never stopped', () => {
    const values = [...noisy(1500, 50, 3), ...noisy(500, 70, 3, 2)];
    const whole = feed(createChangepointDetector(), values).map((v) => v.score);
    const first = createChangepointDetector();
    feed(first, values.slice(0, 1490));
    const resumed = createChangepointDetector({}, structuredClone(first.state));
    const rest = values.slice(1490).map((v, i) => resumed.update(startMs + (1490 + i) * 60_000, v).score);
    expect(rest).toEqual(whole.slice(1490));
  });
});
