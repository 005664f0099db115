// The Numenta Anomaly Benchmark's scoring rules (NAB v1.1, numenta/NAB nab/sweeper.py, restated in
// ../shared/nab/README.md): anomaly windows, the scaled sigmoid, the cost profiles, the corpus-wide
// threshold sweep and the null/perfect normalisation. Pure: the harness in bench/nab does the I/O.

export type CostProfile = { name: string; tp: number; fp: number; fn: number };

export const profiles: readonly CostProfile[] = [
  { name: 'standard', tp: 1, fp: 0.11, fn: 1 },
  { name: 'reward_low_FP_rate', tp: 1, fp: 0.22, fn: 1 },
  { name: 'reward_low_FN_rate', tp: 1, fp: 0.11, fn: 2 },
];

/** A labelled anomaly window, both ends inclusive. */
export type Window = { startMs: number; endMs: number };

/** One series as NAB sees it: its timestamps and its labelled windows. */
export type LabelledSeries = { name: string; timestampsMs: readonly number[]; windows: readonly Window[] };

/** `2 / (1 + exp(5y)) - 1`: ~1 at a window's start (y = -1), 0 at its end, -> -1 far past it (y > 3 is -1 outright). */
export const scaledSigmoid = (y: number): number => (y > 3 ? -1 : 2 / (1 + Math.exp(5 * y)) - 1);

const maxTruePositive = scaledSigmoid(-1);

/** The first 15 % of a file, at most 750 points (15 % of 5,000), is probation: detections there do not count. */
export const probationLength = (points: number, percent = 0.15): number => Math.min(Math.floor(percent * points), percent * 5000);

const outside = -1;
const probation = -2;

/**
 * Where each point of a series stands, independent of the cost profile: `window[i]` is the index of
 * the window the point lies in (-1 outside every window, -2 in probation), and `credit[i]` is the
 * unweighted score a detection there earns: for a window point the sigmoid of its position, scaled so
 * a detection at the window's first point earns exactly A_TP (as NAB does); for any other point the
 * (negative) sigmoid of its distance past the preceding window, or -1 when none precedes it.
 */
export type PointLabels = { window: Int32Array; credit: Float64Array; windows: number };

export const labelPoints = (series: LabelledSeries): PointLabels => {
  const t = series.timestampsMs;
  const n = t.length;
  const window = new Int32Array(n).fill(outside);
  const credit = new Float64Array(n);
  const bounds = series.windows.map(({ startMs, endMs }) => {
    let left = 0;
    while (left < n && t[left]! < startMs) left++;
    let right = left;
    while (right + 1 < n && t[right + 1]! <= endMs) right++;
    return { left, right };
  });
  const probationEnd = probationLength(n);
  let next = 0;
  let current: { left: number; right: number } | undefined;
  let previous: { left: number; right: number } | undefined;
  const scorable = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (!current && next < bounds.length && bounds[next]!.left === i) current = bounds[next++];
    if (current) {
      const width = current.right - current.left + 1;
      credit[i] = scaledSigmoid(-(current.right - i + 1) / width) / maxTruePositive;
      window[i] = next - 1;
    } else if (previous) {
      const width = previous.right - previous.left + 1;
      credit[i] = scaledSigmoid(Math.abs(i - previous.right) / Math.max(1, width - 1));
    } else {
      credit[i] = -1;
    }
    if (i < probationEnd) window[i] = probation;
    else if (window[i]! >= 0) scorable.add(window[i]!);
    if (current && i === current.right) {
      previous = current;
      current = undefined;
    }
  }
  // A window lying wholly in probation cannot be scored: it is dropped, as NAB drops it.
  const renumber = new Map([...scorable].sort((a, b) => a - b).map((w, k) => [w, k]));
  for (let i = 0; i < n; i++) if (window[i]! >= 0) window[i] = renumber.get(window[i]!)!;
  return { window, credit, windows: renumber.size };
};

export type FileScore = { raw: number; detectedWindows: number; missedWindows: number; falsePositives: number };

