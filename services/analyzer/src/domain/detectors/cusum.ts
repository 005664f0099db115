// CUSUM for level shifts (Page, 1954): sums of standardised deviations from a slow baseline, less a
// slack of k standard deviations, one sum per direction. A sustained shift of a fraction of a standard
// deviation piles up where a single spike does not.
import { decayOf, type Context, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Detector, type RecordState } from './detector.ts';

export type CusumSettings = CommonSettings & {
  /** Points the baseline mean and variance remember (1000: a slow baseline the shift stands out from). */
  baselinePoints: number;
  /** Slack per point, in standard deviations: drift smaller than this never accumulates. */
  slack: number;
  /** Cumulative sums (in standard deviations) below this are never called anomalous. */
  minSum: number;
};

export const defaultCusumSettings: CusumSettings = { ...defaultCommonSettings, baselinePoints: 1000, slack: 1, minSum: 20 };

export type CusumState = { n: number; mean: number; variance: number; up: number; down: number; record: RecordState; alarm: AlarmState };

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const cusumDetector = (settings: Partial<CusumSettings> = {}) => {
  const s: CusumSettings = { ...defaultCusumSettings, ...settings };
  const decay = decayOf(s.recordHalfLifePoints);
  const w = 1 / s.baselinePoints;
  const learning = s.baselinePoints / 4;
  return (state?: CusumState): Detector<CusumState> => {
    const st: CusumState = state ?? { n: 0, mean: 0, variance: 0, up: 0, down: 0, record: newRecord(), alarm: newAlarm() };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        if (st.n === 0) st.mean = value;
        const mean = st.mean;
        const sd = Math.sqrt(st.variance) + 1e-6 * Math.abs(mean);
        let ratio = 0;
        if (st.n > learning && sd > 0) {
          const z = (value - mean) / sd;
          st.up = Math.max(0, st.up + z - s.slack);
          st.down = Math.max(0, st.down - z - s.slack);
          ratio = judge(st.record, Math.max(st.up, st.down), s.warmupPoints, decay, s.minSum);
        }
        // A plain running average until the baseline's memory fills, so early estimates are not biased towards 0.
        const wn = Math.max(w, 1 / (st.n + 1));
        const d = value - mean;
        st.mean = mean + wn * d;
        st.variance = (1 - wn) * (st.variance + wn * d * d);
        st.n++;
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        const signed = st.up >= st.down ? st.up : -st.down;
        return new Verdict(score, anomalous, value, st.record.seen > s.warmupPoints ? mean : Number.NaN, sd, st.alarm.run, s, shiftContext, signed);
      },
    };
  };
};

export const createCusumDetector = (settings: Partial<CusumSettings> = {}, state?: CusumState): Detector<CusumState> => cusumDetector(settings)(state);

const shiftContext: Context = (v) => (Math.abs(v.aux) < 1 ? '' : `, sustained ${v.aux > 0 ? 'rise' : 'drop'} of ${Math.abs(v.aux).toFixed(0)} σ accumulated`);
