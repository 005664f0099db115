// Exemplar traces: the recent traces that hold a failing span, kept whole (as far as their spans
// arrived), so root-cause ranking can read the span trees of the trace ids a signal names. Bounded.
import type { SpanRecord } from '@hephaestus/schemas';

export type ExemplarSettings = {
  /** Traces with a failing span kept; past this the least recently touched goes. */
  maxTraces: number;
  /** Traces without a failing span (yet) kept, so spans that arrived before the failure are not lost. */
  maxRecent: number;
  maxSpansPerTrace: number;
};

export const defaultExemplarSettings: ExemplarSettings = { maxTraces: 1_000, maxRecent: 5_000, maxSpansPerTrace: 200 };

type Trace = { spans: SpanRecord[] };

export type ExemplarStore = {
  observe(span: SpanRecord): void;
  trace(traceId: string): SpanRecord[] | undefined;
};

export const createExemplarStore = (options: Partial<ExemplarSettings> = {}): ExemplarStore => {
  const settings = { ...defaultExemplarSettings, ...options };
  // Map order is recency in both: the first entry is the one to drop.
  const failing = new Map<string, Trace>();
  const recent = new Map<string, Trace>();

  const keep = (map: Map<string, Trace>, traceId: string, trace: Trace, limit: number) => {
    map.delete(traceId);
    map.set(traceId, trace);
    while (map.size > limit) map.delete(map.keys().next().value!);
  };

  const observe = (span: SpanRecord) => {
    let trace = failing.get(span.traceId);
    if (trace) {
      if (trace.spans.length < settings.maxSpansPerTrace) trace.spans.push(span);
      keep(failing, span.traceId, trace, settings.maxTraces);
      return;
    }
    trace = recent.get(span.traceId) ?? { spans: [] };
    if (trace.spans.length < settings.maxSpansPerTrace) trace.spans.push(span);
    if (span.status === 'error') {
      recent.delete(span.traceId);
      keep(failing, span.traceId, trace, settings.maxTraces);
    } else {
      keep(recent, span.traceId, trace, settings.maxRecent);
    }
  };

  return { observe, trace: (traceId) => failing.get(traceId)?.spans ?? recent.get(traceId)?.spans };
};
