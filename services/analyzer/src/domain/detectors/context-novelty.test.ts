import { describe, expect, it } from 'vitest';
import { createContextNoveltyDetector } from './context-novelty.ts';
import { alarms, feed, maxScore, noisy, startMs } from './test-series.ts';

const wave = (points: number, period: number, seed: number) => noisy(points, 0, 1, seed).map((e, i) => 100 + 20 * Math.sin((2 * Math.PI * i) / period) + e);

describe('context-novelty detector', () => {
  it('stays quiet on a noisy flat series, on a steady rhythm and while learning', () => {
    const flat = feed(createContextNoveltyDetector(), noisy(6000, 100, 5));
    expect(alarms(flat)).toBe(0);
    expect(maxScore(flat, 0, 300)).toBe(0);
    expect(alarms(feed(createContextNoveltyDetector(), wave(6000, 24, 2)))).toBe(0);
  });

  it('flags a new rhythm within the usual range: the wave starts to jump between its crest and trough', () => {
    const jumps = Array.from({ length: 200 }, (_, i) => (i % 4 < 2 ? 118 : 82));
    const verdicts = feed(createContextNoveltyDetector({ label: 'requests' }), [...wave(3000, 24, 3), ...jumps, ...wave(500, 24, 4)]);
    expect(alarms(verdicts, 0, 3000)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 3000 && v.anomalous);
    expect(first).toBeGreaterThanOrEqual(3000);
    expect(first).toBeLessThan(3010);
    expect(verdicts[first]!.explanation).toMatch(/^requests \d+ vs usual [\d.]+ ± [\d.]+, a sequence seldom seen before \(\d+ % novel\), 1 interval$/);
  });

  it('resumes from its state as if it had never stopped', () => {
    const values = [...wave(5000, 24, 5), ...noisy(300, 100, 20, 6)];
    const whole = feed(createContextNoveltyDetector(), values).map((v) => v.score);
    const first = createContextNoveltyDetector();
    feed(first, values.slice(0, 4200));
    const resumed = createContextNoveltyDetector({}, structuredClone(first.state));
    const rest = values.slice(4200).map((v, i) => resumed.update(startMs + (4200 + i) * 60_000, v).score);
    expect(rest).toEqual(whole.slice(4200));
  });
});
