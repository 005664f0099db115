import { describe, expect, it } from 'vitest';
import { createEwmaDetector } from './ewma-zscore.ts';
import { createSeasonalDetector, dayMs, defaultSeasonalSettings, weekMs } from './seasonal-baseline.ts';
import { alarms, feed, gaussian, maxScore } from './test-series.ts';

const step = 5 * 60_000;
const perDay = dayMs / step;
/** A daily cycle: quiet nights, a busy afternoon peak. */
const daily = (days: number, seed = 1, change?: (i: number, v: number) => number) => {
  const g = gaussian(seed);
  return Array.from({ length: days * perDay }, (_, i) => {
    const hour = ((i % perDay) / perDay) * 24;
    const v = 20 + (hour >= 12 && hour < 18 ? 60 : 0) + g();
    return change ? change(i, v) : v;
  });
};

describe('seasonal baseline detector', () => {
  it('stays quiet on a daily cycle it has learned, edges included', () => {
    const verdicts = feed(createSeasonalDetector(), daily(14), step);
    expect(alarms(verdicts)).toBe(0);
  });

  it('flags a missing afternoon peak, which is an ordinary value for the series overall', () => {
    const day10 = 10 * perDay;
    const values = daily(14, 2, (i, v) => (i >= day10 + perDay / 2 && i < day10 + (perDay * 3) / 4 ? v - 60 : v));
    const verdicts = feed(createSeasonalDetector(), values, step);
    const first = verdicts.findIndex((v) => v.anomalous);
    expect(first).toBeGreaterThanOrEqual(day10 + perDay / 2);
    expect(first).toBeLessThan(day10 + perDay / 2 + 6);
    expect(verdicts[first]!.explanation).toMatch(/^value (19|2\d)(\.\d+)? vs usual (79|8\d)(\.\d+)? ± [\d.]+, at this time of (day|week), 1 interval$/);
    // A point-by-point detector sees nothing: 20 is the series' most common value.
    expect(alarms(feed(createEwmaDetector(), values, step), first, first + 6)).toBe(0);
  });

  it('does not judge before two full cycles of history', () => {
    const values = daily(3, 3, (i, v) => (i === perDay + 150 ? 500 : v));
    expect(maxScore(feed(createSeasonalDetector(), values, step), 0, 2 * perDay)).toBe(0);
  });

  it('trusts each cycle after its own number of cycles: the week after three by default', () => {
    // Hourly points for four weeks, a spike on day 17 (after two weeks, before three) and one on day 24 at another hour.
    const hourly = 3_600_000;
    const g = gaussian(4);
    const values = Array.from({ length: 28 * 24 }, (_, i) => (i === 17 * 24 + 5 || i === 24 * 24 + 10 ? 200 : 100 + g()));
    const weekOnly = (minCycles?: number) => createSeasonalDetector({ warmupPoints: 0, cycles: [{ periodMs: weekMs, bins: 168, ...(minCycles ? { minCycles } : {}) }] });
    const byDefault = feed(weekOnly(3), values, hourly);
    expect(maxScore(byDefault, 0, 21 * 24)).toBe(0);
    expect(byDefault[24 * 24 + 10]!.anomalous).toBe(true);
    // The settings' own minCycles (2) applies to a cycle that names none: the spike on day 17 is judged.
    expect(feed(weekOnly(), values, hourly)[17 * 24 + 5]!.anomalous).toBe(true);
    expect(defaultSeasonalSettings.cycles.map((c) => c.minCycles ?? defaultSeasonalSettings.minCycles)).toEqual([2, 3]);
  });

  it('keeps its state small: two floats per bin, 192 bins', () => {
    expect(createSeasonalDetector().state.bins.byteLength).toBe(192 * 2 * 4);
  });
});
