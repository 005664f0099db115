// The service dependency graph learned from spans: an edge caller → callee per cross-service call,
// with calls and errors over a sliding window. Pure and bounded: time comes from the spans themselves.
import type { AttributeValue, SpanRecord } from '@hephaestus/schemas';

export type TopologySettings = {
  /** Spans held while waiting for the other side of their call (both directions together). */
  maxPending: number;
  /** Calls and errors per edge are counted over this sliding window. */
  windowMs: number;
  /** How long (in span time) a span waits for its counterpart before it is given up. */
  pendingMs: number;
  /** An edge with no call for this long is forgotten. */
  forgetMs: number;
  /** Most edges kept; past this the least recently called one goes. */
  maxEdges: number;
};

export const defaultTopologySettings: TopologySettings = {
  maxPending: 50_000,
  windowMs: 5 * 60_000,
  pendingMs: 30_000,
  forgetMs: 24 * 3_600_000,
  maxEdges: 10_000,
};

export type Edge = {
  caller: string;
  callee: string;
  /** Calls and failed calls inside the window that ends at the `nowMs` asked about. */
  calls: number;
  errors: number;
  errorRate: number;
  lastSeenMs: number;
};

/** The read side that grouping and ranking need; a learned topology or a hand-made one. */
export type TopologyView = {
  downstreamOf(service: string): string[];
  upstreamOf(service: string): string[];
  edges(nowMs: number): Edge[];
};

/**
 * The services `service` calls, or is called by, directly or through up to `hops` calls: its callers'
 * callers and its callees' callees, not the services that only share a callee with it (a fault of the
 * service travels along its calls, not to another caller of the same database).
 */
export const connectedWithin = (topology: Pick<TopologyView, 'downstreamOf' | 'upstreamOf'>, service: string, hops: number): Set<string> => {
  const found = new Set<string>();
  for (const next of [(x: string) => topology.downstreamOf(x), (x: string) => topology.upstreamOf(x)]) {
    const seen = new Set([service]);
    let frontier = [service];
    for (let d = 1; d <= hops && frontier.length > 0; d++) {
      frontier = frontier.flatMap(next).filter((x) => !seen.has(x) && (seen.add(x), true));
      for (const x of frontier) found.add(x);
    }
  }
  found.delete(service);
  return found;
};

/** One side of a call waiting for the other: a client/producer span or a server/consumer span. */
type PendingSpan = { role: 'call' | 'child'; service: string; timeMs: number; error: boolean; peer?: string; expiresMs: number };

/** `[slotStartMs, calls, errors]`, oldest first. */
type Slot = [number, number, number];
type EdgeState = { caller: string; callee: string; lastSeenMs: number; slots: Slot[] };

export type TopologySnapshot = {
  version: 1;
  highWaterMs: number;
  edges: EdgeState[];
  pending: Array<PendingSpan & { key: string }>;
};

export type Topology = TopologyView & {
  observe(span: SpanRecord): void;
  /** Gives up every pending span older than `nowMs` allows (calls fall back to `peer.service`). */
  flush(nowMs: number): void;
  toJSON(): TopologySnapshot;
};

/** Slots per window: counts are kept per tenth of the window, so the window slides in tenths. */
const slotsPerWindow = 10;

const text = (value: AttributeValue | undefined): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** Where a call went when no child span says so (OTel semantic conventions: `peer.service`, then `server.address`). */
const peerOf = (span: SpanRecord): string | undefined => text(span.attributes['peer.service']) ?? text(span.attributes['server.address']);

const spanKey = (traceId: string, spanId: string) => `${traceId}:${spanId}`;

