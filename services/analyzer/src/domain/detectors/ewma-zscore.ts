// EWMA z-score: how far a point lies from an exponentially weighted mean, in exponentially weighted
// standard deviations. Catches spikes and dips against a slowly moving level.
import { decayOf, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Detector, type RecordState } from './detector.ts';

export type EwmaSettings = CommonSettings & {
  /** Weight of each new point in the mean and variance (0.01: a memory of about 100 points). */
  alpha: number;
  /** The standard deviation never goes below this fraction of |mean| (a flat series is not infinitely sensitive). */
  minSpreadRatio: number;
  /** z-scores below this are never called anomalous, however calm the past. */
  minZ: number;
};

export const defaultEwmaSettings: EwmaSettings = { ...defaultCommonSettings, alpha: 0.01, minSpreadRatio: 1e-3, minZ: 4 };

export type EwmaState = { n: number; mean: number; variance: number; record: RecordState; alarm: AlarmState };

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const ewmaDetector = (settings: Partial<EwmaSettings> = {}) => {
  const s: EwmaSettings = { ...defaultEwmaSettings, ...settings };
  const decay = decayOf(s.recordHalfLifePoints);
  return (state?: EwmaState): Detector<EwmaState> => {
    const st: EwmaState = state ?? { n: 0, mean: 0, variance: 0, record: newRecord(), alarm: newAlarm() };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        if (st.n === 0) st.mean = value;
        const mean = st.mean;
        const sd = Math.sqrt(st.variance) + s.minSpreadRatio * Math.abs(mean);
        const z = sd > 0 ? Math.abs(value - mean) / sd : 0;
        const ratio = st.n >= 30 ? judge(st.record, z, s.warmupPoints, decay, s.minZ) : 0;
        // A plain running average until the EWMA's memory fills, so early estimates are not biased towards 0.
        const w = Math.max(s.alpha, 1 / (st.n + 1));
        const d = value - mean;
        st.mean = mean + w * d;
        st.variance = (1 - w) * (st.variance + w * d * d);
        st.n++;
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        return new Verdict(score, anomalous, value, st.record.seen > s.warmupPoints ? mean : Number.NaN, sd, st.alarm.run, s);
      },
    };
  };
};

export const createEwmaDetector = (settings: Partial<EwmaSettings> = {}, state?: EwmaState): Detector<EwmaState> => ewmaDetector(settings)(state);
