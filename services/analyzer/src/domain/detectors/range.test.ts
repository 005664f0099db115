import { describe, expect, it } from 'vitest';
import { createRangeDetector } from './range.ts';
import { alarms, feed, maxScore, noisy } from './test-series.ts';

describe('range detector', () => {
  it('flags a value far beyond anything in the recent past, but not noise that tops the record by a hair', () => {
    const values = noisy(1000, 100, 5);
    const high = Math.max(...values);
    const verdicts = feed(createRangeDetector({ unit: '%' }), [...values, high + 1, high + 40]);
    const further = feed(createRangeDetector(), [...values, high + 1, high + 80]);
    expect(verdicts[1000]!.score).toBeGreaterThan(0.3);
    expect(verdicts[1000]!.anomalous).toBe(false);
    expect(verdicts[1001]!.score).toBeGreaterThan(0.5);
    expect(verdicts[1001]!.anomalous).toBe(true);
    expect(further[1001]!.score).toBeGreaterThan(verdicts[1001]!.score);
    expect(verdicts[1001]!.explanation).toMatch(/above the recent high of [\d.]+ %/);
  });

  it('flags a drop below the recent low', () => {
    const verdicts = feed(createRangeDetector(), [...noisy(500, 100, 5), 20]);
    expect(verdicts[500]!.anomalous).toBe(true);
    expect(verdicts[500]!.explanation).toMatch(/below the recent low/);
  });

  it('stays quiet inside the range and while learning', () => {
    const verdicts = feed(createRangeDetector(), [...noisy(50, 0, 1), 1000, -1000, ...noisy(3000, 0, 100, 9)]);
    expect(maxScore(verdicts, 0, 100)).toBe(0);
    expect(alarms(verdicts, 100)).toBe(0);
  });

  it('forgets an old extreme slowly', () => {
    const d = createRangeDetector({ rangeHalfLifePoints: 100 });
    feed(d, [...noisy(200, 0, 1), 100, ...noisy(2000, 0, 1, 3)]);
    expect(d.update(0, 50).anomalous).toBe(true);
  });
});
