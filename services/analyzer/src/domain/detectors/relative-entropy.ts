// Relative entropy over a sliding window (after Wang et al., "Statistical techniques for online
// anomaly detection in data centers", IM 2011; NAB's "relativeEntropy"): the values of the last few
// dozen points, binned, form a distribution; the detector keeps a few distributions it has seen
// often (hypotheses) and judges how far, in Kullback-Leibler divergence, the window lies from the
// nearest of them. Catches a change of shape (a new level, a new rhythm, a new spread) that no single
// point shows.
import { binOf, decayOf, defaultCommonSettings, learnEdges, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Context, type Detector, type RecordState } from './detector.ts';

export type RelativeEntropySettings = CommonSettings & {
  /** Points in the window whose distribution is judged. */
  windowPoints: number;
  /** Bins between the low and high edges learned in warm-up (values beyond fall in the end bins). */
  bins: number;
  /** Distributions kept (state: 8 × (bins + 3) bytes each). */
  hypotheses: number;
  /** A window within this divergence of a hypothesis supports it (Wang et al.: a chi-square test, 2 W KL ~ χ²(bins - 1)). */
  matchDivergence: number;
  /** A hypothesis with less than this share of the support is not (yet, or any more) a usual distribution. */
  minShare: number;
  /** Windows (of windowPoints each) a hypothesis' support remembers. */
  supportHalfLifeWindows: number;
  /** 2 W KL below this is never anomalous. */
  minStatistic: number;
};

export const defaultRelativeEntropySettings: RelativeEntropySettings = {
  ...defaultCommonSettings,
  windowPoints: 52,
  bins: 10,
  hypotheses: 5,
  matchDivergence: 0.25,
  minShare: 0.1,
  supportHalfLifeWindows: 100,
  minStatistic: 60,
};

export type RelativeEntropyState = {
  n: number;
  /** The bin edges' ends: learned over warm-up (min and max seen), then fixed, so every hypothesis reads the bins alike. */
  low: number;
  high: number;
  /** The last windowPoints bin indices, and the window's count per bin. */
  ring: Uint8Array;
  counts: Int32Array;
  /** Per hypothesis: log q per bin (Laplace-smoothed), support, mean and spread of its values; support 0: unused slot. */
  logq: Float64Array;
  support: Float64Array;
  centre: Float64Array;
  spread: Float64Array;
  record: RecordState;
  alarm: AlarmState;
};

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const relativeEntropyDetector = (settings: Partial<RelativeEntropySettings> = {}) => {
  const s: RelativeEntropySettings = { ...defaultRelativeEntropySettings, ...settings };
  const { windowPoints: w, bins: b, hypotheses: h } = s;
  const decay = decayOf(s.recordHalfLifePoints);
  const supportDecay = decayOf(s.supportHalfLifeWindows);
  // Learning the edges needs the warm-up, then a full window in them.
  const edgePoints = Math.max(w, Math.min(s.warmupPoints, 300));
  const cLogC = Float64Array.from({ length: w + 1 }, (_, c) => (c > 0 ? c * Math.log(c) : 0));
  return (state?: RelativeEntropyState): Detector<RelativeEntropyState> => {
    const st: RelativeEntropyState = state ?? {
      n: 0,
      low: Number.POSITIVE_INFINITY,
      high: Number.NEGATIVE_INFINITY,
      ring: new Uint8Array(w),
      counts: new Int32Array(b),
      logq: new Float64Array(h * b),
      support: new Float64Array(h),
      centre: new Float64Array(h),
      spread: new Float64Array(h),
      record: newRecord(),
      alarm: newAlarm(),
    };
    const { ring, counts, logq, support, centre, spread } = st;
    /** KL(window || hypothesis k), from the window's counts. */
    const divergence = (k: number): number => {
      let cross = 0;
      let self = 0;
      for (let i = 0; i < b; i++) {
        const c = counts[i]!;
        if (c === 0) continue;
        cross += c * logq[k * b + i]!;
        self += cLogC[c]!;
      }
      return (self - cross) / w - Math.log(w);
    };
    /** The window becomes hypothesis k. */
    const adopt = (k: number) => {
      let mean = 0;
      let square = 0;
      const width = (st.high - st.low) / b;
      for (let i = 0; i < b; i++) {
        logq[k * b + i] = Math.log((counts[i]! + 1) / (w + b));
        const x = st.low + (i + 0.5) * width;
        mean += (counts[i]! / w) * x;
        square += (counts[i]! / w) * x * x;
      }
      centre[k] = mean;
      spread[k] = Math.sqrt(Math.max(0, square - mean * mean));
      support[k] = 1;
    };
    /** Once per window: the window supports the nearest hypothesis, or becomes one (in place of the least supported). */
    const learn = () => {
      let nearest = -1;
      let nearestKl = Number.POSITIVE_INFINITY;
      let weakest = 0;
      for (let k = 0; k < h; k++) {
        support[k]! *= supportDecay;
        if (support[k]! < support[weakest]!) weakest = k;
        if (support[k]! === 0) continue;
        const kl = divergence(k);
        if (kl < nearestKl) {
          nearestKl = kl;
          nearest = k;
        }
      }
      if (nearest >= 0 && nearestKl <= s.matchDivergence) support[nearest]! += 1;
      else adopt(weakest);
    };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const n = st.n++;
        // The window fills once the edges are fixed.
        if (learnEdges(st, n, value, edgePoints)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const k = n - edgePoints;
        const bin = binOf(st, value, b);
        if (k >= w) counts[ring[k % w]!]!--;
        ring[k % w] = bin;
        counts[bin]!++;
        if (k + 1 < w) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        // The nearest usual distribution: enough support among all.
        let total = 0;
        for (let j = 0; j < h; j++) total += support[j]!;
        let nearest = -1;
        let nearestKl = Number.POSITIVE_INFINITY;
        for (let j = 0; j < h; j++) {
          if (support[j]! < s.minShare * total || support[j]! === 0) continue;
          const kl = divergence(j);
          if (kl < nearestKl) {
            nearestKl = kl;
            nearest = j;
          }
        }
        const ratio = nearest >= 0 ? judge(st.record, 2 * w * Math.max(0, nearestKl), s.warmupPoints, decay, s.minStatistic) : 0;
        if ((k + 1) % w === 0) learn();
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        const learned = nearest >= 0 && st.record.seen > s.warmupPoints;
        return new Verdict(score, anomalous, value, learned ? centre[nearest]! : Number.NaN, learned ? spread[nearest]! : 0, st.alarm.run, s, shapeContext, 2 * w * nearestKl);
      },
    };
  };
};

export const createRelativeEntropyDetector = (settings: Partial<RelativeEntropySettings> = {}, state?: RelativeEntropyState): Detector<RelativeEntropyState> =>
  relativeEntropyDetector(settings)(state);

const shapeContext: Context = (v) => `, recent values distributed unlike any usual stretch (divergence ${v.aux.toFixed(0)})`;
