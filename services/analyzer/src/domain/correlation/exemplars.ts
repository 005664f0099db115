// Exemplar traces: the recent traces that hold a failing span, kept whole (as far as their spans
// arrived), so root-cause ranking can read the span trees of the trace ids a signal names; and per
// service a sample of its recent traces (the failing, the slowest and a normal one of each minute,
// as Jaeger's and Tempo's exemplars show), from which an incident keeps a few to draw. Bounded.
import type { ExemplarReason, ExemplarSpan } from '@hephaestus/aggregates';
import type { AttributeValue, SpanRecord } from '@hephaestus/schemas';

export type { ExemplarReason, ExemplarSpan };

export type ExemplarSettings = {
  /** Traces with a failing span kept; past this the least recently touched goes. */
  maxTraces: number;
  /** Traces without a failing span (yet) kept, so spans that arrived before the failure are not lost. */
  maxRecent: number;
  maxSpansPerTrace: number;
  /** The per-service sample: windows of this long, the newest `sampleWindows` of each service kept. */
  sampleWindowMs: number;
  sampleWindows: number;
  /** In each window, the first failing traces and the slowest traces kept, and one normal one. */
  failingPerWindow: number;
  slowPerWindow: number;
  /** Services sampled; past this the least recently seen goes. */
  maxSampledServices: number;
};

export const defaultExemplarSettings: ExemplarSettings = {
  maxTraces: 1_000,
  maxRecent: 5_000,
  maxSpansPerTrace: 200,
  sampleWindowMs: 60_000,
  sampleWindows: 15,
  failingPerWindow: 3,
  slowPerWindow: 3,
  maxSampledServices: 500,
};

type Trace = { spans: SpanRecord[] };

export type Exemplar = { traceId: string; reason: ExemplarReason; spans: SpanRecord[] };

/** A trace offered to a service's sample by the service's entry span (where the request reached it). */
type Candidate = { traceId: string; durationMs: number; trace: Trace };
type Window = { failing: Candidate[]; slow: Candidate[]; normal?: Candidate };

/**
 * What a checkpoint keeps of the store: the newest failing traces and every service's sample windows
 * (their traces shared, as v8's serializer keeps shared objects). Traces without a failing span that no
 * sample holds are left out: they are the bulk, and only matter if a failure follows within moments.
 */
export type ExemplarSnapshot = { failing: Array<[string, Trace]>; samples: Array<[string, Array<[number, Window]>]> };

/** How many traces a snapshot holds. */
export const snapshotTraces = (snapshot: ExemplarSnapshot): number =>
  new Set([
    ...snapshot.failing.map(([traceId]) => traceId),
    ...snapshot.samples.flatMap(([, windows]) => windows.flatMap(([, w]) => [...w.failing, ...w.slow, ...(w.normal ? [w.normal] : [])].map((c) => c.traceId))),
  ]).size;

export type ExemplarStore = {
  observe(span: SpanRecord): void;
  trace(traceId: string): SpanRecord[] | undefined;
  /**
   * Up to `limit` exemplar traces of `service` between `fromMs` and `toMs`: the traces a signal named
   * first, then failing ones, the slowest, and one normal trace, each trace once.
   */
  exemplars(service: string, options: { fromMs: number; toMs: number; traceIds?: readonly string[]; limit: number }): Exemplar[];
  /**
   * The part a checkpoint keeps: the newest `maxFailing` failing traces, and each service's sample
   * windows of the last `windows` window lengths (an incident opening after a restart draws on the minutes before it).
   */
  snapshot(limits?: { maxFailing?: number; windows?: number }): ExemplarSnapshot;
};

/** Where a request entered the service: a root span, or one the service served for another. */
const isEntry = (span: SpanRecord) => span.parentSpanId === undefined || span.kind === 'server' || span.kind === 'consumer';

