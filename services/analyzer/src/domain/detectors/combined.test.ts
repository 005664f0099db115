import { describe, expect, it } from 'vitest';
import { createDefaultDetector, createDetector, detectorNames } from './index.ts';
import { alarms, feed, maxScore, noisy, startMs } from './test-series.ts';

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

  it('creates every detector by name', () => {
    for (const name of detectorNames) expect(createDetector(name).update(0, 1).score).toBe(0);
  });
});
