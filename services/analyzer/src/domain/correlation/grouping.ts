// Correlation: related signals close in time join one group (one incident, one page), and the
// group's affected services are ranked by how likely each is the root cause, with the evidence.
import { createHash } from 'node:crypto';
import type { SpanRecord } from '@hephaestus/schemas';
import type { TopologyView } from './topology.ts';

export type Signal = {
  service: string;
  /** `error_rate`, `error_signature`, a series name… */
  signal: string;
  onsetMs: number;
  value: number;
  /** The signal's usual value, when known: below it, a count of calls says the service gets less work. */
  baseline?: number;
  summary: string;
  /** Exemplar traces that show the signal. */
  traceIds?: string[];
  /** The error signature (template id) the signal is about. */
  signature?: string;
};

/** A signal in a group: the first onset, refreshed each time the same signal is raised again. */
export type GroupSignal = Signal & { lastSeenMs: number; occurrences: number };

export type Group = {
  id: string;
  openedMs: number;
  /** The latest onset or re-raise of any of its signals. */
  lastActivityMs: number;
  signals: GroupSignal[];
  traceIds: string[];
};

export type GroupingSettings = {
  /** A related signal joins a group when its onset is less than this after the group's last activity. */
  windowMs: number;
  /**
   * A group worth a page (see `shouldPage`) closes after no activity for this long, and until then
   * its own services' signals rejoin it (hysteresis: a flapping signal stays one incident). A group
   * not worth a page closes after `windowMs`, so a blip does not linger and absorb a later fault.
   */
  quietMs: number;
  /** Topology neighbours up to this many calls apart (either direction) are related. */
  maxHops: number;
  maxSignals: number;
  maxTraceIds: number;
  /** Signals that never page on their own: log signatures are burstier than error rates. */
  quietSignals: string[];
  /** Signals that do not corroborate another: a signature surging with an error rate is the same errors counted twice. */
  echoSignals: string[];
};

export const defaultGroupingSettings: GroupingSettings = {
  windowMs: 120_000,
  quietMs: 300_000,
  maxHops: 2,
  maxSignals: 50,
  maxTraceIds: 20,
  quietSignals: ['error_signature.new', 'error_signature.surge'],
  echoSignals: ['error_signature.surge'],
};

export type Correlation = {
  group: Group;
  /** The group is new: opened by this signal, or by an earlier signal of the same batch (see `correlateBatch`). */
  isNew: boolean;
  /** The signal was added to the group (false when it only refreshed a signal the group had). */
  attached: boolean;
  /** Why it joined, or why a new group. */
  reason: string;
};

type GraphView = Pick<TopologyView, 'downstreamOf' | 'upstreamOf'>;

const hash = (...parts: Array<string | number>) => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

/** A group's id follows from the signal that opened it, so replaying the same signals gives the same ids. */
export const groupIdOf = (signal: Signal): string => hash(signal.service, signal.signal, signal.onsetMs);

const signalKey = (s: Signal) => `${s.service}\u0000${s.signal}\u0000${s.signature ?? ''}`;

/** Shortest hop counts from `service` over calls in either direction, up to `maxHops`. */
const hopsFrom = (service: string, graph: GraphView, maxHops: number): Map<string, number> => {
  const hops = new Map([[service, 0]]);
  let frontier = [service];
  for (let d = 1; d <= maxHops && frontier.length > 0; d++) {
    const next: string[] = [];
    for (const s of frontier) {
      for (const n of [...graph.downstreamOf(s), ...graph.upstreamOf(s)]) {
        if (hops.has(n)) continue;
        hops.set(n, d);
        next.push(n);
      }
    }
    frontier = next;
  }
  return hops;
};

const union = (a: string[], b: readonly string[] | undefined, max: number) => {
  const out = [...a];
  for (const x of b ?? []) if (out.length < max && !out.includes(x)) out.push(x);
  return out;
};

