// correlate: the analyzer's live correlation state — the dependency graph learned from spans, error
// signatures mined from failing spans' messages, exemplar traces, and the open incident groups — and
// how a new anomaly joins an open incident (one fault, one page) with its root causes ranked.
import type { Sql } from '@hephaestus/platform';
import type { SpanRecord } from '@hephaestus/schemas';
import { closeQuietGroups, correlate, defaultGroupingSettings, rankRootCauses, type Group, type Signal } from '../domain/correlation/grouping.ts';
import { createExemplarStore } from '../domain/correlation/exemplars.ts';
import { createSurgeTracker, createTemplateMiner, type SurgeSignal } from '../domain/correlation/signatures.ts';
import { createTopology } from '../domain/correlation/topology.ts';

type SignatureCount = { template: string; count: number; lastMs: number };

export const createCorrelator = (options: { windowMs?: number; resolutionSeconds?: number } = {}) => {
  const settings = { ...defaultGroupingSettings, ...(options.windowMs ? { windowMs: options.windowMs } : {}) };
  const topology = createTopology();
  const exemplars = createExemplarStore();
  const miner = createTemplateMiner();
  const resolutionMs = (options.resolutionSeconds ?? 10) * 1000;
  const surges = createSurgeTracker({ resolutionMs });
  let lastClosed: number | undefined;
  const signatures = new Map<string, Map<string, SignatureCount>>();
  let groups: Group[] = [];
  /** Which incident each open group is. */
  const incidentOf = new Map<string, string>();

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

  /**
   * Where a new anomaly goes: an open group it relates to (same service or signature, topology
   * neighbours, shared traces, within the window) → that group's incident, with root causes
   * re-ranked; otherwise a new group for the incident the caller opens.
   */
  const place = (signal: Signal, nowMs: number): { join?: { incidentId: string; reason: string; attached: boolean; candidates: ReturnType<typeof rankRootCauses> }; adopt: (incidentId: string) => void } => {
    groups = closeQuietGroups(groups, nowMs, settings).open;
    for (const id of [...incidentOf.keys()]) if (!groups.some((g) => g.id === id)) incidentOf.delete(id);
    const result = correlate(signal, groups, topology, settings);
    groups = [...groups.filter((g) => g.id !== result.group.id), result.group];
    const incidentId = incidentOf.get(result.group.id);
    if (!result.isNew && incidentId) {
      const traces = result.group.traceIds.map((t) => exemplars.trace(t)).filter((t): t is SpanRecord[] => t !== undefined);
      return { join: { incidentId, reason: result.reason, attached: result.attached, candidates: rankRootCauses(result.group, topology, traces) }, adopt: () => {} };
    }
    return { adopt: (id: string) => incidentOf.set(result.group.id, id) };
  };

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

  return { observe, topSignature, place, closeSignatureBuckets, persistTopology };
};
