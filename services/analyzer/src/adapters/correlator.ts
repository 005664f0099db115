// correlate: the analyzer's live correlation state — the dependency graph learned from spans, error
// signatures mined from failing spans' messages and exemplar traces — that the incident policy
// relates signals and ranks root causes with.
import type { Sql } from '@hephaestus/platform';
import type { SpanRecord } from '@hephaestus/schemas';
import { createExemplarStore, type ExemplarStore } from '../domain/correlation/exemplars.ts';
import { createSurgeTracker, createTemplateMiner, type SurgeSignal } from '../domain/correlation/signatures.ts';
import { createTopology, type TopologyView } from '../domain/correlation/topology.ts';

type SignatureCount = { template: string; count: number; lastMs: number };

export const createCorrelator = (options: { resolutionSeconds?: number } = {}) => {
  const topology = createTopology();
  const exemplars = createExemplarStore();
  const miner = createTemplateMiner();
  const resolutionMs = (options.resolutionSeconds ?? 10) * 1000;
  const surges = createSurgeTracker({ resolutionMs });
  let lastClosed: number | undefined;
  const signatures = new Map<string, Map<string, SignatureCount>>();

  const observe = (span: SpanRecord) => {
    topology.observe(span);
    exemplars.observe(span);
    const message = span.status === 'error' ? (span.statusMessage ?? span.events.find((e) => e.name === 'exception')?.attributes['exception.message']) : undefined;
    if (typeof message !== 'string' || message.length === 0) return;
    const mined = miner.add(message);
    if (mined.replaces) surges.rename(mined.replaces, mined.signatureId);
    surges.add(span.service, mined.signatureId, span.startTimeMs + span.durationMs);
    const counts = signatures.get(span.service) ?? new Map<string, SignatureCount>();
    signatures.set(span.service, counts);
    const previous = mined.replaces ? counts.get(mined.replaces) : undefined;
    if (mined.replaces) counts.delete(mined.replaces);
    const entry = counts.get(mined.signatureId) ?? { template: mined.template, count: previous?.count ?? 0, lastMs: 0 };
    entry.template = mined.template;
    entry.count++;
    entry.lastMs = Math.max(entry.lastMs, span.startTimeMs + span.durationMs);
    counts.set(mined.signatureId, entry);
    if (counts.size > 50) counts.delete(counts.keys().next().value!);
  };

  /** The service's most frequent error signature seen since `sinceMs`. */
  const topSignature = (service: string, sinceMs: number): { id: string; template: string } | undefined => {
    let best: [string, SignatureCount] | undefined;
    for (const entry of signatures.get(service) ?? []) if (entry[1].lastMs >= sinceMs && (!best || entry[1].count > best[1].count)) best = entry;
    return best ? { id: best[0], template: best[1].template } : undefined;
  };

  /** The template of a service's error signature, by id. */
  const templateOf = (service: string, signatureId: string): string | undefined => signatures.get(service)?.get(signatureId)?.template;

  /** Exemplar traces by id (the ones still kept), for root-cause ranking. */
  const traces = (traceIds: readonly string[]): SpanRecord[][] => traceIds.map((t) => exemplars.trace(t)).filter((t): t is SpanRecord[] => t !== undefined);

  /** A few whole traces of a service around a moment (failing, slowest, a normal one), for an incident to keep. */
  const exemplarsOf: ExemplarStore['exemplars'] = (service, options) => exemplars.exemplars(service, options);

  /** Closes the signature buckets before `closedBeforeMs`: the new and surging error signatures among them. */
  const closeSignatureBuckets = (closedBeforeMs: number): SurgeSignal[] => {
    const out: SurgeSignal[] = [];
    let next = lastClosed === undefined ? closedBeforeMs - resolutionMs : lastClosed + resolutionMs;
    for (; next < closedBeforeMs; next += resolutionMs) {
      out.push(...surges.close(next));
      lastClosed = next;
    }
    return out;
  };

  /** The learned graph, written where the API reads it. */
  const persistTopology = async (sql: Sql, nowMs: number) => {
    const edges = topology.edges(nowMs);
    await sql.begin(async (tx) => {
      await tx`DELETE FROM topology_edges`;
      if (edges.length === 0) return;
      await tx`INSERT INTO topology_edges ${tx(edges.map((e) => ({ caller: e.caller, callee: e.callee, calls: e.calls, errors: e.errors, updated_at: new Date(e.lastSeenMs) })))}`;
    });
  };

  return { observe, topSignature, templateOf, traces, exemplars: exemplarsOf, topology: topology as TopologyView, closeSignatureBuckets, persistTopology };
};
