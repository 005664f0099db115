// Seasonal baseline: what this series usually does at this time of day and of week, learned as it
// streams (a smoothed mean and spread per time-of-cycle bin), once two cycles of history exist.
// Catches a missing daily peak, a flat day, a holiday, none of which is unusual for the series overall.
import { decayOf, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Context, type Detector, type RecordState } from './detector.ts';

export const dayMs = 86_400_000;
export const weekMs = 7 * dayMs;

/** A cycle in `bins` equal bins; `minCycles` overrides the settings' own for this cycle. */
export type SeasonalCycle = { periodMs: number; bins: number; minCycles?: number };

export type SeasonalSettings = CommonSettings & {
  /**
   * Day in 24 hourly bins and week in 168: 1.5 KB of state, whatever the resolution. The week is
   * trusted after three weeks: after two, each of its bins has met its hour only twice.
   */
  cycles: SeasonalCycle[];
  /** Weight of a new point in its bin's mean and spread. */
  learningRate: number;
  /** Full cycles of history before a cycle's bins are trusted (unless the cycle says otherwise). */
  minCycles: number;
  /** Part of the series' overall spread added to a bin's own, so a bin that never moved is not infinitely sensitive. */
  overallSpreadShare: number;
  /** z-scores below this are never anomalous. */
  minZ: number;
};

export const defaultSeasonalSettings: SeasonalSettings = {
  ...defaultCommonSettings,
  cycles: [
    { periodMs: dayMs, bins: 24 },
    { periodMs: weekMs, bins: 168, minCycles: 3 },
  ],
  learningRate: 0.07,
  minCycles: 2,
  overallSpreadShare: 0.1,
  minZ: 4,
};

export type SeasonalState = {
  n: number;
  firstMs: number;
  level: number;
  levelSpread: number;
  /** Per cycle, per bin: mean then mean absolute deviation (NaN mean: bin not seen yet). */
  bins: Float32Array;
  records: RecordState[];
  alarm: AlarmState;
};

const cycleName = (periodMs: number) => (periodMs === dayMs ? 'day' : periodMs === weekMs ? 'week' : `${periodMs / 3_600_000} h cycle`);

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const seasonalDetector = (settings: Partial<SeasonalSettings> = {}) => {
  const s: SeasonalSettings = { ...defaultSeasonalSettings, ...settings };
  const cycles = s.cycles;
  const offsets = cycles.map((_, i) => 2 * cycles.slice(0, i).reduce((n, c) => n + c.bins, 0));
  const trustedAfterMs = cycles.map((c) => (c.minCycles ?? s.minCycles) * c.periodMs);
  const decay = decayOf(s.recordHalfLifePoints);
  const contexts: Context[] = cycles.map((c) => {
    const name = `, at this time of ${cycleName(c.periodMs)}`;
    return () => name;
  });
  return (state?: SeasonalState): Detector<SeasonalState> => {
    const st: SeasonalState = state ?? {
      n: 0,
      firstMs: 0,
      level: 0,
      levelSpread: 0,
      bins: new Float32Array(2 * cycles.reduce((n, c) => n + c.bins, 0)).fill(Number.NaN),
      records: cycles.map(newRecord),
      alarm: newAlarm(),
    };
    const bins = st.bins;
    return {
      state: st,
      update(timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        if (st.n === 0) {
          st.firstMs = timestampMs;
          st.level = value;
        }
        const gd = value - st.level;
        const gw = Math.max(0.01, 1 / (st.n + 1));
        st.level += gw * gd;
        st.levelSpread += gw * (Math.abs(gd) - st.levelSpread);
        st.n++;
        let best = 0;
        let bestCycle = -1;
        let usual = Number.NaN;
        let spread = 0;
        for (let c = 0; c < cycles.length; c++) {
          const { periodMs, bins: count } = cycles[c]!;
          const phase = ((timestampMs % periodMs) + periodMs) % periodMs;
          const at = offsets[c]! + 2 * Math.min(count - 1, Math.floor((phase / periodMs) * count));
          const mean = bins[at]!;
          if (Number.isNaN(mean)) {
            bins[at] = value;
            bins[at + 1] = 0;
            continue;
          }
          const dev = bins[at + 1]!;
          if (timestampMs - st.firstMs >= trustedAfterMs[c]!) {
            const sd = 1.25 * dev + s.overallSpreadShare * st.levelSpread;
            const z = sd > 0 ? Math.abs(value - mean) / sd : 0;
            const ratio = judge(st.records[c]!, z, s.warmupPoints, decay, s.minZ);
            if (bestCycle < 0 || ratio > best) {
              best = ratio;
              bestCycle = c;
              if (st.records[c]!.seen > s.warmupPoints) {
                usual = mean;
                spread = sd;
              }
            }
          }
          const d = value - mean;
          bins[at] = mean + s.learningRate * d;
          bins[at + 1] = dev + s.learningRate * (Math.abs(d) - dev);
        }
        const score = scoreOfRatio(best);
        const anomalous = stepAlarm(st.alarm, score, s);
        return new Verdict(score, anomalous, value, usual, spread, st.alarm.run, s, bestCycle >= 0 ? contexts[bestCycle] : undefined);
      },
    };
  };
};

export const createSeasonalDetector = (settings: Partial<SeasonalSettings> = {}, state?: SeasonalState): Detector<SeasonalState> => seasonalDetector(settings)(state);
