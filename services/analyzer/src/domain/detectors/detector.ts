// What every streaming detector shares: the verdict it returns, how a deviation becomes a score
// (relative to the largest deviation of the recent past), hysteresis, and the explanation text.

/** One verdict per point. `explanation` is built only when read, so scoring stays cheap. */
export type Detection = {
  /** In [0, 1]: 0.5 means the deviation ties the largest of the recent past (after warm-up). */
  readonly score: number;
  /** The alarm after hysteresis: set at `alarmScore`, cleared after `quietPoints` points below `clearScore`. */
  readonly anomalous: boolean;
  /** One line for a human: "p95 latency 2.3 s vs usual 410 ms ± 80 ms, 6 intervals". */
  readonly explanation: string;
};

/** A streaming detector: feed points in time order; `state` is a structured-clonable snapshot to persist. */
export type Detector<State = unknown> = {
  update(timestampMs: number, value: number): Verdict;
  readonly state: State;
};

/** Settings every detector takes. */
export type CommonSettings = {
  /** Names the signal in explanations ("p95 latency"). */
  label: string;
  /** Unit of the values: 'ms', 's', 'bytes', '%' are formatted; anything else is printed after the number. */
  unit: string;
  /** Deviations seen before the detector scores (it learns meanwhile): no alarms while learning. */
  warmupPoints: number;
  /** Half-life, in points, of the record the current deviation is compared with. */
  recordHalfLifePoints: number;
  /** Score that raises the alarm, score under which it may clear, and the points it must stay under. */
  alarmScore: number;
  clearScore: number;
  quietPoints: number;
};

export const defaultCommonSettings: CommonSettings = {
  label: 'value',
  unit: '',
  warmupPoints: 300,
  recordHalfLifePoints: 5000,
  alarmScore: 0.5,
  clearScore: 0.45,
  quietPoints: 3,
};

/** ratio 1 (the deviation ties the record) maps to 0.5; the map is monotone, so the combiner can take the max. */
export const scoreOfRatio = (ratio: number): number => (ratio > 0 ? ratio / (1 + ratio) : 0);

/**
 * A deviation is judged against the largest deviation of the recent past (a decaying maximum), the
 * extreme-value view that keeps a noisy series quiet and a calm one sensitive without per-series
 * tuning. `minDeviation` keeps a calm series from alarming on wiggles that are records only because
 * nothing happened yet.
 */
export type RecordState = { seen: number; record: number };

export const newRecord = (): RecordState => ({ seen: 0, record: 0 });

export const decayOf = (halfLifePoints: number): number => Math.pow(0.5, 1 / Math.max(1, halfLifePoints));

/** Updates the record with `deviation` and returns the deviation relative to the record before it. */
export const judge = (r: RecordState, deviation: number, warmupPoints: number, decay: number, minDeviation: number): number => {
  if (!(deviation >= 0)) return 0;
  r.seen++;
  const ratio = r.seen > warmupPoints && r.record > 0 ? deviation / Math.max(r.record, minDeviation) : 0;
  const decayed = r.record * decay;
  r.record = deviation > decayed ? deviation : decayed;
  return ratio;
};

/** Bin edges for detectors that quantize: the lowest and highest of the first values, widened by a tenth, then fixed. */
export type Edges = { low: number; high: number };

/** Learns the edges from the n-th value (counting from 0) while n < points; false once they are fixed. */
export const learnEdges = (e: Edges, n: number, value: number, points: number): boolean => {
  if (n >= points) return false;
  if (value < e.low) e.low = value;
  if (value > e.high) e.high = value;
  if (n === points - 1) {
    const margin = e.high > e.low ? 0.1 * (e.high - e.low) : Math.max(1e-9, 0.1 * Math.abs(e.high));
    e.low -= margin;
    e.high += margin;
  }
  return true;
};

/** The bin of a value among `bins` equal bins between the edges; values beyond fall in the end bins. */
export const binOf = (e: Edges, value: number, bins: number): number => {
  const x = Math.floor(((value - e.low) / (e.high - e.low)) * bins);
  return x < 0 ? 0 : x >= bins ? bins - 1 : x;
};