const withSignal = (group: Group, signal: Signal, settings: GroupingSettings): { group: Group; attached: boolean } => {
  const key = signalKey(signal);
  const index = group.signals.findIndex((s) => signalKey(s) === key);
  const lastActivityMs = Math.max(group.lastActivityMs, signal.onsetMs);
  const traceIds = union(group.traceIds, signal.traceIds, settings.maxTraceIds);
  if (index >= 0) {
    const had = group.signals[index]!;
    const refreshed: GroupSignal = {
      ...had,
      value: signal.value,
      ...(signal.baseline !== undefined ? { baseline: signal.baseline } : {}),
      summary: signal.summary,
      lastSeenMs: Math.max(had.lastSeenMs, signal.onsetMs),
      occurrences: had.occurrences + 1,
      traceIds: union(had.traceIds ?? [], signal.traceIds, 5),
    };
    return { group: { ...group, lastActivityMs, traceIds, signals: group.signals.with(index, refreshed) }, attached: false };
  }
  if (group.signals.length >= settings.maxSignals) return { group: { ...group, lastActivityMs, traceIds }, attached: false };
  const added: GroupSignal = { ...signal, traceIds: signal.traceIds?.slice(0, 5), lastSeenMs: signal.onsetMs, occurrences: 1 };
  return { group: { ...group, lastActivityMs, traceIds, signals: [...group.signals, added] }, attached: true };
};

type Relation = { strength: number; reason: string };

/** How strongly a signal relates to an open group, if at all: same service, shared trace, same signature, neighbour. */
const relate = (signal: Signal, group: Group, hops: Map<string, number>, settings: GroupingSettings): Relation | undefined => {
  const before = signal.onsetMs >= group.openedMs - settings.windowMs;
  // Strict bounds: a group quiet for a whole window is one `closeQuietGroups` closes.
  const near = before && signal.onsetMs < group.lastActivityMs + settings.windowMs;
  const stillOpen = before && signal.onsetMs < group.lastActivityMs + (isIncident(group, settings) ? Math.max(settings.windowMs, settings.quietMs) : settings.windowMs);
  if (stillOpen && group.signals.some((s) => s.service === signal.service)) return { strength: 5, reason: `same service as the open group (${signal.service})` };
  if (!near) return undefined;
  const trace = signal.traceIds?.find((t) => group.traceIds.includes(t));
  if (trace) return { strength: 4, reason: `shares exemplar trace ${trace}` };
  const sameSignature = signal.signature !== undefined ? group.signals.find((s) => s.signature === signal.signature) : undefined;
  if (sameSignature) return { strength: 3, reason: `same error signature as ${sameSignature.service}` };
  // A neighbour joins while the fault is young: a cascade spreads within the window of its first
  // onset; a neighbour failing minutes into a long incident is a fault of its own.
  const young = signal.onsetMs < group.openedMs + settings.windowMs;
  const closest = group.signals.map((s) => ({ s, d: hops.get(s.service) })).filter((x) => x.d !== undefined).sort((a, b) => a.d! - b.d!)[0];
  if (closest && young) return { strength: 2 - closest.d! / 100, reason: `topology neighbour of ${closest.s.service} (${closest.d} ${closest.d === 1 ? 'hop' : 'hops'})` };
  return undefined;
};

/** Two signals of one batch that belong together by the same rules. */
const related = (a: Signal, b: Signal, hops: Map<string, number>, settings: GroupingSettings): boolean =>
  Math.abs(a.onsetMs - b.onsetMs) < settings.windowMs &&
  (a.service === b.service || hops.has(b.service) || (a.signature !== undefined && a.signature === b.signature) || (a.traceIds ?? []).some((t) => b.traceIds?.includes(t)));

export type BatchCorrelation = {
  /** The open groups after the batch: the ones given (updated where signals joined them), then the new ones. */
  groups: Group[];
  /** One per signal, in the order given; each names its group as it stands after the whole batch. */
  correlations: Correlation[];
};

