// Failure prediction: when will this gauge (memory, queue depth, disk, connections, spend) cross its
// limit? Only for a real trend, seen one of two ways:
// - over the whole window, the envelope of the series (its per-slice extremes on the limit's side)
//   climbs steadily, so noise, a flat line or a garbage-collection sawtooth whose peaks stay level
//   predict nothing, however steep each rising edge is;
// - or a recent ramp: the last few points climb steadily, did so one point earlier too, and the newest
//   point is past everything the gauge showed before the ramp. A ramp that began minutes into an hour
//   of history is seen within a few intervals instead of once it fills half the window, and a rising
//   edge back to a level seen before (a sawtooth) is still no trend.
import { cumulativeStdNormalProbability } from 'simple-statistics';
import { holt, leastSquares, type LineFit, type Point } from './linear-fit.ts';

export type { Point } from './linear-fit.ts';

export type Prediction = {
  /** Time from the last point until the limit is crossed (0: already crossed). */
  etaMs: number;
  /** The interval around etaMs at the chosen confidence level (upper may be Infinity). */
  lower: number;
  upper: number;
  /** In [0, 1]: how sure the trend towards the limit is (1 - its two-sided p-value). */
  confidence: number;
  method: 'least-squares' | 'holt';
  explanation: string;
};

export type PredictSettings = {
  /** 'least-squares': a line through the envelope; 'holt': Holt's level and trend (quicker to follow a recent ramp). */
  method: 'least-squares' | 'holt';
  /** Which side the limit bounds: 'up' (memory, queue depth), 'down' (free disk), or 'auto' (the side it lies on now). */
  direction: 'auto' | 'up' | 'down';
  minPoints: number;
  /** Time slices the envelope is taken over. */
  slices: number;
  /** The shortest recent ramp, in points, that may predict (0: only the whole-window envelope). */
  recentPoints: number;
  /** The envelope's slope must be this many standard errors towards the limit. */
  minSlopeT: number;
  /** and the line must explain this share of the envelope's variance. */
  minR2: number;
  /** A crossing further away than this is no prediction. */
  horizonMs: number;
  /** Two-sided z of the interval (1.96: 95 %). */
  intervalZ: number;
  /** Holt's smoothing weights. */
  alpha: number;
  beta: number;
  /** Writes a value of the gauge for the explanation ("1 GB" rather than 1073741824). */
  format: (value: number) => string;
};

export const defaultPredictSettings: PredictSettings = {
  method: 'least-squares',
  direction: 'auto',
  minPoints: 24,
  slices: 8,
  recentPoints: 5,
  minSlopeT: 4,
  minR2: 0.7,
  horizonMs: 30 * 86_400_000,
  intervalZ: 1.96,
  alpha: 0.3,
  beta: 0.1,
  format: (value) => (Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(3)))),
};

/** Per time slice, the point nearest the limit's side (max when the limit is above, min when below). */
export const envelope = (series: ReadonlyArray<Point>, slices: number, upward: boolean): Point[] => {
  const first = series[0]!.timestampMs;
  const span = series[series.length - 1]!.timestampMs - first;
  const extremes: Array<Point | undefined> = new Array(slices).fill(undefined);
  for (const p of series) {
    const k = span > 0 ? Math.min(slices - 1, Math.floor(((p.timestampMs - first) / span) * slices)) : 0;
    const e = extremes[k];
    if (!e || (upward ? p.value > e.value : p.value < e.value)) extremes[k] = p;
  }
  return extremes.filter((p): p is Point => p !== undefined);
};

const duration = (ms: number): string => {
  if (!Number.isFinite(ms)) return 'never';
  const abs = Math.abs(ms);
  if (abs >= 86_400_000) return `${Number((ms / 86_400_000).toPrecision(2))} d`;
  if (abs >= 3_600_000) return `${Number((ms / 3_600_000).toPrecision(2))} h`;
  if (abs >= 60_000) return `${Number((ms / 60_000).toPrecision(2))} min`;
  return `${Math.round(ms / 1000)} s`;
};

const twoSidedConfidence = (t: number): number => Math.max(0, Math.min(1, 2 * cumulativeStdNormalProbability(Math.abs(t)) - 1));

type Trend = { fit: LineFit; t: number };

/** A steady climb towards the limit: slope `minSlopeT` standard errors from flat, the line explaining `minR2`. */
const steady = (points: ReadonlyArray<Point>, s: PredictSettings, sign: number): Trend | undefined => {
  const fit = leastSquares(points);
  if (!fit || sign * fit.slope <= 0) return undefined;
  const t = fit.slopeError > 0 ? (sign * fit.slope) / fit.slopeError : Number.POSITIVE_INFINITY;
  return t >= s.minSlopeT && fit.r2 >= s.minR2 ? { fit, t } : undefined;
};

