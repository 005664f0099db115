// Rolls spans up into fixed-resolution buckets per service: calls, errors and a latency sketch.
// A "call" is a span that enters the service: a server or consumer span, or a root span.
import { DDSketch } from '@datadog/sketches-js';
import type { SpanRecord } from '@hephaestus/schemas';

export type BucketDelta = {
  service: string;
  bucketStartMs: number;
  calls: number;
  errors: number;
  sketch: DDSketch;
  controlUrl?: string;
  /** Up to `maxExemplars` trace ids of failing calls. */
  errorTraceIds: string[];
};

export const maxExemplars = 5;

export const isCall = (span: SpanRecord): boolean =>
  span.kind === 'server' || span.kind === 'consumer' || span.parentSpanId === undefined;

export const bucketStart = (timeMs: number, resolutionSeconds: number): number =>
  Math.floor(timeMs / (resolutionSeconds * 1000)) * resolutionSeconds * 1000;

/** Spans are bucketed by end time: a span is counted once it is complete. */
export const rollupSpans = (spans: SpanRecord[], resolutionSeconds: number): BucketDelta[] => {
  const buckets = new Map<string, BucketDelta>();
  for (const span of spans) {
    if (!isCall(span)) continue;
    const start = bucketStart(span.startTimeMs + span.durationMs, resolutionSeconds);
    const key = `${span.service}\u0000${start}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = { service: span.service, bucketStartMs: start, calls: 0, errors: 0, sketch: new DDSketch({ relativeAccuracy: 0.01 }), errorTraceIds: [] };
      buckets.set(key, bucket);
    }
    bucket.calls++;
    if (span.status === 'error') {
      bucket.errors++;
      if (bucket.errorTraceIds.length < maxExemplars && !bucket.errorTraceIds.includes(span.traceId)) bucket.errorTraceIds.push(span.traceId);
    }
    bucket.sketch.accept(Math.max(span.durationMs, 0.001));
    const controlUrl = span.resource['heph.control.url'];
    if (typeof controlUrl === 'string') bucket.controlUrl = controlUrl;
  }
  return [...buckets.values()];
};

export const quantilesMs = (sketch: DDSketch) => ({
  p50: sketch.getValueAtQuantile(0.5),
  p95: sketch.getValueAtQuantile(0.95),
  p99: sketch.getValueAtQuantile(0.99),
});
