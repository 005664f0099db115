import { describe, expect, it } from 'vitest';
import { createEwmaDetector } from './ewma-zscore.ts';
import { alarms, feed, maxScore, noisy } from './test-series.ts';

describe('EWMA z-score detector', () => {
  it('stays quiet on a noisy flat series', () => {
    const verdicts = feed(createEwmaDetector(), noisy(3000, 100, 5));
    expect(alarms(verdicts)).toBe(0);
    expect(maxScore(verdicts)).toBeLessThan(0.5);
  });

  it('flags a spike and explains it against the usual level', () => {
    const values = noisy(1000, 410, 20);
    values[800] = 2300;
    const verdicts = feed(createEwmaDetector({ label: 'p95 latency', unit: 'ms' }), values);
    expect(verdicts[800]!.score).toBeGreaterThan(0.9);
    expect(verdicts[800]!.anomalous).toBe(true);
    expect(alarms(verdicts, 0, 800)).toBe(0);
    expect(verdicts[800]!.explanation).toMatch(/^p95 latency 2\.3 s vs usual 4\d\d ms ± \d+(\.\d)? ms, 1 interval$/);
  });

  it('does not alarm while it learns, however wild the start', () => {
    const values = [...noisy(100, 10, 1), ...noisy(100, 1000, 300, 2)];
    const verdicts = feed(createEwmaDetector(), values);
    expect(maxScore(verdicts)).toBe(0);
    expect(verdicts[50]!.explanation).toMatch(/still learning$/);
  });

  it('resumes from its state as if it had never stopped', () => {
    const values = noisy(1000, 50, 3);
    values[900] = 90;
    const whole = feed(createEwmaDetector(), values);
    const first = createEwmaDetector();
    feed(first, values.slice(0, 600));
    const resumed = createEwmaDetector({}, structuredClone(first.state));
    const rest = values.slice(600).map((v, i) => resumed.update(i, v).score);
    expect(rest).toEqual(whole.slice(600).map((v) => v.score));
  });
});
