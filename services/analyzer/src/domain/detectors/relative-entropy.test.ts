import { describe, expect, it } from 'vitest';
import { createRelativeEntropyDetector } from './relative-entropy.ts';
import { alarms, feed, maxScore, noisy, startMs } from './test-series.ts';

describe('relative-entropy detector', () => {
  it('stays quiet on a noisy flat series and while learning', () => {
    const verdicts = feed(createRelativeEntropyDetector(), noisy(6000, 100, 5));
    expect(alarms(verdicts)).toBe(0);
    expect(maxScore(verdicts, 0, 400)).toBe(0);
  });

  it('flags a change of shape that no single point shows: noise turns into a two-level flutter of the same range', () => {
    const flutter = noisy(300, 0, 1, 4).map((e, i) => (i % 2 === 0 ? 92 : 108) + e);
    const values = [...noisy(3000, 100, 5), ...flutter, ...noisy(1000, 100, 5, 3)];
    const verdicts = feed(createRelativeEntropyDetector({ label: 'queue depth' }), values);
    expect(alarms(verdicts, 0, 3000)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 3000 && v.anomalous);
    expect(first).toBeGreaterThan(3000);
    expect(first).toBeLessThan(3060);
    expect(verdicts[first]!.explanation).toMatch(/^queue depth [\d.]+ vs usual (99|100)(\.\d)? ± \d+(\.\d+)?, recent values distributed unlike any usual stretch \(divergence \d+\), 1 interval$/);
  });

  it('learns a new regime: a lasting level shift alarms, then becomes usual', () => {
    const values = [...noisy(3000, 100, 5), ...noisy(6000, 115, 5, 2)];
    const verdicts = feed(createRelativeEntropyDetector(), values);
    expect(alarms(verdicts, 3000, 3060)).toBeGreaterThan(0);
    expect(alarms(verdicts, 7000)).toBe(0);
  });

  it('resumes from its state as if it had never stopped', () => {
    const values = [...noisy(2000, 50, 3), ...noisy(500, 60, 3, 2)];
    const whole = feed(createRelativeEntropyDetector(), values).map((v) => v.score);
    const first = createRelativeEntropyDetector();
    feed(first, values.slice(0, 1900));
    const resumed = createRelativeEntropyDetector({}, structuredClone(first.state));
    const rest = values.slice(1900).map((v, i) => resumed.update(startMs + (1900 + i) * 60_000, v).score);
    expect(rest).toEqual(whole.slice(1900));
  });
});