/**
 * Correlates the signals of one detection pass together. Signals related to each other (directly or
 * through others of the batch) go to one group, so the order they come in does not split an incident:
 * that group is the open group most strongly related to any of them (the strongest relation wins,
 * then the most recently active group), or a new group named after the earliest of them.
 */
export const correlateBatch = (
  signals: readonly Signal[],
  openGroups: readonly Group[],
  topology: GraphView,
  options: Partial<GroupingSettings> & Pick<GroupingSettings, 'windowMs'>,
): BatchCorrelation => {
  const settings = { ...defaultGroupingSettings, ...options };
  const hopsCache = new Map<string, Map<string, number>>();
  const hopsOf = (service: string) => {
    let hops = hopsCache.get(service);
    if (!hops) hopsCache.set(service, (hops = hopsFrom(service, topology, settings.maxHops)));
    return hops;
  };

  // Union-find over the batch: components of signals related to each other.
  const parent = signals.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let i = 0; i < signals.length; i++) {
    for (let j = i + 1; j < signals.length; j++) if (find(i) !== find(j) && related(signals[i]!, signals[j]!, hopsOf(signals[i]!.service), settings)) parent[find(j)] = find(i);
  }
  const components = new Map<number, number[]>();
  for (let i = 0; i < signals.length; i++) components.set(find(i), [...(components.get(find(i)) ?? []), i]);
  const byOnset = (a: number, b: number) => signals[a]!.onsetMs - signals[b]!.onsetMs || a - b;
  const ordered = [...components.values()].map((c) => c.sort(byOnset)).sort((a, b) => byOnset(a[0]!, b[0]!));

  const groups = [...openGroups];
  const placed: Array<{ groupId: string; isNew: boolean; attached: boolean; reason: string }> = [];
  for (const members of ordered) {
    let best: { index: number; relation: Relation; member: number } | undefined;
    for (const m of members) {
      groups.forEach((group, index) => {
        const relation = relate(signals[m]!, group, hopsOf(signals[m]!.service), settings);
        if (!relation) return;
        const better = !best || relation.strength > best.relation.strength || (relation.strength === best.relation.strength && group.lastActivityMs > groups[best.index]!.lastActivityMs);
        if (better) best = { index, relation, member: m };
      });
    }
    const first = signals[members[0]!]!;
    const index = best?.index ?? groups.length;
    if (!best) groups.push({ id: groupIdOf(first), openedMs: first.onsetMs, lastActivityMs: first.onsetMs, signals: [], traceIds: [] });
    const isNew = !best;
    const anchor = best?.member ?? members[0]!;
    for (const m of [anchor, ...members.filter((x) => x !== anchor)]) {
      const signal = signals[m]!;
      const reason =
        m === anchor ? (best?.relation.reason ?? 'no related open group') : (relate(signal, groups[index]!, hopsOf(signal.service), settings)?.reason ?? 'related through other signals of the same pass');
      const { group, attached } = withSignal(groups[index]!, signal, settings);
      groups[index] = group;
      placed[m] = { groupId: group.id, isNew, attached, reason };
    }
  }
  const byId = new Map(groups.map((g) => [g.id, g]));
  return { groups, correlations: placed.map(({ groupId, ...rest }) => ({ group: byId.get(groupId)!, ...rest })) };
};

/** The group one signal joins among the open ones, or a new group: `correlateBatch` for a single signal. */
export const correlate = (signal: Signal, openGroups: readonly Group[], topology: GraphView, options: Partial<GroupingSettings> & Pick<GroupingSettings, 'windowMs'>): Correlation =>
  correlateBatch([signal], openGroups, topology, options).correlations[0]!;

const isIncident = (group: Group, settings: GroupingSettings): boolean => {
  const loud = group.signals.filter((s) => !settings.quietSignals.includes(s.signal));
  const corroborating = group.signals.filter((s) => !settings.echoSignals.includes(s.signal));
  return loud.length > 0 && (loud.some((s) => s.occurrences >= 2) || corroborating.length >= 2);
};

