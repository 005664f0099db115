// detect → observation: how the error-rate test and the error-signature miner turn one interval into
// an observation for the incident policy. Pure; the analyzer and bench:correlation both use these, so
// the bench scores what the analyzer runs.
import { detectErrorRate, isRecovered, type Bucket, type ErrorRateSettings } from './error-rate-detector.ts';
import type { Observation } from './incident-policy.ts';
import type { SurgeSignal } from './correlation/signatures.ts';

const percent = (rate: number) => `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)} %`;

/**
 * The count-aware test on one interval of one service. While an incident holds the service's error
 * rate (`frozenBaseline`: the baseline it opened with), an interval still off that baseline keeps it
 * open (a `sustainOnly` observation: hysteresis). Undefined when the interval is unremarkable.
 */
export const errorRateObservation = (input: {
  service: string;
  current: Bucket & { errorTraceIds?: string[] };
  history: Bucket[];
  frozenBaseline?: number;
  settings: ErrorRateSettings;
  resolutionSeconds: number;
  signature?: { id: string; template: string };
  controlUrl?: string;
}): Observation | undefined => {
  const { current, settings, frozenBaseline } = input;
  // A service with little history has a baseline nobody knows yet (only the floor): it must stand out
  // twice as far before it counts, so a fleet's first intervals do not page on their usual errors.
  const known = input.history.filter((b) => b.calls > 0).length >= settings.historyBuckets;
  const verdict = detectErrorRate(current, input.history, known ? settings : { ...settings, minIncrease: 2 * settings.minIncrease });
  if (!verdict.anomalous && (frozenBaseline === undefined || isRecovered(current, frozenBaseline, settings))) return undefined;
  const baseline = verdict.anomalous ? verdict.baseline : frozenBaseline!;
  return {
    service: input.service,
    signal: 'error_rate',
    bucketStartMs: current.startMs,
    value: verdict.value,
    baseline,
    summary: verdict.anomalous ? verdict.explanation : `error rate ${percent(verdict.value)} still above usual ${percent(baseline)}`,
    explanation: {
      detector: 'binomial error-rate test',
      baseline,
      threshold: baseline + settings.minIncrease,
      windowSeconds: input.resolutionSeconds,
      evidence: `${current.errors} of ${current.calls} calls failed; p-value ≤ ${settings.alpha} needed, at least ${settings.minCalls} calls and ${settings.minErrors} errors`,
    },
    calls: current.calls,
    errors: current.errors,
    traceIds: current.errorTraceIds,
    controlUrl: input.controlUrl,
    signature: input.signature?.id,
    signatureTemplate: input.signature?.template,
    sustainOnly: !verdict.anomalous,
  };
};

/** A new or surging error signature: evidence for the incident it relates to. */
export const signatureObservation = (surge: SurgeSignal, template: string | undefined, resolutionSeconds: number): Observation => ({
  service: surge.service,
  signal: `error_signature.${surge.kind}`,
  bucketStartMs: surge.bucketStartMs,
  value: surge.count,
  baseline: surge.baseline,
  summary: `${surge.summary}: ${template ?? surge.signatureId}`,
  explanation: { detector: 'error signature miner', baseline: surge.baseline, windowSeconds: resolutionSeconds, evidence: `${surge.count} occurrences` },
  signature: surge.signatureId,
  signatureTemplate: template,
});