export const createExemplarStore = (options: Partial<ExemplarSettings> = {}, saved?: ExemplarSnapshot): ExemplarStore => {
  const settings = { ...defaultExemplarSettings, ...options };
  // Map order is recency in all three: the first entry is the one to drop.
  const failing = new Map<string, Trace>(saved?.failing);
  const recent = new Map<string, Trace>();
  const samples = new Map<string, Map<number, Window>>((saved?.samples ?? []).map(([service, windows]) => [service, new Map(windows)]));

  const keep = <V>(map: Map<string, V>, key: string, value: V, limit: number) => {
    map.delete(key);
    map.set(key, value);
    while (map.size > limit) map.delete(map.keys().next().value!);
  };

  const sample = (span: SpanRecord, trace: Trace) => {
    const windows = samples.get(span.service) ?? new Map<number, Window>();
    keep(samples, span.service, windows, settings.maxSampledServices);
    const start = Math.floor((span.startTimeMs + span.durationMs) / settings.sampleWindowMs) * settings.sampleWindowMs;
    let window = windows.get(start);
    if (!window) {
      window = { failing: [], slow: [] };
      windows.set(start, window);
      const newest = Math.max(...windows.keys());
      for (const key of windows.keys()) if (key <= newest - settings.sampleWindows * settings.sampleWindowMs) windows.delete(key);
    }
    const candidate = { traceId: span.traceId, durationMs: span.durationMs, trace };
    if (span.status === 'error') {
      if (window.failing.length < settings.failingPerWindow && !window.failing.some((c) => c.traceId === span.traceId)) window.failing.push(candidate);
    } else {
      window.normal ??= candidate;
    }
    if (window.slow.some((c) => c.traceId === span.traceId)) return;
    window.slow.push(candidate);
    window.slow.sort((a, b) => b.durationMs - a.durationMs);
    window.slow.length = Math.min(window.slow.length, settings.slowPerWindow);
  };

  const observe = (span: SpanRecord) => {
    let trace = failing.get(span.traceId);
    if (trace) {
      if (trace.spans.length < settings.maxSpansPerTrace) trace.spans.push(span);
      keep(failing, span.traceId, trace, settings.maxTraces);
    } else {
      trace = recent.get(span.traceId) ?? { spans: [] };
      if (trace.spans.length < settings.maxSpansPerTrace) trace.spans.push(span);
      if (span.status === 'error') {
        recent.delete(span.traceId);
        keep(failing, span.traceId, trace, settings.maxTraces);
      } else {
        keep(recent, span.traceId, trace, settings.maxRecent);
      }
    }
    if (isEntry(span)) sample(span, trace);
  };

  const traceOf = (traceId: string) => failing.get(traceId)?.spans ?? recent.get(traceId)?.spans;

  const exemplars: ExemplarStore['exemplars'] = (service, { fromMs, toMs, traceIds = [], limit }) => {
    const windows = [...(samples.get(service) ?? new Map<number, Window>()).entries()]
      .filter(([start]) => start + settings.sampleWindowMs > fromMs && start <= toMs)
      .map(([, w]) => w);
    const named = traceIds.flatMap((traceId) => {
      const spans = traceOf(traceId);
      return spans ? [{ traceId, reason: 'failing' as const, spans }] : [];
    });
    const of = (reason: ExemplarReason, candidates: Candidate[]) => candidates.map((c) => ({ traceId: c.traceId, reason, spans: c.trace.spans }));
    const failingOnes = [...named, ...of('failing', windows.flatMap((w) => w.failing))];
    const slowest = of('slow', windows.flatMap((w) => w.slow).sort((a, b) => b.durationMs - a.durationMs));
    const normal = of('normal', windows.flatMap((w) => (w.normal ? [w.normal] : [])).reverse());
    // A share for each kind (two failing, two slow, one normal), then whatever is left, failing first.
    const chosen: Exemplar[] = [];
    const take = (from: Exemplar[], count: number) => {
      for (const e of from) {
        if (chosen.length >= limit || count <= 0) return;
        if (chosen.some((c) => c.traceId === e.traceId)) continue;
        chosen.push(e);
        count--;
      }
    };
    take(failingOnes, 2);
    take(slowest, 2);
    take(normal, 1);
    take(failingOnes, limit);
    take(slowest, limit);
    return chosen;
  };

  const snapshot = ({ maxFailing = 50, windows = 2 } = {}): ExemplarSnapshot => ({
    failing: [...failing].slice(-maxFailing),
    samples: [...samples].map(([service, kept]) => {
      const newest = Math.max(...kept.keys());
      return [service, [...kept].filter(([start]) => start > newest - windows * settings.sampleWindowMs)];
    }),
  });

  return { observe, trace: traceOf, exemplars, snapshot };
};

/** Attributes that say what a span did (OpenTelemetry semantic conventions), shown first. */
const tellingPrefixes = ['http.', 'url.', 'rpc.', 'db.', 'messaging.', 'gen_ai.', 'error.', 'exception.', 'server.', 'peer.'];
/** Message content (GenAI prompts and completions) stays out: an exemplar is kept for its shape, not its data. */
const contentKey = /prompt|completion|messages|content|body/i;

/** At most `max` scalar attributes, the telling ones first, long strings cut. */
export const fewAttributes = (attributes: Record<string, AttributeValue>, max = 8, maxLength = 200): ExemplarSpan['attributes'] => {
  const rank = (key: string) => {
    const at = tellingPrefixes.findIndex((p) => key.startsWith(p));
    return at < 0 ? tellingPrefixes.length : at;
  };
  const kept = Object.entries(attributes)
    .filter((entry): entry is [string, string | number | boolean] => ['string', 'number', 'boolean'].includes(typeof entry[1]) && !contentKey.test(entry[0]))
    .sort((a, b) => rank(a[0]) - rank(b[0]))
    .slice(0, max)
    .map(([key, value]) => [key, typeof value === 'string' && value.length > maxLength ? `${value.slice(0, maxLength - 1)}…` : value]);
  return Object.fromEntries(kept);
};

/** The spans of an exemplar to store: in start order, at most `maxSpans` of them. */
export const exemplarSpans = (spans: readonly SpanRecord[], maxSpans = 100): ExemplarSpan[] =>
  [...spans]
    .sort((a, b) => a.startTimeMs - b.startTimeMs)
    .slice(0, maxSpans)
    .map((s) => ({
      traceId: s.traceId,
      spanId: s.spanId,
      ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
      service: s.service,
      name: s.name,
      kind: s.kind,
      startTimeMs: s.startTimeMs,
      durationMs: s.durationMs,
      status: s.status,
      ...(s.statusMessage ? { statusMessage: s.statusMessage } : {}),
      attributes: fewAttributes(s.attributes),
    }));
