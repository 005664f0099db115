// A change of spread: the recent mean absolute deviation against the long-run one, on a log scale,
// both ways. Catches a series that goes flat (a stuck sensor, a dead exporter) or starts to thrash.
import { decayOf, formatValue, type Context, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Detector, type RecordState } from './detector.ts';

export type VolatilitySettings = CommonSettings & {
  /** Points the recent spread remembers. */
  shortPoints: number;
  /** Points the usual spread remembers. */
  longPoints: number;
  /** |ln(recent / usual)| below this is never anomalous (ln 2: half or double the usual spread). */
  minLogRatio: number;
};

export const defaultVolatilitySettings: VolatilitySettings = { ...defaultCommonSettings, shortPoints: 48, longPoints: 2000, minLogRatio: Math.LN2 };

export type VolatilityState = { n: number; mean: number; recent: number; usual: number; record: RecordState; alarm: AlarmState };

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const volatilityDetector = (settings: Partial<VolatilitySettings> = {}) => {
  const s: VolatilitySettings = { ...defaultVolatilitySettings, ...settings };
  const decay = decayOf(s.recordHalfLifePoints);
  const ws = 1 / s.shortPoints;
  const wl = 1 / s.longPoints;
  const learning = s.longPoints / 4;
  return (state?: VolatilityState): Detector<VolatilityState> => {
    const st: VolatilityState = state ?? { n: 0, mean: 0, recent: 0, usual: 0, record: newRecord(), alarm: newAlarm() };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        if (st.n === 0) st.mean = value;
        const a = Math.abs(value - st.mean);
        // Plain running averages until each memory fills, so early estimates are not biased towards 0.
        const wsn = Math.max(ws, 1 / (st.n + 1));
        const wln = Math.max(wl, 1 / (st.n + 1));
        st.mean += wsn * (value - st.mean);
        st.recent += wsn * (a - st.recent);
        st.usual += wln * (a - st.usual);
        st.n++;
        let ratio = 0;
        if (st.n >= learning && st.usual > 0) {
          ratio = judge(st.record, Math.abs(Math.log((st.recent + 1e-3 * st.usual) / st.usual)), s.warmupPoints, decay, s.minLogRatio);
        }
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        return new Verdict(score, anomalous, value, st.record.seen > s.warmupPoints ? st.mean : Number.NaN, st.usual, st.alarm.run, s, spreadContext, st.recent);
      },
    };
  };
};

export const createVolatilityDetector = (settings: Partial<VolatilitySettings> = {}, state?: VolatilityState): Detector<VolatilityState> => volatilityDetector(settings)(state);

const spreadContext: Context = (v) => `, recent spread ± ${formatValue(v.aux, v.settings.unit)}`;