const emptyScore = (): FileScore => ({ raw: 0, detectedWindows: 0, missedWindows: 0, falsePositives: 0 });

/** The NAB score of one series at a threshold: a point is a detection when its score is at least the threshold. */
export const scoreAtThreshold = (labels: PointLabels, scores: ArrayLike<number>, threshold: number, profile: CostProfile): FileScore => {
  const best = new Float64Array(labels.windows).fill(Number.NEGATIVE_INFINITY);
  const result = emptyScore();
  for (let i = 0; i < scores.length; i++) {
    const w = labels.window[i]!;
    if (w === probation || !(scores[i]! >= threshold)) continue;
    if (w === outside) {
      result.raw += profile.fp * labels.credit[i]!;
      result.falsePositives++;
    } else {
      best[w] = Math.max(best[w]!, profile.tp * labels.credit[i]!);
    }
  }
  for (const b of best) {
    if (b === Number.NEGATIVE_INFINITY) {
      result.raw -= profile.fn;
      result.missedWindows++;
    } else {
      // NAB keeps the better of the miss cost and the best detection (a detection at a window's very end earns ~0).
      result.raw += Math.max(-profile.fn, b);
      result.detectedWindows++;
    }
  }
  return result;
};

/** A detector that never fires misses every window; the perfect one catches each at its first point. */
export const nullScore = (windows: number, profile: CostProfile): number => -profile.fn * windows;
export const perfectScore = (windows: number, profile: CostProfile): number => profile.tp * windows;

export const normalizeScore = (raw: number, windows: number, profile: CostProfile): number => {
  const zero = nullScore(windows, profile);
  return (100 * (raw - zero)) / (perfectScore(windows, profile) - zero);
};

export type SweepResult = { threshold: number; raw: number; normalized: number; windows: number };

/**
 * The corpus-wide threshold: every distinct score is tried as the threshold (as NAB's optimiser does,
 * exhaustively), the whole corpus is scored at each, and the best total wins. Ties go to the higher
 * threshold. O(P log P) in the number of points.
 */
export const sweepThreshold = (files: ReadonlyArray<{ labels: PointLabels; scores: ArrayLike<number> }>, profile: CostProfile): SweepResult => {
  let points = 0;
  let windows = 0;
  for (const f of files) {
    for (let i = 0; i < f.scores.length; i++) if (f.labels.window[i] !== probation) points++;
    windows += f.labels.windows;
  }
  const score = new Float64Array(points);
  const gain = new Float64Array(points);
  const windowOf = new Int32Array(points);
  let k = 0;
  let windowBase = 0;
  for (const f of files) {
    for (let i = 0; i < f.scores.length; i++) {
      const w = f.labels.window[i]!;
      if (w === probation) continue;
      score[k] = f.scores[i]!;
      windowOf[k] = w === outside ? -1 : windowBase + w;
      gain[k] = (w === outside ? profile.fp : profile.tp) * f.labels.credit[i]!;
      k++;
    }
    windowBase += f.labels.windows;
  }
  const order = new Uint32Array(points).map((_, i) => i).sort((a, b) => score[b]! - score[a]!);
  const best = new Float64Array(windows).fill(-profile.fn);
  let total = -profile.fn * windows;
  let bestTotal = total;
  let bestThreshold = Number.POSITIVE_INFINITY;
  for (let j = 0; j < points; j++) {
    const p = order[j]!;
    const w = windowOf[p]!;
    if (w < 0) total += gain[p]!;
    else if (gain[p]! > best[w]!) {
      total += gain[p]! - best[w]!;
      best[w] = gain[p]!;
    }
    const last = j + 1 === points || score[order[j + 1]!]! !== score[p]!;
    if (last && total > bestTotal) {
      bestTotal = total;
      bestThreshold = score[p]!;
    }
  }
  return { threshold: bestThreshold, raw: bestTotal, normalized: normalizeScore(bestTotal, windows, profile), windows };
};
