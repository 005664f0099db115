// A sustained shift of a symptom against a long, lagged baseline. The streaming detectors judge each
// deviation against the largest of the recent past, so a symptom that creeps (latency growing by a
// few per cent an interval) raises its own record as it goes and is never a surprise. Here the median
// of the last few intervals is compared with the median of a long stretch that ended a while ago
// (before a creep began, when it is detected; the stretch just before would have crept too): a creep
// shows once the recent level is both far from that baseline in robust spreads and past the
// signal's meaningful change (latency: 50 % above), whatever the path it took to get there.

export type LevelShiftSettings = {
  /** Intervals whose median is the current level (a single outlier among them moves nothing). */
  recentPoints: number;
  /** Intervals whose median and spread are the baseline: they end `lagPoints` before the newest, so a creep has not reached them yet. */
  referencePoints: number;
  lagPoints: number;
  /** Fewer reference intervals than this: no verdict yet. */
  minReferencePoints: number;
  /** The relative change that matters (0.5: 50 % above for `up`). */
  minRelativeChange: number;
  /** And the level must be this many robust standard deviations (1.4826 × MAD) from the baseline. */
  minRobustZ: number;
  /** A climbing level is where its line is now (`trendLevel`), not the recent median. */
  followTrend: boolean;
  /**
   * A lower bar than `minRelativeChange` for a creep: a gradual climb (`onsetOf`) that is still
   * climbing. Unset: a creep must reach `minRelativeChange` like any shift.
   */
  creepRelativeChange?: number;
  /**
   * How the same signal moved on the service's peers (their recent level over their own lagged
   * baseline, the median; `peerMovement`): a move on the bad side scales the baseline, so what is
   * judged is the shift of this service beyond its peers'. A slowdown every service shares (a busy
   * host, a slower provider) is not one service's creep, and restarting that one would cure nothing.
   */
  peerRatio?: number;
};

export const defaultLevelShiftSettings: LevelShiftSettings = {
  recentPoints: 4,
  referencePoints: 48,
  lagPoints: 12,
  minReferencePoints: 12,
  minRelativeChange: 0.5,
  minRobustZ: 4,
  followTrend: true,
};

/**
 * The settings at a resolution: the recent level over about 20 s (at least 3 intervals, so one outlier
 * moves nothing) and the lag about a minute, in time rather than intervals, so a creep is seen as soon
 * at 10 s as at 5 s; the reference keeps its 48 intervals (more points, steadier statistics).
 */
export const levelShiftSettingsFor = (resolutionSeconds: number): LevelShiftSettings => {
  const recentPoints = Math.max(3, Math.round(20 / resolutionSeconds));
  return { ...defaultLevelShiftSettings, recentPoints, lagPoints: Math.max(recentPoints, Math.round(60 / resolutionSeconds)) };
};

export type LevelShift = {
  /** The median of the recent intervals and of the baseline stretch, and the baseline's robust spread. */
  level: number;
  baseline: number;
  spread: number;
  /** (level - baseline) / spread, signed. */
  z: number;
  /** Past `creepRelativeChange` only: a gradual climb still under way, short of `minRelativeChange`. */
  creep: boolean;
  explanation: string;
};

/**
 * How `level` got off `baseline`: `sudden` when the newest of `values` is at most two intervals past the
 * last one still within a quarter of the way there (a step), `gradual` when it climbed for longer (a
 * creep). Undefined when the level is not off the baseline on the bad side.
 */
export const onsetOf = (values: readonly number[], level: number, baseline: number, bad: 'up' | 'down'): 'sudden' | 'gradual' | undefined => {
  const sign = bad === 'up' ? 1 : -1;
  const rise = sign * (level - baseline);
  if (!(rise > 0)) return undefined;
  for (let j = values.length - 2; j >= 0; j--) {
    if (sign * (values[j]! - baseline) <= 0.25 * rise) return values.length - 1 - j <= 2 ? 'sudden' : 'gradual';
  }
  return 'gradual';
};

const median = (sorted: readonly number[]): number => {
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
};

const sortedOf = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/**
 * Where the newest intervals are now along their Theil–Sen line (the median of pairwise slopes, then
 * the median intercept): a creep's level today, where the median of the same intervals is its level
 * half the window ago. One outlier among six moves it no more than it moves a median.
 */
export const trendLevel = (values: readonly number[]): number => {
  const n = values.length;
  const slopes: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) slopes.push((values[j]! - values[i]!) / (j - i));
  const slope = median(sortedOf(slopes));
  const intercept = median(sortedOf(values.map((v, i) => v - slope * i)));
  return intercept + slope * (n - 1);
};

/** The baseline stretch: the `referencePoints` values ending `lag` before the newest. */
const referenceOf = (values: readonly number[], s: LevelShiftSettings) => {
  const lag = Math.max(s.lagPoints, s.recentPoints);
  return { lag, reference: values.slice(Math.max(0, values.length - lag - s.referencePoints), Math.max(0, values.length - lag)) };
};

