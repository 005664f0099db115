// detect (error rate): the count-aware test per service and closed interval, on the stored rollups. While
// an incident holds a service's error rate, an interval still off its frozen baseline keeps it open
// (hysteresis). The judge runs it for every service when one analyzer does both stages; apart, each
// collector runs it for the services whose partitions it holds.
import type { Sql } from '@hephaestus/platform';
import type { ErrorRateSettings } from '../domain/error-rate-detector.ts';
import type { Observation } from '../domain/incident-policy.ts';
import { errorRateObservation } from '../domain/observations.ts';
import { readBuckets, type StoredBucket } from './rollup-store.ts';

export type ErrorRateWatch = {
  sql: Sql;
  resolutionSeconds: number;
  settings: ErrorRateSettings;
  /** The baseline an open incident froze for a service's error rate. */
  frozen: (service: string, signal: string) => number | undefined;
  /** The top error signature of a service's interval (the judge's correlator); apart, the judge adds it. */
  signatureOf?: (service: string, atMs: number) => { id: string; template: string } | undefined;
  /** Only these services (a collector's); unset: every one. */
  owns?: (service: string) => boolean;
};

/** Observations of every interval from `first` (or a later `firstOf(service)`) to `closedBefore`. */
export const observeErrorRates = async (watch: ErrorRateWatch, first: number, closedBefore: number, firstOf?: (service: string) => number): Promise<Observation[]> => {
  const { settings } = watch;
  const resolutionMs = watch.resolutionSeconds * 1000;
  const series = await readBuckets(watch.sql, watch.resolutionSeconds, first - settings.baselineBuckets * resolutionMs, closedBefore);
  const out: Observation[] = [];
  for (const [service, buckets] of series) {
    if (watch.owns && !watch.owns(service)) continue;
    const byStart = new Map(buckets.map((b) => [b.startMs, b]));
    for (let start = Math.max(first, firstOf?.(service) ?? first); start < closedBefore; start += resolutionMs) {
      const current = byStart.get(start);
      if (!current) continue;
      const observation = errorRateObservation({
        service,
        current,
        history: buckets.filter((b: StoredBucket) => b.startMs < start && b.startMs >= start - settings.baselineBuckets * resolutionMs),
        frozenBaseline: watch.frozen(service, 'error_rate'),
        settings,
        resolutionSeconds: watch.resolutionSeconds,
        signature: watch.signatureOf?.(service, start - resolutionMs),
        controlUrl: buckets.findLast((b) => b.controlUrl)?.controlUrl ?? undefined,
      });
      if (observation) out.push(observation);
    }
  }
  return out;
};
