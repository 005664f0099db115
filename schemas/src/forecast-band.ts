// Gauge math shared by failure prediction (the analyzer) and the forecasts the console draws, pure:
// the points since a restart, and a gauge's forecast with its prediction band, for people to read: a
// least-squares line through the recent points and, at each step ahead, the interval a new point falls
// in at the given confidence (the prediction interval of simple linear regression, Student's t with
// n - 2 degrees of freedom). The time-to-limit predictor decides what pages; this draws what it sees.
import { linearRegression, probit } from 'simple-statistics';

/** A gauge's point in time. */
export type Point = { timestampMs: number; value: number };

/**
 * The points since the gauge last fell to `ratio` of the point before or less (a restart, a
 * failover): what came before says nothing about the process running now. Points in time order.
 */
export const sinceReset = <P extends Point>(series: ReadonlyArray<P>, ratio = 0.5): ReadonlyArray<P> => {
  for (let i = series.length - 1; i > 0; i--) {
    const before = series[i - 1]!.value;
    if (before > 0 && series[i]!.value <= before * ratio) return series.slice(i);
  }
  return series;
};

export type ForecastPoint = { timestampMs: number; value: number; lower: number; upper: number };

export type Forecast = {
  /** From the last point on, every `stepMs` up to the horizon. */
  points: ForecastPoint[];
  /** The line's change per hour. */
  slopePerHour: number;
  /** The points the line was fitted on. */
  fittedPoints: number;
  confidence: number;
  /** When the line reaches the limit, if it heads there within the horizon. */
  reachesLimitAtMs?: number;
};

export type ForecastSettings = { horizonMs: number; stepMs: number; confidence: number; minPoints: number; limit?: number };

/**
 * Student's t quantile for `degrees` degrees of freedom from the normal one (Cornish–Fisher expansion,
 * Abramowitz & Stegun 26.7.5) on simple-statistics' probit: within 0.01 of the tables from 3 degrees on,
 * enough for a band drawn on a chart. simple-statistics has no t quantile.
 */
export const tQuantile = (p: number, degrees: number): number => {
  const z = probit(p);
  const v = degrees;
  return (
    z +
    (z ** 3 + z) / (4 * v) +
    (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2) +
    (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3) +
    (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / (92160 * v ** 4)
  );
};

/** The forecast of `series` (time order) `horizonMs` past its last point, or undefined under `minPoints` points or one instant. */
export const forecastBand = (series: ReadonlyArray<Point>, settings: Partial<ForecastSettings> & Pick<ForecastSettings, 'horizonMs' | 'stepMs'>): Forecast | undefined => {
  const { horizonMs, stepMs, confidence = 0.95, minPoints = 6, limit } = settings;
  const n = series.length;
  if (n < Math.max(3, minPoints)) return undefined;
  // Time from the first point: squares of epoch milliseconds would lose the precision the fit needs.
  const t0 = series[0]!.timestampMs;
  const xs = series.map((p) => p.timestampMs - t0);
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const sxx = xs.reduce((a, x) => a + (x - meanX) ** 2, 0);
  if (sxx === 0) return undefined;
  const { m, b } = linearRegression(series.map((p, i) => [xs[i]!, p.value]));
  const sse = series.reduce((a, p, i) => a + (p.value - (m * xs[i]! + b)) ** 2, 0);
  const residualStd = Math.sqrt(sse / (n - 2));
  const t = tQuantile(1 - (1 - confidence) / 2, n - 2);
  const last = series[n - 1]!.timestampMs;
  const points: ForecastPoint[] = [];
  for (let at = last; at <= last + horizonMs; at += stepMs) {
    const x = at - t0;
    const value = m * x + b;
    const half = t * residualStd * Math.sqrt(1 + 1 / n + (x - meanX) ** 2 / sxx);
    points.push({ timestampMs: at, value, lower: value - half, upper: value + half });
  }
  let reachesLimitAtMs: number | undefined;
  if (limit !== undefined && m !== 0) {
    const at = t0 + (limit - b) / m;
    if (at >= last && at <= last + horizonMs) reachesLimitAtMs = at;
  }
  return { points, slopePerHour: m * 3_600_000, fittedPoints: n, confidence, ...(reachesLimitAtMs !== undefined ? { reachesLimitAtMs } : {}) };
};
