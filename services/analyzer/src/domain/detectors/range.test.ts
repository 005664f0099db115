import { describe, expect, it } from 'vitest';
import { createRangeDetector } from './range.ts';
import { combineDetectors } from './combined.ts';
import { scoreOfRatio } from './detector.ts';
import { createDetector, defaultMembers } from './index.ts';
import { alarms, feed, maxScore, noisy, random } from './test-series.ts';

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

  it('takes a count back at its old high for no new extreme, though the ends crept in since', () => {
    // Errors per interval over 20,000 intervals: mostly 0, now and then 1, rarely 2.
    const u = random(1);
    const counts = Array.from({ length: 20_000 }, () => (u() < 0.02 ? (u() < 0.2 ? 2 : 1) : 0));
    const episodes = (verdicts: ReturnType<typeof feed>) => verdicts.filter((v, i) => v.anomalous && !verdicts[i - 1]?.anomalous).length;
    // The first 2 is a new high; later ones are only once the ends crept far (a fifth of a unit, after thousands of intervals).
    expect(episodes(feed(createRangeDetector(), counts))).toBeLessThanOrEqual(3);
    // Without the guard, every 2 after the high crept below 2 by a hair was a new extreme.
    expect(episodes(feed(createRangeDetector({ minBeyondSd: 0 }), counts))).toBeGreaterThan(30);
    // A real new high still is one.
    expect(feed(createRangeDetector(), [...counts, 6])[20_000]!.anomalous).toBe(true);
  });

  it('forgets an old extreme slowly', () => {
    const d = createRangeDetector({ rangeHalfLifePoints: 100 });
    feed(d, [...noisy(200, 0, 1), 100, ...noisy(2000, 0, 1, 3)]);
    expect(d.update(0, 50).anomalous).toBe(true);
  });

  it('scores a new extreme past minZ a margin above a tie with the record, and alarms exactly where it did without it', () => {
    const values = noisy(1000, 100, 5);
    const high = Math.max(...values);
    const series = [...values, high + 40, ...noisy(500, 100, 5, 2), high + 60, 100];
    const margin = feed(createRangeDetector(), series);
    const without = feed(createRangeDetector({ newExtremeMargin: 0 }), series);
    // The same extreme, the same range: the ratio (score / (1 - score)) is the margin higher, 1.1 + beyond / width.
    const ratio = (score: number) => score / (1 - score);
    expect(ratio(margin[1000]!.score) - ratio(without[1000]!.score)).toBeCloseTo(0.1, 9);
    expect(ratio(margin[1501]!.score) - ratio(without[1501]!.score)).toBeCloseTo(0.1, 9);
    // Even an extreme beyond by a hair outranks a relative member that ties its record (0.5) by the margin.
    expect(margin[1000]!.score).toBeGreaterThan(scoreOfRatio(1.1));
    // Below minZ nothing changes: the record by a hair scores the same, under 0.5.
    const byAHair = [...values, high + 1];
    const hair = feed(createRangeDetector(), byAHair)[1000]!;
    expect(hair.score).toBeGreaterThan(0.3);
    expect(hair.score).toBe(feed(createRangeDetector({ newExtremeMargin: 0 }), byAHair)[1000]!.score);
    expect(hair.score).toBeLessThan(0.5);
    // The alarm (at 0.5) is raised and cleared at the same points: only the ranking of the scores moves.
    expect(margin.map((v) => v.anomalous)).toEqual(without.map((v) => v.anomalous));
    expect(alarms(margin)).toBeGreaterThan(0);
  });

  it('in the default set, leaves every alarm of a healthy series where it was (a daily cycle at 10 s, flat noise, a count)', () => {
    const daily = noisy(3 * 8640, 0, 3, 1).map((e, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 8640) + e);
    const counts = noisy(20_000, 3, Math.sqrt(3), 4).map((v) => Math.max(0, Math.round(v)));
    const set = (margin: number) => combineDetectors(defaultMembers.map((n) => (n === 'range' ? createRangeDetector({ newExtremeMargin: margin }) : createDetector(n))));
    let moved = 0;
    for (const [values, stepMs] of [
      [daily, 10_000],
      [noisy(20_000, 100, 5, 3), 60_000],
      [counts, 60_000],
    ] as const) {
      const withMargin = feed(set(0.1), values, stepMs);
      const without = feed(set(0), values, stepMs);
      expect(withMargin.map((v) => v.anomalous)).toEqual(without.map((v) => v.anomalous));
      moved += withMargin.filter((v, i) => v.score !== without[i]!.score).length;
    }
    // The margin did act: some new extremes scored higher, and alarmed no more and no less.
    expect(moved).toBeGreaterThan(0);
  });
});
