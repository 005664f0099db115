// Trend fits on a gauge: ordinary least squares with the slope's standard error, and Holt's linear
// trend (double exponential smoothing) for irregularly spaced points.

export type Point = { timestampMs: number; value: number };

export type LineFit = {
  /** Value per millisecond. */
  slope: number;
  /** Standard error of the slope. */
  slopeError: number;
  /** The line passes through (meanTimeMs, meanValue). */
  meanTimeMs: number;
  meanValue: number;
  /** Share of the variance the line explains. */
  r2: number;
  points: number;
};

/** Least squares of value on time; undefined under 3 points or when all times are equal. */
export const leastSquares = (points: ReadonlyArray<Point>): LineFit | undefined => {
  const n = points.length;
  if (n < 3) return undefined;
  let mt = 0;
  let mv = 0;
  for (const p of points) {
    mt += p.timestampMs;
    mv += p.value;
  }
  mt /= n;
  mv /= n;
  let stt = 0;
  let stv = 0;
  let svv = 0;
  for (const p of points) {
    const dt = p.timestampMs - mt;
    const dv = p.value - mv;
    stt += dt * dt;
    stv += dt * dv;
    svv += dv * dv;
  }
  if (stt === 0) return undefined;
  const slope = stv / stt;
  const residual = Math.max(0, svv - slope * stv);
  const slopeError = Math.sqrt(residual / (n - 2) / stt);
  return { slope, slopeError, meanTimeMs: mt, meanValue: mv, r2: svv > 0 ? 1 - residual / svv : 1, points: n };
};

export type HoltFit = {
  level: number;
  /** Value per millisecond. */
  trend: number;
  /** Exponentially weighted standard deviation of the trend estimates: how steady the trend is. */
  trendSpread: number;
  lastTimestampMs: number;
};

/** Holt's linear trend, `alpha` for the level and `beta` for the trend, with time steps of any length. */
export const holt = (points: ReadonlyArray<Point>, alpha = 0.3, beta = 0.1): HoltFit | undefined => {
  if (points.length < 3) return undefined;
  const first = points[0]!;
  const second = points[1]!;
  let level = first.value;
  let trend = second.timestampMs > first.timestampMs ? (second.value - first.value) / (second.timestampMs - first.timestampMs) : 0;
  let trendVariance = 0;
  let last = first.timestampMs;
  for (let i = 1; i < points.length; i++) {
    const p = points[i]!;
    const dt = p.timestampMs - last;
    if (dt <= 0) continue;
    const previous = level;
    level = alpha * p.value + (1 - alpha) * (level + trend * dt);
    const observed = (level - previous) / dt;
    const d = observed - trend;
    trend += beta * d;
    trendVariance = (1 - beta) * (trendVariance + beta * d * d);
    last = p.timestampMs;
  }
  return { level, trend, trendSpread: Math.sqrt(trendVariance), lastTimestampMs: last };
};