export const createTopology = (options: Partial<TopologySettings> = {}, snapshot?: TopologySnapshot): Topology => {
  const settings = { ...defaultTopologySettings, ...options };
  const slotMs = Math.max(1, Math.floor(settings.windowMs / slotsPerWindow));
  const edgeStates = new Map<string, EdgeState>();
  const down = new Map<string, Set<string>>();
  const up = new Map<string, Set<string>>();
  // Insertion order is arrival order: expiry is checked from the front, so a span from a late batch
  // may wait up to one more pendingMs behind younger ones (bounded by maxPending all the same).
  const pending = new Map<string, PendingSpan>();
  let highWaterMs = snapshot?.highWaterMs ?? 0;
  let lastSweepSlot = Math.floor(highWaterMs / slotMs);

  const link = (caller: string, callee: string) => {
    if (!down.has(caller)) down.set(caller, new Set());
    if (!up.has(callee)) up.set(callee, new Set());
    down.get(caller)!.add(callee);
    up.get(callee)!.add(caller);
  };
  const unlink = (edge: EdgeState) => {
    edgeStates.delete(`${edge.caller}\u0000${edge.callee}`);
    down.get(edge.caller)?.delete(edge.callee);
    up.get(edge.callee)?.delete(edge.caller);
    if (down.get(edge.caller)?.size === 0) down.delete(edge.caller);
    if (up.get(edge.callee)?.size === 0) up.delete(edge.callee);
  };

  const record = (caller: string, callee: string, timeMs: number, error: boolean) => {
    if (caller === callee) return;
    const key = `${caller}\u0000${callee}`;
    let edge = edgeStates.get(key);
    if (!edge) {
      if (edgeStates.size >= settings.maxEdges) {
        let oldest: EdgeState | undefined;
        for (const e of edgeStates.values()) if (!oldest || e.lastSeenMs < oldest.lastSeenMs) oldest = e;
        if (oldest) unlink(oldest);
      }
      edge = { caller, callee, lastSeenMs: timeMs, slots: [] };
      edgeStates.set(key, edge);
      link(caller, callee);
    }
    edge.lastSeenMs = Math.max(edge.lastSeenMs, timeMs);
    const start = Math.floor(timeMs / slotMs) * slotMs;
    // Calls mostly arrive in time order: look for the slot from the newest end.
    let i = edge.slots.length - 1;
    while (i >= 0 && edge.slots[i]![0] > start) i--;
    if (i >= 0 && edge.slots[i]![0] === start) {
      edge.slots[i]![1]++;
      if (error) edge.slots[i]![2]++;
    } else {
      if (start < highWaterMs - settings.windowMs - slotMs) return; // too late to count in any window
      edge.slots.splice(i + 1, 0, [start, 1, error ? 1 : 0]);
    }
    const keepFrom = Math.max(highWaterMs, timeMs) - settings.windowMs - slotMs;
    while (edge.slots.length > 0 && edge.slots[0]![0] < keepFrom) edge.slots.shift();
  };

  const giveUp = (key: string, entry: PendingSpan) => {
    pending.delete(key);
    if (entry.role === 'call' && entry.peer) record(entry.service, entry.peer, entry.timeMs, entry.error);
  };

  const hold = (key: string, entry: PendingSpan) => {
    pending.set(key, entry);
    while (pending.size > settings.maxPending) {
      const [oldestKey, oldest] = pending.entries().next().value!;
      giveUp(oldestKey, oldest);
    }
  };

  const flush = (nowMs: number) => {
    for (const [key, entry] of pending) {
      if (entry.expiresMs > nowMs) break;
      giveUp(key, entry);
    }
  };

  // Forgetting edges is a sweep over all of them, so it runs once per slot of span time.
  const sweep = () => {
    const slot = Math.floor(highWaterMs / slotMs);
    if (slot === lastSweepSlot) return;
    lastSweepSlot = slot;
    for (const edge of [...edgeStates.values()]) if (edge.lastSeenMs < highWaterMs - settings.forgetMs) unlink(edge);
  };

  const observe = (span: SpanRecord) => {
    const timeMs = span.startTimeMs + span.durationMs;
    highWaterMs = Math.max(highWaterMs, timeMs);
    const error = span.status === 'error';
    if (span.kind === 'client' || span.kind === 'producer') {
      const key = spanKey(span.traceId, span.spanId);
      const child = pending.get(key);
      if (child?.role === 'child') {
        pending.delete(key);
        record(span.service, child.service, timeMs, error || child.error);
      } else {
        hold(key, { role: 'call', service: span.service, timeMs, error, peer: peerOf(span), expiresMs: timeMs + settings.pendingMs });
      }
    } else if (span.kind === 'server' || span.kind === 'consumer') {
      // A consumer may be linked to its producer rather than parented by it (OTel messaging conventions).
      const parents = span.parentSpanId ? [spanKey(span.traceId, span.parentSpanId)] : [];
      if (span.kind === 'consumer') parents.push(...span.links.map((l) => spanKey(l.traceId, l.spanId)));
      const matched = parents.find((key) => pending.get(key)?.role === 'call');
      if (matched) {
        const call = pending.get(matched)!;
        pending.delete(matched);
        record(call.service, span.service, call.timeMs, error || call.error);
      } else if (parents[0]) {
        hold(parents[0], { role: 'child', service: span.service, timeMs, error, expiresMs: timeMs + settings.pendingMs });
      }
    }
    flush(highWaterMs);
    sweep();
  };

  const edges = (nowMs: number): Edge[] => {
    const from = nowMs - settings.windowMs;
    const out: Edge[] = [];
    for (const edge of edgeStates.values()) {
      if (edge.lastSeenMs < nowMs - settings.forgetMs) continue;
      let calls = 0;
      let errors = 0;
      for (const [start, c, e] of edge.slots) {
        if (start + slotMs <= from || start > nowMs) continue;
        calls += c;
        errors += e;
      }
      out.push({ caller: edge.caller, callee: edge.callee, calls, errors, errorRate: calls > 0 ? errors / calls : 0, lastSeenMs: edge.lastSeenMs });
    }
    return out.sort((a, b) => a.caller.localeCompare(b.caller) || a.callee.localeCompare(b.callee));
  };

  if (snapshot) {
    for (const edge of snapshot.edges) {
      edgeStates.set(`${edge.caller}\u0000${edge.callee}`, { ...edge, slots: edge.slots.map((s) => [...s] as Slot) });
      link(edge.caller, edge.callee);
    }
    for (const { key, ...entry } of snapshot.pending) pending.set(key, entry);
  }

  return {
    observe,
    flush,
    edges,
    downstreamOf: (service) => [...(down.get(service) ?? [])].sort(),
    upstreamOf: (service) => [...(up.get(service) ?? [])].sort(),
    toJSON: () => ({
      version: 1,
      highWaterMs,
      edges: [...edgeStates.values()].map((e) => ({ ...e, slots: e.slots.map((s) => [...s] as Slot) })),
      pending: [...pending].map(([key, entry]) => ({ key, ...entry })),
    }),
  };
};

/** A topology restored from `toJSON()`, e.g. after a restart. */
export const topologyFromJSON = (snapshot: TopologySnapshot, options: Partial<TopologySettings> = {}): Topology => createTopology(options, snapshot);