/**
 * Whether a group is worth a page: a signal other than the quiet kinds, corroborated by the same
 * signal in a second interval or by another signal that is not an echo of it (another service's
 * error rate, a new error signature). A one-interval blip waits one more interval.
 */
export const shouldPage = (group: Group, options: Partial<GroupingSettings> = {}): boolean => isIncident(group, { ...defaultGroupingSettings, ...options });

/** Splits groups into those still open at `nowMs` and those that closed: quiet for `quietMs`, or for `windowMs` when never worth a page. */
export const closeQuietGroups = (groups: readonly Group[], nowMs: number, options: Partial<GroupingSettings> = {}): { open: Group[]; closed: Group[] } => {
  const settings = { ...defaultGroupingSettings, ...options };
  const open: Group[] = [];
  const closed: Group[] = [];
  for (const group of groups) {
    const quietFor = isIncident(group, settings) ? settings.quietMs : settings.windowMs;
    (nowMs - group.lastActivityMs >= quietFor ? closed : open).push(group);
  }
  return { open, closed };
};

// ---- root-cause ranking ----------------------------------------------------------------------

export type RankSettings = {
  /** An onset this much later than the earliest counts about 1/e as much. */
  onsetScaleMs: number;
  /** Calls followed when asking who is upstream or downstream of whom. */
  maxDepth: number;
  /** A callee outside the group is a candidate when calls into it from affected services fail this often… */
  minEdgeErrorRate: number;
  /** …over at least this many calls in the topology's window. */
  minEdgeCalls: number;
  /** A service that calls another affected service is likelier a victim: its propagation score is multiplied by this. */
  victimFactor: number;
  maxCandidates: number;
};

export const defaultRankSettings: RankSettings = { onsetScaleMs: 10_000, maxDepth: 4, minEdgeErrorRate: 0.5, minEdgeCalls: 10, victimFactor: 0.3, maxCandidates: 5 };

export type RootCauseCandidate = { service: string; confidence: number; evidence: string[] };

const weights = { onset: 1, propagation: 1, traces: 1, edges: 0.5 };

/** Counts of a service's incoming work: below their baseline, its callers send it less. */
const trafficSignals = new Set(['calls', 'gen_ai.calls']);
const errorSignal = /error|burn_rate\.availability/;

/**
 * Services starved by their callers: their traffic fell below its baseline and they report no errors
 * of their own. A fault upstream sends them less work, and their latency or tokens move with it (a
 * provider outage at the researcher left the reviewer fewer, slower LLM calls); being downstream of
 * the others makes them look like the source, but they are its victims.
 */
const starvedServices = (signals: readonly Signal[]): Set<string> => {
  const erring = new Set(signals.filter((s) => errorSignal.test(s.signal)).map((s) => s.service));
  return new Set(signals.filter((s) => trafficSignals.has(s.signal) && s.baseline !== undefined && s.value < s.baseline && !erring.has(s.service)).map((s) => s.service));
};

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
const percent = (rate: number) => `${Math.round(rate * 100)} %`;

/** Breadth-first walk along `next`, up to `maxDepth` steps; each reached service with its predecessor. */
const walk = (from: string, next: (s: string) => string[], maxDepth: number, allowed?: Set<string>): Map<string, string | undefined> => {
  const parent = new Map<string, string | undefined>([[from, undefined]]);
  let frontier = [from];
  for (let d = 0; d < maxDepth && frontier.length > 0; d++) {
    const following: string[] = [];
    for (const s of frontier) {
      for (const n of next(s)) {
        if (parent.has(n) || (allowed && !allowed.has(n))) continue;
        parent.set(n, s);
        following.push(n);
      }
    }
    frontier = following;
  }
  return parent;
};

