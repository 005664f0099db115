import { describe, expect, it } from 'vitest';
import { createWindowShapeDetector } from './window-shape.ts';
import { alarms, feed, maxScore, noisy, startMs } from './test-series.ts';

const daily = (points: number, perDay: number, seed: number) => noisy(points, 0, 3, seed).map((e, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / perDay) + e);

describe('window-shape detector', () => {
  it('stays quiet on a noisy flat series, on a daily cycle at 10 s and while learning', () => {
    const flat = feed(createWindowShapeDetector(), noisy(20_000, 100, 5));
    expect(alarms(flat)).toBe(0);
    expect(maxScore(flat, 0, 300)).toBe(0);
    expect(alarms(feed(createWindowShapeDetector(), daily(5 * 8640, 8640, 2), 10_000))).toBe(0);
  });

  it('flags a step while it is still inside the window, before the new level is old news', () => {
    const values = [...noisy(3000, 100, 5), ...noisy(300, 120, 5, 2)];
    const verdicts = feed(createWindowShapeDetector({ label: 'queue depth' }), values);
    expect(alarms(verdicts, 0, 3000)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 3000 && v.anomalous);
    expect(first).toBeGreaterThanOrEqual(3000);
    expect(first).toBeLessThan(3032);
    expect(verdicts[first]!.explanation).toMatch(/^queue depth [\d.]+ vs usual [\d.]+ ± [\d.]+, the last points trace a shape unlike any met before \(\d+\.\d spreads from the nearest\), 1 interval$/);
  });

  it('resumes from its state as if it had never stopped', () => {
    const values = [...noisy(2000, 50, 3), ...noisy(300, 65, 3, 2)];
    const whole = feed(createWindowShapeDetector(), values).map((v) => v.score);
    const first = createWindowShapeDetector();
    feed(first, values.slice(0, 1990));
    const resumed = createWindowShapeDetector({}, structuredClone(first.state));
    const rest = values.slice(1990).map((v, i) => resumed.update(startMs + (1990 + i) * 60_000, v).score);
    expect(rest).toEqual(whole.slice(1990));
  });
});
