// Window shape: the last few dozen points, averaged into a few segments and taken relative to their own
// mean, are a shape (a ramp, a step, a bump); the detector keeps prototypes of the shapes it has met
// (an adaptive-resonance-style memory, as ARTime and KNN-CAD keep one in NAB) and judges how far the
// current shape lies from the nearest. A step or a new wiggle shows while it is still inside the
// window, earlier than a level test sees it; a slow daily cycle is only ramps, met every day.
import { decayOf, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Context, type Detector, type RecordState } from './detector.ts';

export type WindowShapeSettings = CommonSettings & {
  /** Points per segment and segments per window (the window is their product). */
  segmentPoints: number;
  segments: number;
  /** Shapes remembered (state: 4 × (segments + 1) bytes each). */
  prototypes: number;
  /** A shape farther than this (in usual spreads, Euclidean) from every prototype becomes one. */
  vigilance: number;
  /** Most weight a new shape has in the prototype it matches. */
  learningRate: number;
  /** Points the usual spread remembers. */
  spreadPoints: number;
  /** Distances below this are never anomalous. */
  minDistance: number;
};

export const defaultWindowShapeSettings: WindowShapeSettings = {
  ...defaultCommonSettings,
  segmentPoints: 4,
  segments: 8,
  prototypes: 24,
  vigilance: 3,
  learningRate: 0.05,
  spreadPoints: 1000,
  minDistance: 3,
};

export type WindowShapeState = {
  n: number;
  mean: number;
  spread: number;
  /** The last segments × segmentPoints values. */
  ring: Float64Array;
  /** Per prototype: its segments, then its use (0: unused slot). */
  shapes: Float32Array;
  use: Float32Array;
  /** The prototype the last shape matched (measured first next time); absent in older checkpoints. */
  last?: number;
  record: RecordState;
  alarm: AlarmState;
};

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const windowShapeDetector = (settings: Partial<WindowShapeSettings> = {}) => {
  const s: WindowShapeSettings = { ...defaultWindowShapeSettings, ...settings };
  const { segmentPoints: sp, segments: d, prototypes: k } = s;
  const w = sp * d;
  const decay = decayOf(s.recordHalfLifePoints);
  const useDecay = decayOf(10 * w);
  const wSpread = 1 / s.spreadPoints;
  const shape = new Float64Array(d);
  return (state?: WindowShapeState): Detector<WindowShapeState> => {
    const st: WindowShapeState = state ?? {
      n: 0,
      mean: 0,
      spread: 0,
      ring: new Float64Array(w),
      shapes: new Float32Array(k * d),
      use: new Float32Array(k),
      record: newRecord(),
      alarm: newAlarm(),
    };
    const { ring, shapes, use } = st;
    // Each prototype's length (kept beside the state, not in it): |‖shape‖ − ‖prototype‖| is a lower bound
    // of their distance, so a prototype that cannot be the nearest is passed over without measuring it.
    const norms = new Float64Array(k);
    const normOf = (p: number) => {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += shapes[p * d + j]! * shapes[p * d + j]!;
      norms[p] = Math.sqrt(sq);
    };
    for (let p = 0; p < k; p++) normOf(p);
    const distanceTo = (p: number) => {
      let sq = 0;
      for (let j = 0; j < d; j++) {
        const e = shape[j]! - shapes[p * d + j]!;
        sq += e * e;
      }
      return sq;
    };
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        const n = st.n++;
        if (n === 0) st.mean = value;
        const a = Math.max(wSpread, 1 / (n + 1));
        const dev = value - st.mean;
        st.mean += a * dev;
        st.spread += a * (Math.abs(dev) - st.spread);
        ring[n % w] = value;
        if (n + 1 < w || !(st.spread > 0)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        // The shape: segment means, oldest first, less the window's mean, in usual spreads.
        let total = 0;
        let at = (n + 1) % w;
        for (let j = 0; j < d; j++) {
          let sum = 0;
          for (let i = 0; i < sp; i++) {
            sum += ring[at]!;
            if (++at === w) at = 0;
          }
          shape[j] = sum / sp;
          total += sum;
        }
        const windowMean = total / w;
        const scale = 1.25 * st.spread;
        let shapeSq = 0;
        for (let j = 0; j < d; j++) {
          shape[j] = (shape[j]! - windowMean) / scale;
          shapeSq += shape[j]! * shape[j]!;
        }
        const shapeNorm = Math.sqrt(shapeSq);
        // The nearest prototype (the lowest slot among equals), and the least used one (to be replaced by
        // a new shape). The last match is measured first: it is usually the nearest again, and a sum
        // already past the nearest distance stops early.
        let weakest = 0;
        for (let p = 0; p < k; p++) {
          use[p]! *= useDecay;
          if (use[p]! < use[weakest]!) weakest = p;
        }
        let nearest = -1;
        let nearestDistance = Number.POSITIVE_INFINITY;
        const first = st.last ?? -1;
        if (first >= 0 && use[first]! !== 0) {
          nearestDistance = distanceTo(first);
          nearest = first;
        }
        for (let p = 0; p < k; p++) {
          if (p === first || use[p]! === 0) continue;
          // The margin keeps rounding from passing over one that measures as near (or as near) as the best.
          const gap = shapeNorm - norms[p]!;
          if (gap * gap > nearestDistance * 1.000001 + 1e-12) continue;
          const base = p * d;
          let sq = 0;
          for (let j = 0; j < d && sq <= nearestDistance; j++) {
            const e = shape[j]! - shapes[base + j]!;
            sq += e * e;
          }
          if (sq < nearestDistance || (sq === nearestDistance && p < nearest)) {
            nearestDistance = sq;
            nearest = p;
          }
        }
        st.last = nearest;
        const distance = Math.sqrt(nearestDistance);
        const ratio = nearest >= 0 ? judge(st.record, distance, s.warmupPoints, decay, s.minDistance) : 0;
        if (nearest >= 0 && distance <= s.vigilance) {
          // Resonance: the prototype moves towards the shape, the more slowly the more it was used.
          const rate = Math.max(s.learningRate, 1 / (1 + use[nearest]!));
          for (let j = 0; j < d; j++) shapes[nearest * d + j]! += rate * (shape[j]! - shapes[nearest * d + j]!);
          use[nearest]! += 1;
          normOf(nearest);
        } else {
          for (let j = 0; j < d; j++) shapes[weakest * d + j] = shape[j]!;
          use[weakest] = 1;
          normOf(weakest);
        }
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        const learned = st.record.seen > s.warmupPoints;
        return new Verdict(score, anomalous, value, learned ? windowMean : Number.NaN, learned ? scale : 0, st.alarm.run, s, shapeContext, distance);
      },
    };
  };
};

export const createWindowShapeDetector = (settings: Partial<WindowShapeSettings> = {}, state?: WindowShapeState): Detector<WindowShapeState> =>
  windowShapeDetector(settings)(state);

const shapeContext: Context = (v) => `, the last points trace a shape unlike any met before (${v.aux.toFixed(1)} spreads from the nearest)`;