/** Where the deepest failing span of each trace points: its service, or the peer a childless failing call went to. */
const deepestFailures = (traces: ReadonlyArray<ReadonlyArray<SpanRecord>>): { votes: Map<string, number>; traces: number } => {
  const votes = new Map<string, number>();
  let counted = 0;
  for (const spans of traces) {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parents = new Set(spans.map((s) => s.parentSpanId));
    const depth = new Map<string, number>();
    const depthOf = (span: SpanRecord): number => {
      let d = 0;
      const seen = new Set<string>();
      for (let p = span.parentSpanId; p && byId.has(p) && !seen.has(p); p = byId.get(p)!.parentSpanId) {
        seen.add(p);
        const known = depth.get(p);
        if (known !== undefined) {
          d += known + 1;
          break;
        }
        d++;
      }
      depth.set(span.spanId, d);
      return d;
    };
    const failed = spans.filter((s) => s.status === 'error').map((s) => ({ s, d: depthOf(s) }));
    if (failed.length === 0) continue;
    counted++;
    const deepest = Math.max(...failed.map((f) => f.d));
    const services = new Set(
      failed
        .filter((f) => f.d === deepest)
        .map(({ s }) => {
          const peer = s.attributes['peer.service'] ?? s.attributes['server.address'];
          const childless = (s.kind === 'client' || s.kind === 'producer') && !parents.has(s.spanId);
          return childless && typeof peer === 'string' && peer ? peer : s.service;
        }),
    );
    for (const service of services) votes.set(service, (votes.get(service) ?? 0) + 1 / services.size);
  }
  return { votes, traces: counted };
};

/**
 * The group's probable root causes, best first. Evidence: the earliest onset; being downstream of the
 * other affected services (errors propagate upstream, from callee to caller); the deepest failing
 * span in exemplar traces; calls into the service failing. Confidences are in [0, 1] and sum to at
 * most 1: each candidate's share of the evidence, scaled by how much of the possible evidence the
 * leader holds.
 */
