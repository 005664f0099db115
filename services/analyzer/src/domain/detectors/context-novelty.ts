// Contextual novelty, in the spirit of the Contextual Anomaly Detector (CAD OSE, Smirnov and
// Ignatov, NAB 2016): values are quantized into levels, each point with the two before it forms a
// context (a short path through the levels), and the detector counts how often it has met each
// context. A run of points whose contexts it has rarely or never met is a sequence it does not know,
// even when every value alone is within the usual range: a new rhythm, a new shape, a new level.
import { binOf, decayOf, defaultCommonSettings, learnEdges, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Context, type Detector, type RecordState } from './detector.ts';

export type ContextNoveltySettings = CommonSettings & {
  /** Levels between the low and high edges learned in warm-up (state: levels³ bytes of counts). */
  levels: number;
  /** A context met this many times is fully familiar; fewer, partly novel. */
  familiarCount: number;
  /** Every this many points all counts halve, so contexts not met for long become novel again. */
  halvingPoints: number;
  /** Weight of each point's novelty in the running novelty (0.25: about the last 4 points). */
  alpha: number;
  /** Running novelty below this is never anomalous. */
  minNovelty: number;
};

export const defaultContextNoveltySettings: ContextNoveltySettings = {
  ...defaultCommonSettings,
  levels: 8,
  familiarCount: 2,
  halvingPoints: 4096,
  alpha: 0.25,
  minNovelty: 0.75,
};

export type ContextNoveltyState = {
  n: number;
  low: number;
  high: number;
  /** The levels of the two points before this one. */
  previous: number;
  beforePrevious: number;
  /** Times each context (three levels) was met, saturating. */
  counts: Uint8Array;
  novelty: number;
  /** The running mean and mean absolute deviation, for the explanation only. */
  mean: number;
  spread: number;
  record: RecordState;
  alarm: AlarmState;
};

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const contextNoveltyDetector = (settings: Partial<ContextNoveltySettings> = {}) => {
  const s: ContextNoveltySettings = { ...defaultContextNoveltySettings, ...settings };
  const l = s.levels;
  const decay = decayOf(s.recordHalfLifePoints);
  const edgePoints = Math.max(3, Math.min(s.warmupPoints, 300));
  return (state?: ContextNoveltyState): Detector<ContextNoveltyState> => {
    const st: ContextNoveltyState = state ?? {
      n: 0,
      low: Number.POSITIVE_INFINITY,
      high: Number.NEGATIVE_INFINITY,
      previous: 0,
      beforePrevious: 0,
      counts: new Uint8Array(l * l * l),
      novelty: 0,
      mean: 0,
      spread: 0,
      record: newRecord(),
      alarm: newAlarm(),
    };
    const counts = st.counts;
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const n = st.n++;
        const w = Math.max(0.01, 1 / (n + 1));
        const d = value - st.mean;
        st.mean += w * d;
        st.spread += w * (Math.abs(d) - st.spread);
        if (learnEdges(st, n, value, edgePoints)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const level = binOf(st, value, l);
        let ratio = 0;
        if (n >= edgePoints + 2) {
          const at = (st.beforePrevious * l + st.previous) * l + level;
          const met = counts[at]!;
          const novelty = met >= s.familiarCount ? 0 : 1 - met / s.familiarCount;
          st.novelty += s.alpha * (novelty - st.novelty);
          if (met < 255) counts[at] = met + 1;
          ratio = judge(st.record, st.novelty, s.warmupPoints, decay, s.minNovelty);
          if ((n - edgePoints) % s.halvingPoints === 0) for (let i = 0; i < counts.length; i++) counts[i]! >>= 1;
        }
        st.beforePrevious = st.previous;
        st.previous = level;
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        const learned = st.record.seen > s.warmupPoints;
        return new Verdict(score, anomalous, value, learned ? st.mean : Number.NaN, learned ? 1.25 * st.spread : 0, st.alarm.run, s, noveltyContext, st.novelty);
      },
    };
  };
};

export const createContextNoveltyDetector = (settings: Partial<ContextNoveltySettings> = {}, state?: ContextNoveltyState): Detector<ContextNoveltyState> =>
  contextNoveltyDetector(settings)(state);

const noveltyContext: Context = (v) => `, a sequence seldom seen before (${Math.round(100 * v.aux)} % novel)`;
