import { describe, expect, it } from 'vitest';
import { forecastBand, sinceReset, tQuantile, type Point } from './forecast-band.ts';

const minute = 60_000;

describe('forecast band', () => {
  it("gives Student's t quantiles as the tables do", () => {
    expect(tQuantile(0.975, 3)).toBeCloseTo(3.182, 1);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228, 2);
    expect(tQuantile(0.975, 100)).toBeCloseTo(1.984, 2);
  });

  it('continues a steady climb, with the limit reached where the line meets it', () => {
    // 1 MB a minute from 100 MB, exactly: the band closes on the line.
    const series = Array.from({ length: 20 }, (_, i) => ({ timestampMs: i * minute, value: 100e6 + i * 1e6 }));
    const forecast = forecastBand(series, { horizonMs: 30 * minute, stepMs: 5 * minute, limit: 130e6 })!;
    expect(forecast.points.map((p) => p.timestampMs / minute)).toEqual([19, 24, 29, 34, 39, 44, 49]);
    expect(forecast.points[2]!.value).toBeCloseTo(129e6, 0);
    expect(forecast.points[2]!.upper - forecast.points[2]!.lower).toBeLessThan(1);
    expect(forecast.slopePerHour).toBeCloseTo(60e6, 0);
    expect(forecast.reachesLimitAtMs! / minute).toBeCloseTo(30, 6);
  });

  it('widens the band with the noise and with the distance from the data', () => {
    // Noise of ±2 around a flat 50: the 95 % band of the next point is about ±2 t wide, wider further out.
    const series = Array.from({ length: 30 }, (_, i) => ({ timestampMs: i * minute, value: 50 + (i % 2 === 0 ? 2 : -2) }));
    const forecast = forecastBand(series, { horizonMs: 60 * minute, stepMs: 30 * minute, limit: 100 })!;
    const [now, , later] = forecast.points.map((p) => p.upper - p.lower);
    expect(now! / 2).toBeGreaterThan(2 * 2);
    expect(now! / 2).toBeLessThan(2 * 2.3);
    expect(later!).toBeGreaterThan(now!);
    expect(forecast.points[0]!.value).toBeCloseTo(50, 0);
    // Flat: it does not reach the limit.
    expect(forecast.reachesLimitAtMs).toBeUndefined();
  });

  it('forecasts nothing from too few points or one instant', () => {
    expect(forecastBand([{ timestampMs: 0, value: 1 }, { timestampMs: 1, value: 2 }, { timestampMs: 2, value: 3 }], { horizonMs: 10, stepMs: 1 })).toBeUndefined();
    expect(forecastBand(Array.from({ length: 8 }, () => ({ timestampMs: 5, value: 1 })), { horizonMs: 10, stepMs: 1 })).toBeUndefined();
  });
});

describe('since a restart', () => {
  const leak = (from: number, n: number, start: number): Point[] => Array.from({ length: n }, (_, i) => ({ timestampMs: (from + i) * minute, value: start + i * 10 }));

  it('keeps only the points since the gauge last halved or fell further', () => {
    const before = leak(0, 60, 200);
    const after = leak(60, 5, 200);
    expect(sinceReset([...before, ...after])).toEqual(after);
    expect(sinceReset(before)).toEqual(before);
    // A sawtooth's shallow drops are not restarts.
    const saw = Array.from({ length: 40 }, (_, i) => ({ timestampMs: i * minute, value: 500 + (i % 5) * 40 }));
    expect(sinceReset(saw)).toHaveLength(40);
  });
});
