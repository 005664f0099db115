import { describe, expect, it } from 'vitest';
import { createCusumDetector } from './cusum.ts';
import { createEwmaDetector } from './ewma-zscore.ts';
import { alarms, feed, maxScore, noisy, startMs } from './test-series.ts';

describe('CUSUM level-shift detector', () => {
  it('catches a sustained shift of two standard deviations that no single point gives away', () => {
    const values = [...noisy(1500, 100, 5), ...noisy(300, 110, 5, 2)];
    const verdicts = feed(createCusumDetector(), values);
    expect(alarms(verdicts, 0, 1500)).toBe(0);
    const first = verdicts.findIndex((v, i) => i >= 1500 && v.anomalous);
    expect(first).toBeGreaterThan(1500);
    expect(first).toBeLessThan(1560);
    expect(verdicts[first]!.explanation).toMatch(/sustained rise of \d+ σ accumulated/);
    // The same shift is invisible point by point.
    expect(alarms(feed(createEwmaDetector(), values), 1500)).toBe(0);
  });

  it('catches a drop as well as a rise', () => {
    const verdicts = feed(createCusumDetector(), [...noisy(1500, 100, 5), ...noisy(300, 90, 5, 3)]);
    const first = verdicts.findIndex((v, i) => i >= 1500 && v.anomalous);
    expect(first).toBeGreaterThan(1500);
    expect(verdicts[first]!.explanation).toMatch(/sustained drop/);
  });

  it('stays quiet on a noisy flat series and while learning', () => {
    const verdicts = feed(createCusumDetector(), noisy(4000, 100, 5));
    expect(alarms(verdicts)).toBe(0);
    expect(maxScore(verdicts, 0, 500)).toBe(0);
  });

  it('follows the slope of a daily cycle at 10 s, where a level-only baseline lags it and alarms twice a day', () => {
    const daily = noisy(3 * 8640, 0, 3, 1).map((e, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 8640) + e);
    const episodes = (settings: { trendRate?: number }) => feed(createCusumDetector(settings), daily, 10_000).filter((v, i, all) => v.anomalous && !all[i - 1]?.anomalous).length;
    expect(episodes({ trendRate: 0 })).toBeGreaterThanOrEqual(4);
    expect(episodes({})).toBe(0);
  });

  it('resumes a state saved before the baseline had a trend as a flat one', () => {
    const values = [...noisy(1500, 100, 5), ...noisy(300, 110, 5, 2)];
    const first = createCusumDetector();
    feed(first, values.slice(0, 1400));
    const saved = structuredClone(first.state);
    delete saved.trend;
    const resumed = createCusumDetector({}, saved);
    const rest = values.slice(1400).map((v, i) => resumed.update(startMs + (1400 + i) * 60_000, v));
    expect(rest.every((v) => Number.isFinite(v.score))).toBe(true);
    expect(rest.findIndex((v, i) => i >= 100 && v.anomalous)).toBeGreaterThan(0);
  });
});