export const rankRootCauses = (
  group: Group,
  topology: TopologyView,
  traces?: ReadonlyArray<ReadonlyArray<SpanRecord>>,
  options: Partial<RankSettings> = {},
): RootCauseCandidate[] => {
  const settings = { ...defaultRankSettings, ...options };
  const onsets = new Map<string, number>();
  for (const s of group.signals) onsets.set(s.service, Math.min(onsets.get(s.service) ?? Infinity, s.onsetMs));

  // Callees that sent no signal of their own but whose callers see their calls fail: a dependency
  // without telemetry (a database, a third-party API) can still be the cause.
  const edges = topology.edges(group.lastActivityMs);
  const failingInto = new Map<string, Array<{ caller: string; calls: number; errorRate: number }>>();
  for (const e of edges) {
    if (!onsets.has(e.caller) || e.calls < settings.minEdgeCalls) continue;
    failingInto.set(e.callee, [...(failingInto.get(e.callee) ?? []), { caller: e.caller, calls: e.calls, errorRate: e.errorRate }]);
  }
  const affected = new Set(onsets.keys());
  for (const [callee, calls] of failingInto) if (calls.some((c) => c.errorRate >= settings.minEdgeErrorRate)) affected.add(callee);
  // Where exemplar traces fail deepest is affected too, signal or not (a dependency restarting, or
  // failing before its own error rate crosses the line): its callers are then its victims.
  const failures = traces ? deepestFailures(traces) : { votes: new Map<string, number>(), traces: 0 };
  for (const service of failures.votes.keys()) affected.add(service);
  const candidates = new Set([...affected, ...failures.votes.keys()]);
  const earliest = Math.min(...onsets.values());
  const starved = starvedServices(group.signals);
  const possible = weights.onset + weights.propagation + weights.edges + (failures.traces > 0 ? weights.traces : 0);

  const scored = [...candidates].map((service) => {
    const evidence: string[] = [];
    let score = 0;

    const onset = onsets.get(service);
    if (onset !== undefined) {
      score += weights.onset * Math.exp(-(onset - earliest) / settings.onsetScaleMs);
      if (onset === earliest) {
        const others = [...onsets].filter(([s]) => s !== service);
        const next = others.reduce((m, [, t]) => Math.min(m, t), Infinity);
        const tied = others.filter(([, t]) => t === earliest).map(([s]) => s);
        if (tied.length > 0) evidence.push(`earliest onset (together with ${tied.join(', ')})`);
        else if (Number.isFinite(next)) evidence.push(`earliest onset (${seconds(next - onset)} before ${others.find(([, t]) => t === next)![0]})`);
        else evidence.push(affected.size === 1 ? 'the only affected service' : 'the only service that raised a signal');
      } else {
        const first = [...onsets].find(([, t]) => t === earliest)![0];
        evidence.push(`onset ${seconds(onset - earliest)} after ${first}`);
      }
    }

    const others = [...affected].filter((s) => s !== service);
    const callers = walk(service, (s) => topology.upstreamOf(s), settings.maxDepth);
    const upstream = others.filter((s) => callers.has(s));
    const callees = walk(service, (s) => topology.downstreamOf(s), settings.maxDepth);
    // A starved callee is no place the service's errors come from.
    const downstream = others.filter((s) => callees.has(s) && !starved.has(s));
    const starvedBy = starved.has(service) ? upstream : [];
    const propagation = (others.length === 0 ? 1 : upstream.length / others.length) * (downstream.length > 0 || starvedBy.length > 0 ? settings.victimFactor : 1);
    if (downstream.length > 0) evidence.push(`depends on affected ${downstream.join(', ')} (its errors may come from there)`);
    if (starvedBy.length > 0) evidence.push(`gets less work than usual and reports no errors: a victim of affected ${starvedBy.join(', ')} upstream`);
    score += weights.propagation * propagation;
    if (upstream.length > 0 && starvedBy.length === 0) {
      // The longest chain of affected callers above the service, as the path errors took.
      const chain = walk(service, (s) => topology.upstreamOf(s), settings.maxDepth, affected);
      const far = [...chain.keys()].at(-1)!;
      const path: string[] = [];
      for (let s: string | undefined = far; s !== undefined; s = chain.get(s)) path.unshift(s);
      if (path.length > 1) evidence.push(`errors propagate upstream: ${path.join(' → ')}`);
      if (upstream.length > path.length - 1) evidence.push(`${upstream.length} of ${others.length} other affected services depend on it`);
    }

    const into = failingInto.get(service) ?? [];
    const worst = into.reduce<(typeof into)[number] | undefined>((w, c) => (!w || c.errorRate > w.errorRate ? c : w), undefined);
    if (worst && worst.errorRate > 0) {
      score += weights.edges * worst.errorRate;
      if (worst.errorRate >= settings.minEdgeErrorRate) evidence.push(`calls from ${worst.caller} fail (${percent(worst.errorRate)} of ${worst.calls})`);
    }

    const votes = failures.votes.get(service) ?? 0;
    if (votes > 0) {
      score += weights.traces * (votes / failures.traces);
      evidence.push(`deepest failing span in ${Math.round(votes)} of ${failures.traces} exemplar traces`);
    }
    if (onset === undefined) evidence.push('sent no signal of its own (no telemetry, or it failed silently)');
    return { service, score, onset: onset ?? Infinity, evidence };
  });

  const total = scored.reduce((n, c) => n + c.score, 0);
  const top = Math.max(0, ...scored.map((c) => c.score));
  const strength = Math.min(1, top / possible);
  return scored
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || a.onset - b.onset || a.service.localeCompare(b.service))
    .slice(0, settings.maxCandidates)
    .map((c) => ({ service: c.service, confidence: total > 0 ? Math.floor((c.score / total) * strength * 1000) / 1000 : 0, evidence: c.evidence }));
};
