// Error rate far above the service's recent baseline, with enough calls to mean it: a one-sided
// binomial test of this bucket's errors against the baseline rate, gated by volume and effect size,
// so 1 error in 2 calls is not an incident while 200 in 1,000 is.
import { binomialUpperTail } from '@hephaestus/schemas';

export type Bucket = { startMs: number; calls: number; errors: number };

export type ErrorRateSettings = {
  /** Fewer calls than this in a bucket: no verdict. */
  minCalls: number;
  minErrors: number;
  /** The error rate must exceed the baseline by at least this much (absolute). */
  minIncrease: number;
  /** Largest p-value still called anomalous. */
  alpha: number;
  /** The baseline never goes below this rate (a service with no errors yet is not infinitely sensitive). */
  baselineFloor: number;
  /** Buckets of history the baseline is pooled over. */
  baselineBuckets: number;
  /** Consecutive normal buckets before an open incident resolves (hysteresis). */
  quietBuckets: number;
  /** Buckets with calls before the baseline counts as known; until then the margin doubles. */
  historyBuckets: number;
};

export const defaultErrorRateSettings: ErrorRateSettings = {
  minCalls: 20,
  minErrors: 5,
  minIncrease: 0.1,
  alpha: 1e-4,
  baselineFloor: 0.01,
  baselineBuckets: 30,
  quietBuckets: 2,
  historyBuckets: 10,
};

export type Verdict = {
  anomalous: boolean;
  /** In [0, 1]: 1 - p-value when the volume gates pass, else 0. */
  score: number;
  value: number;
  baseline: number;
  calls: number;
  errors: number;
  explanation: string;
};

/**
 * Errors over calls of the last `baselineBuckets` buckets, leaving out bursts: a bucket `minIncrease`
 * or more above the median bucket's rate. The first interval of a burst must not make the second one
 * look usual ("82 % vs usual 13 %"); a level that lasts past half the buckets becomes the median, and usual.
 */
export const pooledBaseline = (history: Bucket[], settings: ErrorRateSettings): number => {
  const recent = history.slice(-settings.baselineBuckets).filter((b) => b.calls > 0);
  const rates = recent.map((b) => b.errors / b.calls).sort((x, y) => x - y);
  const median = rates.length === 0 ? 0 : rates.length % 2 === 1 ? rates[(rates.length - 1) / 2]! : (rates[rates.length / 2 - 1]! + rates[rates.length / 2]!) / 2;
  const usual = recent.filter((b) => b.errors / b.calls < median + settings.minIncrease);
  const calls = usual.reduce((n, b) => n + b.calls, 0);
  const errors = usual.reduce((n, b) => n + b.errors, 0);
  return Math.max(calls > 0 ? errors / calls : 0, settings.baselineFloor);
};

const percent = (rate: number) => `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)} %`;

export const detectErrorRate = (current: Bucket, history: Bucket[], settings = defaultErrorRateSettings): Verdict => {
  const baseline = pooledBaseline(history, settings);
  const value = current.calls > 0 ? current.errors / current.calls : 0;
  const base = { value, baseline, calls: current.calls, errors: current.errors };
  if (current.calls < settings.minCalls || current.errors < settings.minErrors) {
    return { ...base, anomalous: false, score: 0, explanation: `error rate ${percent(value)} on ${current.calls} calls: too few to judge` };
  }
  const pValue = binomialUpperTail(current.calls, current.errors, baseline);
  const score = Math.max(0, Math.min(1, 1 - pValue));
  const anomalous = pValue <= settings.alpha && value - baseline >= settings.minIncrease;
  return {
    ...base,
    anomalous,
    score,
    explanation: `error rate ${percent(value)} (${current.errors} of ${current.calls} calls) vs usual ${percent(baseline)}`,
  };
};

/** A bucket counts as recovered when it has traffic and its rate is back within half the alarm margin. */
export const isRecovered = (bucket: Bucket, baseline: number, settings = defaultErrorRateSettings): boolean =>
  bucket.calls > 0 && bucket.errors / bucket.calls <= baseline + settings.minIncrease / 2;

/** Consecutive recovered buckets at the end of the series; buckets without calls neither count nor break it. */
export const quietStreak = (buckets: Bucket[], baseline: number, settings = defaultErrorRateSettings): number => {
  let streak = 0;
  for (let i = buckets.length - 1; i >= 0; i--) {
    const bucket = buckets[i]!;
    if (bucket.calls === 0) continue;
    if (!isRecovered(bucket, baseline, settings)) break;
    streak++;
  }
  return streak;
};
