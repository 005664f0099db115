import { describe, expect, it } from 'vitest';
import { labelPoints, profiles } from '../../services/analyzer/src/domain/detectors/nab-scoring.ts';
import { familyOf, leaveOneFamilyOut, scoreByFamily, summarize, type ScoredFile } from './lofo.ts';

const standard = profiles[0]!;
const minute = 60_000;
/** 100 points a minute apart, with a window over points 50..59 unless `windowless`: 0.2 everywhere, `atWindow` at point 50. */
const file = (family: string, atWindow: number, windowless = false): ScoredFile => ({
  family,
  labels: labelPoints({
    name: `${family}.csv`,
    timestampsMs: Array.from({ length: 100 }, (_, i) => i * minute),
    windows: windowless ? [] : [{ startMs: 50 * minute, endMs: 59 * minute }],
  }),
  scores: Array.from({ length: 100 }, (_, i) => (i === 50 ? atWindow : 0.2)),
});

describe('leave-one-family-out', () => {
  it('makes the two artificial folders one family and keeps the real ones apart', () => {
    expect(['artificialNoAnomaly', 'artificialWithAnomaly', 'realAdExchange', 'realTraffic'].map(familyOf)).toEqual([
      'artificial',
      'artificial',
      'realAdExchange',
      'realTraffic',
    ]);
  });

  it('scores each family at the threshold chosen on the others, never on itself', () => {
    // Alone, a would choose 0.9 and b 0.4; each held out gets the other's threshold.
    const { folds, mean, pooled } = leaveOneFamilyOut([{ name: 'd', files: [file('a', 0.9), file('b', 0.4)] }], standard);
    expect(folds.map((f) => [f.family, f.threshold, f.detectedWindows])).toEqual([
      ['a', 0.4, 1],
      ['b', 0.9, 0],
    ]);
    expect(folds[0]!.normalized).toBeCloseTo(100, 10);
    expect(folds[1]!.normalized).toBe(0);
    expect(mean).toBeCloseTo(50, 10);
    expect(pooled).toBeCloseTo(50, 10);
  });

  it('chooses the detector that scores best on the other families', () => {
    const sharp = { name: 'sharp', files: [file('a', 0.9), file('b', 0.9), file('c', 0.1), file('d', 0.9)] };
    const blunt = { name: 'blunt', files: [file('a', 0.1), file('b', 0.1), file('c', 0.9), file('d', 0.1)] };
    const { folds } = leaveOneFamilyOut([blunt, sharp], standard);
    // Only blunt catches c, but held out, c is judged by a, b and d, where sharp does better.
    expect(folds.map((f) => [f.family, f.detector, f.detectedWindows])).toEqual([
      ['a', 'sharp', 1],
      ['b', 'sharp', 1],
      ['c', 'sharp', 0],
      ['d', 'sharp', 1],
    ]);
  });

  it('leaves a family without windows out of the mean but counts its false positives in the pooled score', () => {
    const scores = scoreByFamily([file('a', 0.9), file('quiet', 0.9, true)], 0.5, standard);
    expect(scores.map((s) => [s.family, s.windows])).toEqual([
      ['a', 1],
      ['quiet', 0],
    ]);
    expect(scores[1]!.normalized).toBeNaN();
    const { mean, pooled } = summarize(scores, standard);
    expect(mean).toBeCloseTo(100, 10);
    // One false positive with no window before it costs A_FP = 0.11 of the two points between null and perfect.
    expect(pooled).toBeCloseTo((100 * (2 - 0.11)) / 2, 10);
  });
});
