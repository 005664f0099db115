// Robust z-score: distance from the median of a sliding window in units of its median absolute
// deviation (scaled to a standard deviation). Outliers inside the window barely move either, so a
// burst of spikes does not teach the detector that spikes are normal.
import { decayOf, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Detector, type RecordState } from './detector.ts';

export type RobustSettings = CommonSettings & {
  /** Points in the sliding window (state: 16 bytes each). */
  windowPoints: number;
  /** Robust z-scores below this are never anomalous. */
  minZ: number;
  /** The scale never goes below this fraction of |median|. */
  minSpreadRatio: number;
  /**
   * Part of the series' longer-run spread (the mean absolute deviation from its running mean, over about
   * 100 points) added to the window's MAD: a window gone nearly flat in a series that moves is not
   * infinitely sensitive, so a value a hair off an all but stuck reading is no anomaly. (A window with
   * no MAD at all is scaled by that spread alone.)
   */
  overallSpreadShare: number;
};

export const defaultRobustSettings: RobustSettings = { ...defaultCommonSettings, windowPoints: 64, minZ: 6, minSpreadRatio: 1e-3, overallSpreadShare: 0.05 };

/** `level` and `levelSpread`: the longer-run mean and mean absolute deviation behind `overallSpreadShare`. */
export type RobustState = { n: number; ring: Float64Array; sorted: Float64Array; level: number; levelSpread: number; record: RecordState; alarm: AlarmState };

/** MAD to standard deviation for normal data. */
const madScale = 1.4826;
/** Mean absolute deviation to standard deviation for normal data: the scale when the window's MAD is 0. */
const meanDeviationScale = 1.2533;

const lowerBound = (a: Float64Array, n: number, x: number): number => {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

const medianOf = (sorted: Float64Array, n: number): number => (sorted[n >> 1]! + sorted[(n - 1) >> 1]!) / 2;

/** Median of |x - median| over a sorted array, by merging the two runs of deviations that fan out from the median: O(n). */
export const medianAbsoluteDeviation = (sorted: Float64Array, n: number, median: number): number => {
  let left = lowerBound(sorted, n, median) - 1;
  let right = left + 1;
  const k = n >> 1;
  let last = 0;
  let previous = 0;
  for (let taken = 0; taken <= k; taken++) {
    previous = last;
    const dl = left >= 0 ? median - sorted[left]! : Number.POSITIVE_INFINITY;
    const dr = right < n ? sorted[right]! - median : Number.POSITIVE_INFINITY;
    if (dl <= dr) {
      last = dl;
      left--;
    } else {
      last = dr;
      right++;
    }
  }
  return n % 2 === 1 ? last : (last + previous) / 2;
};

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const robustDetector = (settings: Partial<RobustSettings> = {}) => {
  const s: RobustSettings = { ...defaultRobustSettings, ...settings };
  const w = s.windowPoints;
  const decay = decayOf(s.recordHalfLifePoints);
  return (state?: RobustState): Detector<RobustState> => {
    const st: RobustState = state ?? { n: 0, ring: new Float64Array(w), sorted: new Float64Array(w), level: 0, levelSpread: 0, record: newRecord(), alarm: newAlarm() };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const { ring, sorted } = st;
        const filled = Math.min(st.n, w);
        let ratio = 0;
        let median = Number.NaN;
        let scale = 0;
        if (filled === w) {
          median = medianOf(sorted, w);
          const mad = medianAbsoluteDeviation(sorted, w, median);
          // A window mostly of one value (a count that is 0 most of the time) has no MAD: its spread is
          // then the longer-run mean absolute deviation, so its usual 1s and 2s are not infinitely far.
          const spread = mad > 0 ? madScale * mad + s.overallSpreadShare * st.levelSpread : meanDeviationScale * st.levelSpread;
          scale = spread + s.minSpreadRatio * Math.abs(median);
          ratio = judge(st.record, scale > 0 ? Math.abs(value - median) / scale : 0, s.warmupPoints, decay, s.minZ);
          // Slide: the oldest point leaves the sorted window.
          const out = lowerBound(sorted, w, ring[st.n % w]!);
          sorted.copyWithin(out, out + 1, w);
        }
        if (st.n === 0) st.level = value;
        const lw = Math.max(0.01, 1 / (st.n + 1));
        const ld = value - st.level;
        st.level += lw * ld;
        st.levelSpread += lw * (Math.abs(ld) - st.levelSpread);
        const size = filled === w ? w - 1 : filled;
        const at = lowerBound(sorted, size, value);
        sorted.copyWithin(at + 1, at, size);
        sorted[at] = value;
        ring[st.n % w] = value;
        st.n++;
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        return new Verdict(score, anomalous, value, st.record.seen > s.warmupPoints ? median : Number.NaN, scale, st.alarm.run, s);
      },
    };
  };
};

export const createRobustDetector = (settings: Partial<RobustSettings> = {}, state?: RobustState): Detector<RobustState> => robustDetector(settings)(state);