export type AlarmState = { active: boolean; quiet: number; run: number };

export const newAlarm = (): AlarmState => ({ active: false, quiet: 0, run: 0 });

/** Hysteresis: raise at alarmScore; clear after quietPoints consecutive points under clearScore. `run` counts alarmed points. */
export const stepAlarm = (a: AlarmState, score: number, s: CommonSettings): boolean => {
  if (score >= s.alarmScore) {
    a.active = true;
    a.quiet = 0;
  } else if (a.active) {
    a.quiet = score < s.clearScore ? a.quiet + 1 : 0;
    if (a.quiet >= s.quietPoints) a.active = false;
  }
  a.run = a.active ? a.run + 1 : 0;
  return a.active;
};

const trim = (n: number, digits = 3): string => {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 10 ** digits) return Math.round(n).toLocaleString('en-US');
  return String(Number(n.toPrecision(digits)));
};

const scaled = (n: number, steps: ReadonlyArray<readonly [number, string]>): string => {
  const abs = Math.abs(n);
  for (const [size, name] of steps) if (abs >= size) return `${trim(n / size)} ${name}`;
  const last = steps[steps.length - 1]!;
  return `${trim(n / last[0])} ${last[1]}`;
};

/** A value with its unit, scaled for reading: 2300 ms is "2.3 s", 5e9 bytes is "5 GB". */
export const formatValue = (value: number, unit: string): string => {
  switch (unit) {
    case 'ms':
      return Math.abs(value) >= 1000 ? scaled(value, [[3_600_000, 'h'], [60_000, 'min'], [1000, 's']]) : `${trim(value)} ms`;
    case 's':
      return Math.abs(value) >= 60 ? scaled(value, [[3600, 'h'], [60, 'min']]) : Math.abs(value) < 1 && value !== 0 ? `${trim(value * 1000)} ms` : `${trim(value)} s`;
    case 'bytes':
      return scaled(value, [[2 ** 40, 'TB'], [2 ** 30, 'GB'], [2 ** 20, 'MB'], [2 ** 10, 'KB'], [1, 'B']]);
    case '%':
      return `${trim(value)} %`;
    case '':
      return trim(value);
    default:
      return `${trim(value)} ${unit}`;
  }
};

/** Detector-specific words after "vs usual …", from the verdict's numbers (`aux` is the detector's own figure). */
export type Context = (v: Verdict) => string;

const noContext: Context = () => '';

/**
 * The verdict object. Its explanation is assembled from these numbers only when someone reads it:
 * `<label> <value> vs usual <usual> ± <spread><context>, <n> intervals`.
 */
export class Verdict implements Detection {
  readonly score: number;
  readonly anomalous: boolean;
  readonly value: number;
  readonly usual: number;
  readonly spread: number;
  readonly intervals: number;
  readonly settings: CommonSettings;
  readonly context: Context;
  readonly aux: number;

  constructor(score: number, anomalous: boolean, value: number, usual: number, spread: number, intervals: number, settings: CommonSettings, context = noContext, aux = 0) {
    this.score = score;
    this.anomalous = anomalous;
    this.value = value;
    this.usual = usual;
    this.spread = spread;
    this.intervals = intervals;
    this.settings = settings;
    this.context = context;
    this.aux = aux;
  }

  get explanation(): string {
    const { label, unit } = this.settings;
    if (Number.isNaN(this.usual)) return `${label} ${formatValue(this.value, unit)}: still learning`;
    const usual = this.spread > 0 ? `${formatValue(this.usual, unit)} ± ${formatValue(this.spread, unit)}` : formatValue(this.usual, unit);
    const run = this.intervals > 0 ? `, ${this.intervals} interval${this.intervals === 1 ? '' : 's'}` : '';
    return `${label} ${formatValue(this.value, unit)} vs usual ${usual}${this.context(this)}${run}`;
  }
}