/**
 * The longest trailing window (from `recentPoints` points, growing by half, up to half the series:
 * longer ramps are the envelope's) that climbs steadily now and one point earlier, and whose newest
 * point is past every point before it.
 */
const recentRamp = (series: ReadonlyArray<Point>, s: PredictSettings, sign: number): Trend | undefined => {
  if (s.recentPoints < 3) return undefined;
  let found: Trend | undefined;
  for (let w = s.recentPoints; w <= Math.max(s.recentPoints, Math.floor(series.length / 2)); w = Math.max(w + 1, Math.floor(w * 1.5))) {
    if (w + 1 > series.length) break;
    const window = series.slice(series.length - w);
    const before = series.slice(0, series.length - w);
    const newest = window[window.length - 1]!.value;
    if (before.length === 0 || !before.every((p) => sign * (newest - p.value) > 0)) break;
    const now = steady(window, s, sign);
    if (!now || !steady(series.slice(series.length - w - 1, series.length - 1), s, sign)) continue;
    found = now;
  }
  return found;
};

/** Time until `series` crosses `limit`, or undefined when there is no steady trend towards it. Points in time order. */
export const predict = (series: ReadonlyArray<Point>, limit: number, settings: Partial<PredictSettings> = {}): Prediction | undefined => {
  const s = { ...defaultPredictSettings, ...settings };
  if (series.length < s.minPoints) return undefined;
  const last = series[series.length - 1]!;
  const upward = s.direction === 'auto' ? limit >= last.value : s.direction === 'up';
  if (upward ? last.value >= limit : last.value <= limit) {
    return { etaMs: 0, lower: 0, upper: 0, confidence: 1, method: s.method, explanation: `already ${upward ? 'above' : 'below'} the limit ${s.format(limit)}` };
  }
  const sign = upward ? 1 : -1;
  // The longest recent stretch (at least half the slices) whose envelope climbs steadily: a ramp that
  // began mid-window still counts, a level envelope never does.
  const env = envelope(series, s.slices, upward);
  let fit: LineFit | undefined;
  let t = 0;
  for (let k = env.length; k >= Math.max(3, Math.ceil(s.slices / 2)) && !fit; k--) {
    const candidate = leastSquares(env.slice(env.length - k));
    if (!candidate || sign * candidate.slope <= 0) continue;
    const tStat = candidate.slopeError > 0 ? (sign * candidate.slope) / candidate.slopeError : Number.POSITIVE_INFINITY;
    const from = env[env.length - k]!.timestampMs;
    // The points themselves must rise too (a single late spike makes an envelope, not a trend).
    const all = leastSquares(series.filter((p) => p.timestampMs >= from));
    if (tStat >= s.minSlopeT && candidate.r2 >= s.minR2 && all && sign * all.slope > 0) {
      fit = candidate;
      t = tStat;
    }
  }
  if (!fit) ({ fit, t } = recentRamp(series, s, sign) ?? { fit, t });
  if (!fit) return undefined;
  const confidence = twoSidedConfidence(Math.min(t, 40));
  const line = fit;
  const crossing = (slope: number) => (slope * sign > 0 ? line.meanTimeMs + (limit - line.meanValue) / slope - last.timestampMs : Number.POSITIVE_INFINITY);
  let etaMs: number;
  let lower: number;
  let upper: number;
  let slope = fit.slope;
  if (s.method === 'holt') {
    const h = holt(series, s.alpha, s.beta)!;
    if (sign * h.trend <= 0) return undefined;
    slope = h.trend;
    const gap = limit - h.level;
    etaMs = gap / h.trend;
    lower = gap / (h.trend + sign * s.intervalZ * h.trendSpread);
    const slowest = h.trend - sign * s.intervalZ * h.trendSpread;
    upper = sign * slowest > 0 ? gap / slowest : Number.POSITIVE_INFINITY;
  } else {
    etaMs = crossing(fit.slope);
    lower = crossing(fit.slope + sign * s.intervalZ * fit.slopeError);
    upper = crossing(fit.slope - sign * s.intervalZ * fit.slopeError);
  }
  etaMs = Math.max(0, etaMs);
  lower = Math.max(0, Math.min(lower, etaMs));
  upper = Math.max(upper, etaMs);
  if (etaMs > s.horizonMs) return undefined;
  const perHour = Math.abs(slope) * 3_600_000;
  return {
    etaMs,
    lower,
    upper,
    confidence,
    method: s.method,
    explanation: `crosses ${s.format(limit)} in ${duration(etaMs)} (${duration(lower)} to ${duration(upper)}), ${upward ? 'rising' : 'falling'} ${s.format(perHour)} per hour, confidence ${(confidence * 100).toFixed(1)} %`,
  };
};