/** The baseline the test compares with: the median of the stretch ending `lagPoints` ago, or undefined with too little history. */
export const laggedBaseline = (values: readonly number[], settings: Partial<LevelShiftSettings> = {}): number | undefined => {
  const s = { ...defaultLevelShiftSettings, ...settings };
  const { reference } = referenceOf(values, s);
  return reference.length < s.minReferencePoints ? undefined : median(sortedOf(reference));
};

/**
 * The shift on the bad side (`up` or `down`) at the newest of `values` (chronological), or undefined
 * when there is none or too little history.
 */
export const levelShift = (values: readonly number[], bad: 'up' | 'down', settings: Partial<LevelShiftSettings> = {}): LevelShift | undefined => {
  const s = { ...defaultLevelShiftSettings, ...settings };
  const { lag, reference } = referenceOf(values, s);
  if (reference.length < s.minReferencePoints || values.length < s.recentPoints) return undefined;
  const recentLevel = median(sortedOf(values.slice(values.length - s.recentPoints)));
  const ref = sortedOf(reference);
  const sign = bad === 'up' ? 1 : -1;
  // The peers' move on the bad side carries the baseline (and its spread) with it; a move on the good side is not this service's credit.
  const carried = s.peerRatio !== undefined && Number.isFinite(s.peerRatio) && sign * (s.peerRatio - 1) > 0 ? s.peerRatio : 1;
  const ownBaseline = median(ref);
  const baseline = ownBaseline * carried;
  const spread = 1.4826 * median(sortedOf(ref.map((v) => Math.abs(v - ownBaseline)))) * carried;
  // A creep: the median of the recent intervals already most of the way there (so it is no lone
  // outlier), and their line higher still. The level is where that line is now, never past the
  // furthest of those intervals (a step's line overshoots it).
  const trendPoints = s.recentPoints + 2;
  const window = values.slice(Math.max(0, values.length - trendPoints));
  const furthest = sign * Math.max(...window.map((v) => sign * v));
  const trend = values.length >= trendPoints ? sign * Math.min(sign * trendLevel(window), sign * furthest) : recentLevel;
  const climbingPast = (bar: number) =>
    s.followTrend && values.length >= trendPoints && sign * (recentLevel - baseline) >= 0.6 * bar * Math.abs(baseline) && sign * (trend - recentLevel) > 0;
  let climbing = climbingPast(s.minRelativeChange);
  let level = climbing ? trend : recentLevel;
  let change = sign * (level - baseline);
  let creep = false;
  if (!(change >= s.minRelativeChange * Math.abs(baseline)) && s.creepRelativeChange !== undefined && s.creepRelativeChange < s.minRelativeChange) {
    // A creep under the usual bar: still climbing past the lower one, and it climbed for more than two
    // intervals to get there (a step that high is noise or waits for the usual bar).
    const creepChange = sign * (trend - baseline);
    if (climbingPast(s.creepRelativeChange) && creepChange >= s.creepRelativeChange * Math.abs(baseline) && onsetOf(values, trend, baseline, bad) === 'gradual') {
      climbing = true;
      creep = true;
      level = trend;
      change = creepChange;
    }
  }
  // (A creep has passed its own bar above.)
  if (!(change > 0) || (!creep && change < s.minRelativeChange * Math.abs(baseline))) return undefined;
  const z = spread > 0 ? (level - baseline) / spread : sign * Number.POSITIVE_INFINITY;
  // A creep's level is where a line through a few noisy intervals ends, not a median: one robust
  // standard deviation more (a random climb through ± 20 % noise reached 4.15 once in 100 hours at 10 s).
  if (Math.abs(z) < s.minRobustZ + (creep ? 1 : 0)) return undefined;
  const percent = Math.round((100 * change) / Math.abs(baseline || 1));
  return {
    level,
    baseline,
    spread,
    z,
    creep,
    explanation: `${climbing ? `the line through the last ${trendPoints} intervals at` : `median of the last ${s.recentPoints} intervals`} ${Number(level.toPrecision(3))} is ${percent} % ${bad === 'up' ? 'above' : 'below'} the median ${Number(baseline.toPrecision(3))} of ${reference.length} intervals ending ${lag} ago${carried !== 1 ? ` (${Number(ownBaseline.toPrecision(3))}, moved ${Math.round(100 * Math.abs(carried - 1))} % ${carried > 1 ? 'up' : 'down'} with its peers)` : ''} (${Number(Math.abs(z).toPrecision(3))} robust standard deviations)${creep ? ', and still climbing' : ''}`,
  };
};

/** A series' recent level over its lagged baseline (1: unmoved), or undefined with too little history or a baseline of 0. */
export const levelRatio = (values: readonly number[], settings: Partial<LevelShiftSettings> = {}): number | undefined => {
  const s = { ...defaultLevelShiftSettings, ...settings };
  const baseline = laggedBaseline(values, s);
  if (baseline === undefined || baseline === 0 || values.length < s.recentPoints) return undefined;
  return median(sortedOf(values.slice(values.length - s.recentPoints))) / baseline;
};

/** Fewer peers than this with history: no peer context. */
export const minPeers = 3;

/** The peers' movement: the median of their level ratios, with at least `minPeers` of them; else undefined. */
export const peerMovement = (ratios: readonly number[]): number | undefined => (ratios.length < minPeers ? undefined : median(sortedOf(ratios)));
