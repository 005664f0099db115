// Range: a value beyond the highest or lowest of the recent past, scored by how far beyond, in units
// of that range: the oldest check there is ("never this high before"), kept honest by a z-score floor.
import { defaultCommonSettings, formatValue, newAlarm, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Context, type Detector } from './detector.ts';

export type RangeSettings = CommonSettings & {
  /** Half-life, in points, of the range's ends: an old extreme slowly stops counting. */
  rangeHalfLifePoints: number;
  /**
   * A new extreme alarms only if it is also this many standard deviations from the (EWMA) mean: noise
   * sets new records now and then by a hair, and that is no anomaly. Lesser records still score, under 0.5.
   */
  minZ: number;
  /**
   * What a new extreme past minZ scores beyond a tie with the record: ratio `1 + margin + beyond / width`.
   * "Never this high before" is a claim of its own, not one more deviation weighed against the record, so
   * it clears the bar the relative members must clear by more than a tie.
   */
  newExtremeMargin: number;
  /**
   * How far, in those standard deviations, a value must pass the range to be a new extreme: the ends
   * creep in, so a count that returns to its old high (2 errors again) passes the crept end by a hair,
   * and that is no new extreme. Such a value scores as a lesser record, under 0.5.
   */
  minBeyondSd: number;
  /** Weight of a new point in the mean and standard deviation behind minZ. */
  alpha: number;
};

export const defaultRangeSettings: RangeSettings = { ...defaultCommonSettings, warmupPoints: 100, rangeHalfLifePoints: 100_000, minZ: 4, newExtremeMargin: 0.1, minBeyondSd: 0.1, alpha: 0.001 };

export type RangeState = { n: number; low: number; high: number; mean: number; variance: number; alarm: AlarmState };

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const rangeDetector = (settings: Partial<RangeSettings> = {}) => {
  const s: RangeSettings = { ...defaultRangeSettings, ...settings };
  const shrink = 1 - Math.pow(0.5, 1 / Math.max(1, s.rangeHalfLifePoints));
  // Read once: the hot path then never loads a settings field (whose representation another caller's
  // settings, 0 where the default is 0.1, would make generic for every range detector).
  const { warmupPoints, minZ, minBeyondSd, newExtremeMargin, alpha } = s;
  return (state?: RangeState): Detector<RangeState> => {
    const st: RangeState = state ?? { n: 0, low: Number.POSITIVE_INFINITY, high: Number.NEGATIVE_INFINITY, mean: 0, variance: 0, alarm: newAlarm() };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const { low, high } = st;
        const width = high - low;
        let ratio = 0;
        if (st.n >= warmupPoints && width > 0) {
          const beyond = value > high ? value - high : value < low ? low - value : 0;
          if (beyond > 0) {
            const sd = Math.sqrt(st.variance);
            const z = sd > 0 ? Math.abs(value - st.mean) / sd : Number.POSITIVE_INFINITY;
            ratio = z >= minZ && beyond >= minBeyondSd * sd ? 1 + newExtremeMargin + beyond / width : 0.99 * Math.min(1, z / minZ);
          }
        }
        const w = Math.max(alpha, 1 / (st.n + 1));
        const d = value - st.mean;
        st.mean += w * d;
        st.variance = (1 - w) * (st.variance + w * d * d);
        // Both ends creep towards each other, so the range is that of the recent past.
        const creep = shrink * (width > 0 ? width : 0);
        st.high = value > high - creep ? value : high - creep;
        st.low = value < low + creep ? value : low + creep;
        st.n++;
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        const learned = st.n > warmupPoints && width > 0;
        return new Verdict(score, anomalous, value, learned ? (low + high) / 2 : Number.NaN, learned ? width / 2 : 0, st.alarm.run, s, ratio > 0 ? (value > high ? above : below) : inside, value > high ? high : low);
      },
    };
  };
};

export const createRangeDetector = (settings: Partial<RangeSettings> = {}, state?: RangeState): Detector<RangeState> => rangeDetector(settings)(state);

const above: Context = (v) => `, above the recent high of ${formatValue(v.aux, v.settings.unit)}`;
const below: Context = (v) => `, below the recent low of ${formatValue(v.aux, v.settings.unit)}`;
const inside: Context = () => ', within the recent range';
