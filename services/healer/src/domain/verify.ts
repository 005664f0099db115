// Whether a remediation worked: over the closed intervals from the start of verification to the end of
// its window (weighted by their samples; with three or more, after the first, where calls in flight at
// the action end), the signal is at or under the playbook's ceiling (`max`) and under the pre-incident
// baseline times `baselineFactor`. An error rate is a count of errors in a count of calls: it is over its
// ceiling only when more errors came than chance allows at that ceiling (one-sided binomial test), so a
// few stragglers in a small window do not fail a fix. Pure: the intervals and the time are arguments.
import { binomialUpperTail } from '@hephaestus/schemas';

export type VerifyPoint = { startMs: number; value: number; count: number };
export type Verification = { done: false } | { done: true; ok: boolean; detail: string };

/** An error rate over its ceiling fails a fix only when errors this many or more had at most this chance at the ceiling. */
export const errorRateAlpha = 0.05;

/** Fewer calls than this in the window: the rate itself is judged, as a handful of calls says too little either way. */
export const errorRateMinCalls = 20;

/** Intervals used for the baseline: the 30 before the incident's window. */
export const baselineIntervals = 30;

/** Mean of the signal over the intervals with data among the `baselineIntervals` before `windowStartMs`. */
export const baselineOf = (points: VerifyPoint[], windowStartMs: number, resolutionMs: number): number | undefined => {
  const before = points.filter((p) => p.count > 0 && p.startMs < windowStartMs && p.startMs >= windowStartMs - baselineIntervals * resolutionMs);
  return before.length === 0 ? undefined : before.reduce((s, p) => s + p.value, 0) / before.length;
};

export const formatSignal = (signal: string, value: number) =>
  signal === 'error_rate' ? `${(value * 100).toFixed(1)} %` : signal === 'latency_p99' ? `${value.toFixed(0)} ms` : `${Number(value.toPrecision(4))}`;

export const verifySignal = (
  points: VerifyPoint[],
  input: { signal: string; startedAtMs: number; windowSeconds: number; max?: number; baselineFactor?: number; baseline?: number; nowMs: number },
): Verification => {
  const fmt = (v: number) => formatSignal(input.signal, v);
  if (input.baselineFactor !== undefined && input.baseline === undefined) {
    return { done: true, ok: false, detail: `no ${input.signal} data before the incident to take a baseline from` };
  }
  const ceiling = input.baselineFactor !== undefined ? input.baseline! * input.baselineFactor : undefined;
  const limit = [input.max !== undefined ? `at most ${fmt(input.max)}` : '', ceiling !== undefined ? `under ${fmt(ceiling)} (baseline ${fmt(input.baseline!)} × ${input.baselineFactor})` : '']
    .filter(Boolean)
    .join(' and ');
  const window = points.filter((p) => p.startMs >= input.startedAtMs && p.startMs < input.startedAtMs + input.windowSeconds * 1000 && p.count > 0).sort((a, b) => a.startMs - b.startMs);
  // Calls in flight when the action ran end in the first interval after it (slow ones from a saturated
  // pool, failing ones a restart cut): with three intervals or more, that one settles and is not judged.
  const settling = window.length >= 3;
  const after = settling ? window.slice(1) : window;
  // The window is judged as a whole, each interval weighted by its samples (an error rate is errors over
  // calls): one interval of a few calls with two stragglers from before the action must not fail a fix.
  if (input.nowMs < input.startedAtMs + input.windowSeconds * 1000) return { done: false };
  if (after.length === 0) return { done: true, ok: false, detail: `no ${input.signal} data in the ${input.windowSeconds} s after the action to verify with` };
  const count = after.reduce((n, p) => n + p.count, 0);
  const mean = after.reduce((n, p) => n + p.value * p.count, 0) / count;
  const worst = Math.max(...after.map((p) => p.value));
  // The errors behind the rate (each interval's rate times its calls), judged against the ceiling.
  const errors = input.signal === 'error_rate' && count >= errorRateMinCalls ? Math.round(mean * count) : undefined;
  const chance = errors !== undefined && input.max !== undefined && mean > input.max ? binomialUpperTail(count, errors, input.max) : undefined;
  const overMax = input.max !== undefined && mean > input.max && (chance === undefined || chance <= errorRateAlpha);
  const over = overMax || (ceiling !== undefined && mean >= ceiling);
  const settled = settling ? `, the first of ${window.length} (${fmt(window[0]!.value)}) settling` : '';
  const luck =
    chance === undefined
      ? ''
      : `; ${errors} errors in ${count} calls ${chance <= errorRateAlpha ? 'are more than' : 'are within'} what ${fmt(input.max!)} gives by chance (p ${chance < 0.001 ? '< 0.001' : `= ${chance.toFixed(3)}`})`;
  const detail = `${input.signal} ${fmt(mean)} over ${after.length} intervals (${count} samples, worst ${fmt(worst)}${settled}) in the ${input.windowSeconds} s after the action, expected ${limit}${luck}`;
  return { done: true, ok: !over, detail };
};
