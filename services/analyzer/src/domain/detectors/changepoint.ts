// Bayesian online changepoint detection (Adams and MacKay, 2007): a distribution over the run length
// (points since the last change), each run length with its own Normal-Gamma posterior of the level
// and spread, updated point by point with a constant hazard of change. The surprise of a point under
// the mixture of those posteriors is the deviation: a point the regime cannot explain scores, and so
// do the first points of a new regime, until the short run lengths have learned it.
import { decayOf, defaultCommonSettings, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Context, type Detector, type RecordState } from './detector.ts';

export type ChangepointSettings = CommonSettings & {
  /** Run lengths tracked; the last one stands for every longer run (state: 32 bytes each). */
  maxRunLength: number;
  /** Prior probability of a change at any point. */
  hazard: number;
  /** Points the prior's level and spread (the series' long-run ones) remember. */
  priorPoints: number;
  /** Surprise, as the |z| of a normal point as unlikely, below which nothing is anomalous. */
  minZ: number;
};

export const defaultChangepointSettings: ChangepointSettings = { ...defaultCommonSettings, maxRunLength: 64, hazard: 1 / 250, priorPoints: 1000, minZ: 4 };

export type ChangepointState = {
  n: number;
  /** The prior: the long-run mean and variance. */
  mean: number;
  variance: number;
  /** Per run length: its probability, and the count, mean and sum of squared deviations of its points. */
  weight: Float64Array;
  count: Float64Array;
  level: Float64Array;
  squares: Float64Array;
  record: RecordState;
  alarm: AlarmState;
};

const halfLog2Pi = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
const logGamma = (x: number): number => {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return halfLog2Pi + (x + 0.5) * Math.log(t) - t + Math.log(a);
};

/** One set of settings for many series: call the result once per series (with a saved state to resume it). */
export const changepointDetector = (settings: Partial<ChangepointSettings> = {}) => {
  const s: ChangepointSettings = { ...defaultChangepointSettings, ...settings };
  const r = s.maxRunLength;
  const decay = decayOf(s.recordHalfLifePoints);
  const wPrior = 1 / s.priorPoints;
  // Normal-Gamma prior: κ0 = 1, α0 = 1, β0 = α0 × the long-run variance. The Student-t predictive of a
  // run with c points has 2 α = 2 + c degrees of freedom; its normalising constant depends on c only.
  const constant = Float64Array.from({ length: r + 1 }, (_, c) => {
    const nu = 2 + c;
    return logGamma((nu + 1) / 2) - logGamma(nu / 2) - 0.5 * Math.log(nu * Math.PI);
  });
  return (state?: ChangepointState): Detector<ChangepointState> => {
    const st: ChangepointState = state ?? {
      n: 0,
      mean: 0,
      variance: 0,
      weight: new Float64Array(r),
      count: new Float64Array(r),
      level: new Float64Array(r),
      squares: new Float64Array(r),
      record: newRecord(),
      alarm: newAlarm(),
    };
    const { weight, count, level, squares } = st;
    const next = new Float64Array(r);
    return {
      state: st,
      update(_timestampMs, value) {
        if (!Number.isFinite(value)) return new Verdict(0, st.alarm.active, value, Number.NaN, 0, st.alarm.run, s);
        if (st.n === 0) {
          st.mean = value;
          weight[0] = 1;
        }
        const mu0 = st.mean;
        const beta0 = st.variance + 1e-12 * (1 + mu0 * mu0);
        // Predictive density of the value under each run length, and the evidence (their mixture).
        let evidence = 0;
        let usual = 0;
        for (let k = 0; k < r; k++) {
          const wk = weight[k]!;
          if (wk < 1e-12) {
            next[k] = 0;
            continue;
          }
          const c = count[k]!;
          const kappa = 1 + c;
          const mu = (mu0 + c * level[k]!) / kappa;
          const alpha = 1 + c / 2;
          const dm = level[k]! - mu0;
          const beta = beta0 + squares[k]! / 2 + (c * dm * dm) / (2 * kappa);
          const scale2 = (beta * (kappa + 1)) / (alpha * kappa);
          const nu = 2 * alpha;
          const e = value - mu;
          const logp = constant[Math.min(r, Math.round(c))]! - 0.5 * Math.log(scale2) - ((nu + 1) / 2) * Math.log(1 + (e * e) / (nu * scale2));
          const p = wk * Math.exp(logp);
          next[k] = p;
          evidence += p;
          usual += wk * mu;
        }
        // Surprise against a normal point at the long-run spread: the |z| a normal value as unlikely would have.
        const sd = Math.sqrt(st.variance);
        const surprise = evidence > 0 && sd > 0 ? -Math.log(evidence) - halfLog2Pi - Math.log(sd) : 0;
        const z = Math.sqrt(2 * Math.max(0, surprise));
        const ratio = st.n >= 30 ? judge(st.record, z, s.warmupPoints, decay, s.minZ) : 0;
        // Grow every run by this point, or end it (a change): run length 0 takes the hazard's share.
        if (evidence > 0) {
          const last = r - 1;
          const longest = next[last]! + next[last - 1]!;
          const keepLongest = next[last]! >= next[last - 1]! ? last : last - 1;
          const lc = count[keepLongest]!;
          const ll = level[keepLongest]!;
          const ls = squares[keepLongest]!;
          for (let k = last; k > 0; k--) {
            weight[k] = ((k === last ? longest : next[k - 1]!) * (1 - s.hazard)) / evidence;
            if (k < last) {
              count[k] = count[k - 1]!;
              level[k] = level[k - 1]!;
              squares[k] = squares[k - 1]!;
            }
          }
          // The longest run forgets its oldest points so it stays a run of at most r points.
          count[last] = Math.min(lc, last - 1);
          level[last] = ll;
          squares[last] = lc > 0 ? (ls * count[last]!) / lc : 0;
          weight[0] = s.hazard;
          count[0] = 0;
          level[0] = 0;
          squares[0] = 0;
          for (let k = 1; k < r; k++) {
            const c = count[k]! + 1;
            const d = value - level[k]!;
            level[k] = level[k]! + d / c;
            squares[k] = squares[k]! + d * (value - level[k]!);
            count[k] = c;
          }
        }
        const w = Math.max(wPrior, 1 / (st.n + 1));
        const d = value - st.mean;
        st.mean += w * d;
        st.variance = (1 - w) * (st.variance + w * d * d);
        st.n++;
        const score = scoreOfRatio(ratio);
        const anomalous = stepAlarm(st.alarm, score, s);
        const learned = st.record.seen > s.warmupPoints;
        return new Verdict(score, anomalous, value, learned ? usual : Number.NaN, learned ? sd : 0, st.alarm.run, s, changeContext, z);
      },
    };
  };
};

export const createChangepointDetector = (settings: Partial<ChangepointSettings> = {}, state?: ChangepointState): Detector<ChangepointState> =>
  changepointDetector(settings)(state);

const changeContext: Context = (v) => `, as unlikely under every recent regime as a ${v.aux.toFixed(1)} σ deviation`;
