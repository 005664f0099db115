import { describe, expect, it } from 'vitest';
import { labelPoints, normalizeScore, probationLength, profiles, scaledSigmoid, scoreAtThreshold, sweepThreshold, type LabelledSeries } from './nab-scoring.ts';

const [standard, lowFp, lowFn] = profiles as [(typeof profiles)[0], (typeof profiles)[0], (typeof profiles)[0]];
const minute = 60_000;
/** 100 points a minute apart with one window over points 40..49. */
const series = (windows: Array<[number, number]> = [[40, 49]], points = 100): LabelledSeries => ({
  name: 'test.csv',
  timestampsMs: Array.from({ length: points }, (_, i) => i * minute),
  windows: windows.map(([a, b]) => ({ startMs: a * minute, endMs: b * minute })),
});
const detectAt = (points: number, ...at: number[]) => Array.from({ length: points }, (_, i) => (at.includes(i) ? 1 : 0));

describe('NAB scoring', () => {
  it('uses the scaled sigmoid of the position in or past the window', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3.5)).toBe(-1);
  });

  it('has the three profiles of the NAB README', () => {
    expect(profiles.map((p) => [p.name, p.tp, p.fp, p.fn])).toEqual([
      ['standard', 1, 0.11, 1],
      ['reward_low_FP_rate', 1, 0.22, 1],
      ['reward_low_FN_rate', 1, 0.11, 2],
    ]);
  });

  it('puts the first 15 % of a file, at most 750 points, in probation', () => {
    expect(probationLength(100)).toBe(15);
    expect(probationLength(4032)).toBe(604);
    expect(probationLength(22695)).toBe(750);
  });

  it('credits a detection at the window start with A_TP, and less as it comes later', () => {
    const labels = labelPoints(series());
    expect(labels.windows).toBe(1);
    expect(scoreAtThreshold(labels, detectAt(100, 40), 0.5, standard).raw).toBeCloseTo(1, 10);
    const mid = scoreAtThreshold(labels, detectAt(100, 45), 0.5, standard).raw;
    // position -(49 - 45 + 1) / 10 = -0.5
    expect(mid).toBeCloseTo(scaledSigmoid(-0.5) / scaledSigmoid(-1), 10);
    const last = scoreAtThreshold(labels, detectAt(100, 49), 0.5, standard).raw;
    expect(last).toBeCloseTo(scaledSigmoid(-0.1) / scaledSigmoid(-1), 10);
    expect(last).toBeLessThan(mid);
  });

  it('counts only the earliest detection in a window', () => {
    const labels = labelPoints(series());
    expect(scoreAtThreshold(labels, detectAt(100, 42, 44, 48), 0.5, standard)).toMatchObject({ detectedWindows: 1, falsePositives: 0 });
    expect(scoreAtThreshold(labels, detectAt(100, 42, 44, 48), 0.5, standard).raw).toBeCloseTo(scoreAtThreshold(labels, detectAt(100, 42), 0.5, standard).raw, 12);
  });

  it('charges a missed window A_FN, by profile', () => {
    const labels = labelPoints(series());
    const none = detectAt(100);
    expect(scoreAtThreshold(labels, none, 0.5, standard)).toMatchObject({ raw: -1, missedWindows: 1 });
    expect(scoreAtThreshold(labels, none, 0.5, lowFn).raw).toBe(-2);
  });

  it('charges a false positive before any window the full A_FP, and one just after a window almost nothing', () => {
    const labels = labelPoints(series());
    const before = scoreAtThreshold(labels, detectAt(100, 20, 40), 0.5, standard);
    expect(before.falsePositives).toBe(1);
    expect(before.raw).toBeCloseTo(1 - 0.11, 10);
    expect(scoreAtThreshold(labels, detectAt(100, 20, 40), 0.5, lowFp).raw).toBeCloseTo(1 - 0.22, 10);
    // Point 50 is 1 point past the window's end; the window is 10 wide: y = 1 / 9.
    const after = scoreAtThreshold(labels, detectAt(100, 40, 50), 0.5, standard);
    expect(after.raw).toBeCloseTo(1 + 0.11 * scaledSigmoid(1 / 9), 10);
    // Far past the window (y > 3): the full cost again.
    expect(scoreAtThreshold(labels, detectAt(100, 40, 95), 0.5, standard).raw).toBeCloseTo(1 - 0.11, 10);
  });

  it('ignores detections in probation, and drops a window that lies wholly in it', () => {
    const labels = labelPoints(series([[2, 5], [40, 49]]));
    expect(labels.windows).toBe(1);
    expect(scoreAtThreshold(labels, detectAt(100, 3, 10, 40), 0.5, standard)).toMatchObject({ falsePositives: 0, detectedWindows: 1 });
  });

  it('treats a score equal to the threshold as a detection', () => {
    const labels = labelPoints(series());
    const scores = detectAt(100).map((_, i) => (i === 40 ? 0.7 : 0.1));
    expect(scoreAtThreshold(labels, scores, 0.7, standard).detectedWindows).toBe(1);
    expect(scoreAtThreshold(labels, scores, 0.7000001, standard).detectedWindows).toBe(0);
  });

  it('normalises so the null detector scores 0 and the perfect one 100', () => {
    expect(normalizeScore(-3, 3, standard)).toBe(0);
    expect(normalizeScore(3, 3, standard)).toBe(100);
    expect(normalizeScore(0, 3, lowFn)).toBeCloseTo((100 * 6) / 9, 10);
  });

  it('sweeps one threshold over the whole corpus and keeps the best total', () => {
    const a = labelPoints(series());
    const b = labelPoints(series([[60, 69]]));
    // Both windows are caught at their starts at 0.9; 0.8 adds a false positive in each file; 0.3 adds noise everywhere.
    const sa = detectAt(100).map((_, i) => (i === 40 ? 0.9 : i === 30 ? 0.8 : 0.3));
    const sb = detectAt(100).map((_, i) => (i === 60 ? 0.9 : i === 20 ? 0.8 : 0.3));
    const best = sweepThreshold([{ labels: a, scores: sa }, { labels: b, scores: sb }], standard);
    expect(best.threshold).toBe(0.9);
    expect(best.raw).toBeCloseTo(2, 10);
    expect(best.normalized).toBeCloseTo(100, 10);
    // The null detector: never above any threshold worth taking.
    const none = sweepThreshold([{ labels: a, scores: detectAt(100) }, { labels: b, scores: detectAt(100) }], standard);
    expect(none.normalized).toBe(0);
    expect(none.threshold).toBe(Number.POSITIVE_INFINITY);
  });

  it('agrees with scoring each file at the swept threshold', () => {
    const a = labelPoints(series());
    const scores = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) / 100);
    const best = sweepThreshold([{ labels: a, scores }], lowFp);
    expect(scoreAtThreshold(a, scores, best.threshold, lowFp).raw).toBeCloseTo(best.raw, 10);
    for (const t of [0.1, 0.5, 0.8, 0.95]) expect(scoreAtThreshold(a, scores, t, lowFp).raw).toBeLessThanOrEqual(best.raw + 1e-12);
  });
});
