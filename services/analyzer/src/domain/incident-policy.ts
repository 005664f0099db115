// The incident policy: the one place that turns detector output into incidents. Every anomaly is a
// signal with a declared meaning (schemas/signal-meaning.ts); for each interval of event time the
// policy decides, per signal: attach it to the open incident it relates to, open an incident (only a
// confirmed symptom or an imminent prediction does: that is the page), or record it as evidence only.
// It also raises severity, ranks root causes (and records the settled ranking one interval after
// opening, for the healer), resolves incidents whose symptoms stayed quiet and reopens recurrences.
// Pure: time, topology and traces are arguments; no I/O, no clock.
import { deterministicId } from '@hephaestus/platform';
import {
  isBadMove,
  meaningOf,
  type Direction,
  type Severity,
  type SignalExplanation,
  type Observation as SchemaObservation,
  type SignalMeaning,
  type SpanRecord,
} from '@hephaestus/schemas';
import { correlateBatch, defaultGroupingSettings, rankRootCauses, type Group, type GroupingSettings, type Signal } from './correlation/grouping.ts';
import type { TopologyView } from './correlation/topology.ts';
import type { IncidentCommand } from '@hephaestus/aggregates';

/** What a detector saw in one closed interval of one series (its schema is in schemas: collectors send them on heph.signals). */
export type Observation = SchemaObservation;

export type PolicySettings = {
  resolutionMs: number;
  /**
   * Intervals every symptom of an incident must stay quiet before it resolves (Prometheus'
   * `keep_firing_for`): a fault that is still developing dips below its threshold now and then, and an
   * incident resolved on the first quiet readings pages again when it comes back.
   */
  quietIntervals: number;
  /** A fault recurring within this long after its incident resolved reopens it (and pages again). */
  reopenWithinMs: number;
  /** Predictions page only when the limit is this close, with at least this confidence. */
  predictionHorizonSeconds: number;
  predictionMinConfidence: number;
  /** Per-signal overrides of the meaning table. */
  meanings: SignalMeaning[];
  grouping: Partial<GroupingSettings>;
};

export const defaultPolicySettings = (resolutionMs: number): PolicySettings => ({
  resolutionMs,
  quietIntervals: 4,
  reopenWithinMs: 10 * 60_000,
  predictionHorizonSeconds: 1800,
  predictionMinConfidence: 0.9,
  meanings: [],
  grouping: {},
});

type Tracked = { role: SignalMeaning['role']; severity: Severity; lastBadMs: number; baseline: number };

export type PolicyIncident = {
  id: string;
  service: string;
  signal: string;
  severity: Severity;
  summary: string;
  /** Event time of the pass that opened (or reopened) it. */
  openedAtMs: number;
  settled: boolean;
  group: Group;
  /** Every signal it holds, by `service\0signal`: what keeps it open (symptoms, predictions) and what is evidence. */
  signals: Record<string, Tracked>;
};

export type PolicyState = {
  open: PolicyIncident[];
  resolved: Array<{ incident: PolicyIncident; resolvedAtMs: number }>;
  /** Consecutive bad intervals per `service\0signal`, for symptoms that must be confirmed. */
  pending: Record<string, { count: number; lastBucketMs: number }>;
  /** Recent signals that opened nothing: attached when an incident they relate to opens. */
  evidence: Array<Signal & { observation: Observation }>;
};

export const initialPolicyState = (): PolicyState => ({ open: [], resolved: [], pending: {}, evidence: [] });

export type Decision = {
  service: string;
  signal: string;
  decision: 'opened' | 'reopened' | 'attached' | 'refreshed' | 'sustained' | 'recorded' | 'ignored';
  incidentId?: string;
  reason: string;
};

export type PolicyContext = {
  topology: TopologyView;
  /** Exemplar traces by id, for root-cause ranking. */
  traces: (traceIds: readonly string[]) => ReadonlyArray<ReadonlyArray<SpanRecord>>;
  settings: PolicySettings;
  /** The healer's actions (from its `remediation.*` events): their side effects are not new faults. */
  remediations?: ReadonlyArray<ActiveRemediation>;
};

/** A remediation acting on a service for an incident, from its start until it ended (open while running). */
export type ActiveRemediation = { remediationId: string; incidentId: string; service: string; playbookId: string; startedAtMs: number; endedAtMs?: number };

export type PassResult = { state: PolicyState; commands: IncidentCommand[]; decisions: Decision[] };

const keyOf = (service: string, signal: string) => `${service}\u0000${signal}`;
const serviceOfKey = (key: string) => key.slice(0, key.indexOf('\u0000'));
const signalOfKey = (key: string) => key.slice(key.indexOf('\u0000') + 1);
const severityRank: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };
const directionOf = (o: Pick<Observation, 'value' | 'baseline' | 'etaSeconds'>): Direction => (o.etaSeconds !== undefined || o.value >= o.baseline ? 'above' : 'below');

const alertnameOf = (signal: string) =>
  signal === 'error_rate' ? 'ErrorRateHigh' : signal === 'failure.predicted' ? 'FailurePredicted' : signal.startsWith('burn_rate.') ? 'ErrorBudgetBurn' : signal;

const toSignal = (o: Observation): Signal & { observation: Observation } => ({
  service: o.service,
  signal: o.signal,
  onsetMs: o.bucketStartMs,
  value: o.value,
  baseline: o.baseline,
  summary: o.summary,
  traceIds: o.traceIds,
  signature: o.signature,
  observation: o,
});

/** Whether a confirmed bad signal may open an incident (page) on its own, and why not when it may not. */
const pageable = (o: Observation, meaning: SignalMeaning, confirmed: number, settings: PolicySettings, corroborated = false, strong = false): { page: boolean; why: string } => {
  if (meaning.role === 'prediction') {
    if ((o.etaSeconds ?? Infinity) > settings.predictionHorizonSeconds) return { page: false, why: `prediction beyond the ${settings.predictionHorizonSeconds} s horizon: evidence only` };
    if ((o.confidence ?? 0) < settings.predictionMinConfidence) return { page: false, why: `prediction confidence ${(o.confidence ?? 0).toFixed(2)} under ${settings.predictionMinConfidence}: evidence only` };
    return { page: true, why: `limit predicted in ${o.etaSeconds} s (within ${settings.predictionHorizonSeconds} s) with confidence ${(o.confidence ?? 0).toFixed(2)}` };
  }
  if (meaning.role !== 'symptom') return { page: false, why: `${meaning.role} signal: evidence only, it never pages alone` };
  if (confirmed < meaning.confirmIntervals) return { page: false, why: `symptom waiting for confirmation (${confirmed} of ${meaning.confirmIntervals} bad intervals among the last 3)` };
  if (corroborated) return { page: true, why: 'symptom users feel, with a new or surging error signature on the same service' };
  if (strong && meaning.confirmAtOnceChange !== undefined) {
    const percent = Math.round((100 * Math.abs(o.value - o.baseline)) / Math.abs(o.baseline || 1));
    return { page: true, why: `symptom ${percent} % off its baseline in one interval (past ${meaning.confirmAtOnceChange * 100} %): no confirmation needed` };
  }
  if ((o.confirmedOver ?? 0) >= meaning.confirmIntervals && meaning.confirmIntervals > 1) return { page: true, why: `symptom's level off its baseline over its last ${o.confirmedOver} intervals` };
  return { page: true, why: meaning.confirmIntervals > 1 ? `symptom off its baseline in ${confirmed} of the last 3 intervals` : 'symptom users feel, confirmed by its detector' };
};

const attachCommand = (incidentId: string, s: Signal & { observation: Observation }, at: string, reason: string): IncidentCommand => ({
  type: 'AttachSignal',
  at,
  incidentId,
  service: s.service,
  signal: s.signal,
  summary: s.observation.summary.startsWith(s.service) ? s.observation.summary : `${s.service} ${s.observation.summary}`,
  value: s.observation.value,
  baseline: s.observation.baseline,
  direction: directionOf(s.observation),
  explanation: s.observation.explanation,
  onsetAt: new Date(s.onsetMs).toISOString(),
  traceIds: s.traceIds,
  signature: s.observation.signatureTemplate ?? s.signature,
  reason,
});

/**
 * One interval of event time: the observations of the interval ending at `atMs` (all of them, in any
 * order: the result does not depend on it), then settling, resolving and expiring.
 */
export const decidePass = (state: PolicyState, observations: readonly Observation[], atMs: number, context: PolicyContext): PassResult => {
  const { settings } = context;
  const grouping = { ...defaultGroupingSettings, ...settings.grouping, quietSignals: [], echoSignals: [] };
  const at = new Date(atMs).toISOString();
  const commands: IncidentCommand[] = [];
  const decisions: Decision[] = [];
  const open = state.open.map((i) => ({ ...i, signals: { ...i.signals } }));
  const pending: PolicyState['pending'] = {};
  const bucketStartMs = atMs - settings.resolutionMs;
  // Confirmation counts survive only through consecutive intervals.
  // Confirmation counts bad intervals among the last three: a flapping fault still confirms.
  for (const [key, p] of Object.entries(state.pending)) if (p.lastBucketMs >= bucketStartMs - 2 * settings.resolutionMs) pending[key] = p;
  // A new or surging error signature on a service corroborates its symptoms in the same interval:
  // errors nobody has seen before are not noise, and page at once.
  const corroborated = new Set(observations.filter((o) => o.signal.startsWith('error_signature.')).map((o) => o.service));

  const sorted = [...observations].sort((a, b) => a.service.localeCompare(b.service) || a.signal.localeCompare(b.signal) || (a.signature ?? '').localeCompare(b.signature ?? ''));
  const fresh: Array<Signal & { observation: Observation; meaning: SignalMeaning; confirmed: number; strong?: boolean }> = [];
  for (const o of sorted) {
    const meaning = meaningOf(o.signal, settings.meanings);
    const key = keyOf(o.service, o.signal);
    // A prediction is bad by definition (a limit ahead): its value is below the limit it compares with.
    // Hysteresis: a signal keeps its incident open while it is off the frozen baseline by half what
    // it takes to open one (a creeping latency the detector adapted to stays bad; noise does not).
    // A creep (the level-shift test's gradual climb, still under way) is judged against its own lower bar.
    const creeping = o.explanation.detector === 'level-shift' && o.explanation.onset === 'gradual' && meaning.creepRelativeChange !== undefined;
    const bar = creeping ? Math.min(meaning.minRelativeChange, meaning.creepRelativeChange!) : meaning.minRelativeChange;
    const judged = { ...meaning, minRelativeChange: o.sustainOnly ? bar / 2 : bar };
    if (meaning.role !== 'prediction' && !isBadMove(judged, o.value, o.baseline)) {
      decisions.push({ service: o.service, signal: o.signal, decision: 'ignored', reason: `${directionOf(o)} its baseline, which is not bad for ${o.signal} (bad: ${meaning.bad}${meaning.minRelativeChange ? `, by ${meaning.minRelativeChange * 100} % or more` : ''})` });
      continue;
    }
    if (o.level !== undefined && meaning.role !== 'prediction' && !isBadMove(judged, o.level, o.baseline)) {
      decisions.push({ service: o.service, signal: o.signal, decision: 'ignored', reason: `its largest value alone moved it: the others' mean ${Number(o.level.toPrecision(3))} is not ${meaning.minRelativeChange ? `${meaning.minRelativeChange * 100} % ` : ''}off its baseline ${Number(o.baseline.toPrecision(3))}` });
      continue;
    }
    // Keep alive the incidents that hold this signal.
    for (const incident of open) {
      const tracked = incident.signals[key];
      if (!tracked) continue;
      incident.signals[key] = { ...tracked, lastBadMs: Math.max(tracked.lastBadMs, atMs) };
      incident.group = { ...incident.group, lastActivityMs: Math.max(incident.group.lastActivityMs, o.bucketStartMs) };
    }
    const holder = open.find((i) => i.signals[key]);
    if (o.sustainOnly) {
      decisions.push({ service: o.service, signal: o.signal, decision: holder ? 'sustained' : 'ignored', incidentId: holder?.id, reason: holder ? 'still off its baseline: the incident stays open' : 'no open incident holds it' });
      continue;
    }
    // Already part of an incident: kept alive above, and not correlated again (a long incident's
    // signal would otherwise pull a neighbour's new fault into it through the pass's batch).
    if (holder) {
      // Its newest exemplar traces first: a caller failing later through the same dependency joins on them.
      if (o.traceIds?.length) holder.group = { ...holder.group, traceIds: [...new Set([...o.traceIds, ...holder.group.traceIds])].slice(0, grouping.maxTraceIds) };
      decisions.push({ service: o.service, signal: o.signal, decision: 'refreshed', incidentId: holder.id, reason: 'already part of the incident' });
      continue;
    }
    // A prediction short of the paging bar (the limit too far off, or too unsure) is a forecast, not a
    // fault: it joins no incident, neither now nor later as evidence (a healthy agent's memory noise
    // would pull the root cause and the healer's playbook towards it). One an incident holds stays.
    if (meaning.role === 'prediction') {
      const short = pageable(o, meaning, 0, settings);
      if (!short.page) {
        decisions.push({ service: o.service, signal: o.signal, decision: 'ignored', reason: short.why.replace(/: evidence only$/, ': a forecast, not a fault') });
        continue;
      }
    }
    const previous = pending[key];
    const counted = !previous ? 1 : previous.lastBucketMs === o.bucketStartMs ? previous.count : previous.lastBucketMs >= o.bucketStartMs - 2 * settings.resolutionMs ? previous.count + 1 : 1;
    pending[key] = { count: counted, lastBucketMs: o.bucketStartMs };
    const strong = meaning.confirmAtOnceChange !== undefined && isBadMove({ ...meaning, minRelativeChange: meaning.confirmAtOnceChange }, o.value, o.baseline);
    const confirmed = corroborated.has(o.service) || strong || (o.confirmedOver ?? 0) >= meaning.confirmIntervals ? Math.max(counted, meaning.confirmIntervals) : counted;
    fresh.push({ ...toSignal(o), meaning, confirmed, strong });
  }

  // correlate: symptoms and predictions of the pass go together (a cascade is one fault), to the open
  // incident they relate to if any; its group holds only them, so evidence never widens an incident.
  const isSymptom = (m: SignalMeaning) => m.role === 'symptom' || m.role === 'prediction';
  const symptoms = fresh.filter((f) => isSymptom(f.meaning));
  const causes = fresh.filter((f) => !isSymptom(f.meaning));
  const { correlations } = correlateBatch(symptoms, open.map((i) => i.group), context.topology, grouping);
  const touched = new Set<string>();
  const newGroups = new Map<string, { group: Group; members: typeof fresh }>();
  const attach = (incident: PolicyIncident, signal: (typeof fresh)[number], reason: string) => {
    const key = keyOf(signal.service, signal.signal);
    const had = incident.signals[key];
    incident.signals[key] = { role: signal.meaning.role, severity: signal.observation.severity ?? signal.meaning.severity, lastBadMs: atMs, baseline: had?.baseline ?? signal.observation.baseline };
    if (had) {
      decisions.push({ service: signal.service, signal: signal.signal, decision: 'refreshed', incidentId: incident.id, reason: 'already part of the incident' });
      return;
    }
    // A caller's failed calls while the healer restarts its callee are the action's effect: attached as
    // such, they say nothing of how bad the fault is and raise no severity.
    const effect = sideEffectOf([signal], [incident], context.remediations ?? [], atMs, settings, context.topology);
    const why = effect?.reason ?? reason;
    commands.push(attachCommand(incident.id, signal, at, why));
    decisions.push({ service: signal.service, signal: signal.signal, decision: 'attached', incidentId: incident.id, reason: why });
    touched.add(incident.id);
    if (!effect) raiseSeverity(incident, signal, at, commands);
  };
  correlations.forEach((c, index) => {
    const signal = symptoms[index]!;
    const incident = c.isNew ? undefined : open.find((i) => i.group.id === c.group.id);
    if (!incident) {
      const entry = newGroups.get(c.group.id) ?? { group: c.group, members: [] };
      entry.group = c.group;
      entry.members.push(signal);
      newGroups.set(c.group.id, entry);
      return;
    }
    incident.group = c.group;
    attach(incident, signal, c.reason);
  });

  // open: a new group opens an incident only when one of its signals may page.
  let evidence = state.evidence.filter((e) => e.onsetMs >= atMs - (grouping.windowMs ?? defaultGroupingSettings.windowMs));
  let resolved = state.resolved.filter((r) => r.resolvedAtMs >= atMs - settings.reopenWithinMs);
  const remember = (o: Observation) => {
    evidence = [...evidence.filter((e) => keyOf(e.service, e.signal) !== keyOf(o.service, o.signal)), toSignal(o)];
  };
  for (const { group, members } of newGroups.values()) {
    const verdicts = members.map((m) => {
      const verdict = pageable(m.observation, m.meaning, m.confirmed, settings, corroborated.has(m.service) && m.confirmed >= m.meaning.confirmIntervals && m.meaning.confirmIntervals > 1, m.strong && m.meaning.confirmIntervals > 1);
      const changed = verdict.page && isSpend(m.signal) ? remediatedLately(m.service, context.remediations ?? [], atMs, settings) : undefined;
      return changed ? { m, page: false, why: `${m.signal} moved on ${m.service} after ${changed.playbookId} acted on it: a lasting consequence of the remediation (a fallback model costs more), recorded, not paged` } : { m, ...verdict };
    });
    // The incident opens on the most severe, earliest signal; among equals, on the probable root cause.
    const rank = new Map(rankRootCauses(group, context.topology, context.traces(group.traceIds)).map((c, i) => [c.service, i]));
    const rankOf = (service: string) => rank.get(service) ?? Number.MAX_SAFE_INTEGER;
    const pagers = verdicts.filter((v) => v.page).sort((a, b) =>
      severityRank[b.m.observation.severity ?? b.m.meaning.severity] - severityRank[a.m.observation.severity ?? a.m.meaning.severity] ||
      a.m.onsetMs - b.m.onsetMs || rankOf(a.m.service) - rankOf(b.m.service) || a.m.service.localeCompare(b.m.service) || a.m.signal.localeCompare(b.m.signal));
    if (pagers.length === 0) {
      for (const v of verdicts) {
        decisions.push({ service: v.m.service, signal: v.m.signal, decision: 'recorded', reason: v.why });
        remember(v.m.observation);
      }
      continue;
    }
    // A caller of a service whose symptom in an open incident is still bad feels that fault: the
    // fault propagating, however long after it began, is the same incident (one fault, one page).
    const propagation =
      sideEffectOf(members, open, context.remediations ?? [], atMs, settings, context.topology) ?? propagationOf(members, open, atMs, settings, context.topology, grouping.maxHops);
    if (propagation) {
      for (const m of members) attach(propagation.incident, m, propagation.reason);
      continue;
    }
    const lead = pagers[0]!;
    const o = lead.m.observation;
    const severity = o.severity ?? lead.m.meaning.severity;
    // A recurrence: the same service paging on the incident's opening signal, or on a symptom the
    // incident held (the fast burn of an availability objective and the error rate are one fault,
    // whichever of them confirms first this time).
    const recurrence =
      resolved.find((r) => r.incident.service === o.service && r.incident.signal === o.signal) ??
      resolved.find((r) => r.incident.service === o.service && r.incident.signals[keyOf(o.service, o.signal)]?.role === 'symptom');
    let incident: PolicyIncident;
    if (recurrence) {
      resolved = resolved.filter((r) => r !== recurrence);
      incident = { ...recurrence.incident, openedAtMs: atMs, group: { ...group, id: recurrence.incident.group.id }, signals: { ...recurrence.incident.signals } };
      commands.push({ type: 'ReopenIncident', at, incidentId: incident.id, reason: `${o.service} ${o.summary}`, withinMs: settings.reopenWithinMs });
      decisions.push({ service: o.service, signal: o.signal, decision: 'reopened', incidentId: incident.id, reason: `recurred within ${Math.round(settings.reopenWithinMs / 60_000)} min of resolving; ${lead.why}` });
    } else {
      const id = deterministicId(o.service, o.signal, o.bucketStartMs);
      incident = { id, service: o.service, signal: o.signal, severity, summary: o.summary, openedAtMs: atMs, settled: false, group, signals: {} };
      const top = o.signatureTemplate;
      commands.push({
        type: 'OpenIncident',
        at,
        incidentId: id,
        service: o.service,
        signal: o.signal,
        severity,
        summary: top && o.signal === 'error_rate' ? `${o.summary}; top error: ${top}` : o.summary,
        value: o.value,
        baseline: o.baseline,
        calls: o.calls,
        errors: o.errors,
        windowStart: new Date(o.bucketStartMs).toISOString(),
        controlUrl: o.controlUrl,
        etaSeconds: o.etaSeconds,
        labels: { alertname: alertnameOf(o.signal), service: o.service, signal: o.signal, severity, ...o.labels },
        traceIds: o.traceIds,
        direction: directionOf(o),
        explanation: o.explanation,
        reason: lead.why,
      });
      decisions.push({ service: o.service, signal: o.signal, decision: 'opened', incidentId: id, reason: lead.why });
    }
    incident.signals[keyOf(o.service, o.signal)] = { role: lead.m.meaning.role, severity, lastBadMs: atMs, baseline: o.baseline };
    for (const v of verdicts) if (v !== lead) attach(incident, v.m, relationTo(v.m, o, context.topology, grouping.maxHops));
    open.push(incident);
    touched.add(incident.id);
  }

  // evidence: cause and resource signals attach only where the incident has a symptom on the same
  // service, or a shared trace or error signature; a neighbour's token count is not this fault's evidence.
  const holderOf = (e: Signal): { incident: PolicyIncident; reason: string } | undefined => {
    for (const incident of open) {
      if (incident.group.signals.some((s) => s.service === e.service)) return { incident, reason: `same service as the incident's symptom on ${e.service}` };
      const trace = e.traceIds?.find((t) => incident.group.traceIds.includes(t));
      if (trace) return { incident, reason: `shares exemplar trace ${trace}` };
      const same = e.signature !== undefined ? incident.group.signals.find((s) => s.signature === e.signature) : undefined;
      if (same) return { incident, reason: `same error signature as ${same.service}` };
    }
    return undefined;
  };
  for (const c of causes) {
    const holder = holderOf(c);
    if (holder) attach(holder.incident, c, holder.reason);
    else {
      decisions.push({ service: c.service, signal: c.signal, decision: 'recorded', reason: `${c.meaning.role} signal: evidence only, it never pages alone, and no open incident has a symptom on ${c.service}` });
      remember(c.observation);
    }
  }
  // Evidence recorded before a page that relates to it joins now (tokens that rose before the cost did).
  evidence = evidence.filter((e) => {
    const holder = holderOf(e);
    if (!holder || holder.incident.signals[keyOf(e.service, e.signal)]) return !holder;
    const meaning = meaningOf(e.signal, settings.meanings);
    const reason = `recorded earlier as evidence; ${holder.reason}`;
    holder.incident.signals[keyOf(e.service, e.signal)] = { role: meaning.role, severity: e.observation.severity ?? meaning.severity, lastBadMs: e.onsetMs + settings.resolutionMs, baseline: e.observation.baseline };
    if (isSymptom(meaning)) holder.incident.group = { ...holder.incident.group, signals: [...holder.incident.group.signals, { ...e, lastSeenMs: e.onsetMs, occurrences: 1 }] };
    commands.push(attachCommand(holder.incident.id, e, at, reason));
    decisions.push({ service: e.service, signal: e.signal, decision: 'attached', incidentId: holder.incident.id, reason });
    touched.add(holder.incident.id);
    return false;
  });

  // rank: incidents whose evidence changed; settle: one interval of event time after opening. Root
  // causes are ranked on the symptoms (and predictions): where users feel it, and how it propagates.
  for (const incident of open) {
    const settles = !incident.settled && atMs >= incident.openedAtMs + settings.resolutionMs;
    if (!touched.has(incident.id) && !settles) continue;
    const candidates = rankRootCauses(incident.group, context.topology, context.traces(incident.group.traceIds));
    commands.push({ type: 'RankRootCauses', at, incidentId: incident.id, candidates, ...(settles ? { settled: true } : {}) });
    if (settles) incident.settled = true;
  }

  // resolve: every symptom (and prediction) quiet for the last `quietIntervals` intervals.
  // An incident the healer is acting on stays open until the action ended (and its side effects passed).
  const quietSince = atMs - settings.quietIntervals * settings.resolutionMs;
  const acting = new Set((context.remediations ?? []).filter((r) => r.endedAtMs === undefined || r.endedAtMs > quietSince).map((r) => r.incidentId));
  const stillOpen: PolicyIncident[] = [];
  for (const incident of open) {
    const keeping = Object.values(incident.signals).filter((s) => s.role === 'symptom' || s.role === 'prediction');
    if (keeping.length > 0 && keeping.every((s) => s.lastBadMs <= quietSince) && !acting.has(incident.id)) {
      commands.push({
        type: 'ResolveIncident',
        at,
        incidentId: incident.id,
        service: incident.service,
        signal: incident.signal,
        reason: `${incident.signal === 'error_rate' ? 'error rate' : incident.signal} back to normal for ${settings.quietIntervals} intervals of ${settings.resolutionMs / 1000} s`,
        value: 0,
      });
      resolved = [...resolved, { incident, resolvedAtMs: atMs }];
    } else {
      stillOpen.push(incident);
    }
  }
  return { state: { open: stillOpen, resolved, pending, evidence }, commands, decisions };
};

/** A symptom bad within this many intervals is still bad (a fault propagating, a remediation's side effects). */
const stillBadIntervals = 2;

/** How many calls up from a remediated service its callers still feel the action. */
const sideEffectDepth = 4;

/**
 * The open incident a remediation is acting for when a member's service is its target, or calls it
 * (up to `sideEffectDepth` calls), while the action runs or within the quiet intervals after it ended:
 * a restart's callers see failed calls for a moment, and that is the action, not a second fault.
 */
const sideEffectOf = (
  members: ReadonlyArray<{ service: string; onsetMs: number }>,
  open: PolicyIncident[],
  remediations: ReadonlyArray<ActiveRemediation>,
  atMs: number,
  settings: PolicySettings,
  topology: TopologyView,
): { incident: PolicyIncident; reason: string } | undefined => {
  const grace = stillBadIntervals * settings.resolutionMs;
  for (const r of remediations) {
    const incident = open.find((i) => i.id === r.incidentId);
    if (!incident) continue;
    const callers = hopsAlong(r.service, (x) => topology.upstreamOf(x), sideEffectDepth);
    const affected = members.find(
      (m) => callers.has(m.service) && m.onsetMs >= r.startedAtMs - settings.resolutionMs && (r.endedAtMs === undefined || m.onsetMs <= r.endedAtMs + grace),
    );
    if (!affected) continue;
    const hops = callers.get(affected.service)!;
    const how = hops === 0 ? 'its target' : `${hops === 1 ? 'a caller' : `a caller ${hops} calls up`} of ${r.service}`;
    return { incident, reason: `${affected.service} is ${how} while ${r.playbookId} acts on it: an effect of the remediation, not a new fault` };
  }
  return undefined;
};

/** Signals of LLM spend, which a remediation that changes the model (a fallback) moves for good. */
const isSpend = (signal: string) => signal.startsWith('gen_ai.cost') || signal === 'heph.gen_ai.cost';

/** A remediation on the service that ended within the reopen window: what it changed may show for a while. */
const remediatedLately = (service: string, remediations: ReadonlyArray<ActiveRemediation>, atMs: number, settings: PolicySettings): ActiveRemediation | undefined =>
  remediations.find((r) => r.service === service && r.endedAtMs !== undefined && r.endedAtMs <= atMs && atMs - r.endedAtMs <= settings.reopenWithinMs);

/** The service and those `next` reaches from it in up to `depth` steps, with their distance. */
const hopsAlong = (service: string, next: (s: string) => string[], depth: number): Map<string, number> => {
  const seen = new Map([[service, 0]]);
  let frontier = [service];
  for (let d = 1; d <= depth && frontier.length > 0; d++) {
    frontier = frontier.flatMap(next).filter((x) => !seen.has(x) && (seen.set(x, d), true));
  }
  return seen;
};

const isLatency = (signal: string) => signal.startsWith('latency.') || signal.endsWith('.duration') || signal.endsWith('.duration.p95') || signal.endsWith('_ms');
/** Symptoms that travel up a call chain as themselves: a slow callee makes its callers slow, a failing one makes them fail. */
const sameKind = (a: string, b: string) => a === b || (isLatency(a) && isLatency(b));

/**
 * The open incident whose still-bad symptom of the same kind a member's service calls (directly or
 * within `maxHops` calls), if any; the nearest callee wins. Only callers (a caller's new fault does not
 * show in its callee), and only the same kind (a caller's errors beside a slow callee are their own fault).
 */
const propagationOf = (
  members: ReadonlyArray<{ service: string; signal: string }>,
  open: PolicyIncident[],
  atMs: number,
  settings: PolicySettings,
  topology: TopologyView,
  maxHops: number,
): { incident: PolicyIncident; reason: string } | undefined => {
  const stillBadSince = atMs - stillBadIntervals * settings.resolutionMs;
  let best: { incident: PolicyIncident; reason: string; hops: number } | undefined;
  for (const m of members) {
    const callees = hopsAlong(m.service, (x) => topology.downstreamOf(x), maxHops);
    for (const incident of open) {
      for (const [key, s] of Object.entries(incident.signals)) {
        const hops = callees.get(serviceOfKey(key));
        if (!hops || s.role !== 'symptom' || s.lastBadMs <= stillBadSince || !sameKind(signalOfKey(key), m.signal) || (best && best.hops <= hops)) continue;
        best = { incident, hops, reason: `${m.service} calls ${serviceOfKey(key)} (${hops} ${hops === 1 ? 'hop' : 'hops'}), whose ${signalOfKey(key)} is still off its baseline in this incident: the fault propagating` };
      }
    }
  }
  return best && { incident: best.incident, reason: best.reason };
};

/** Why a signal of the same interval belongs with the one that opened the incident, in words. */
const relationTo = (s: Signal, lead: Observation, topology: TopologyView, maxHops: number): string => {
  if (s.service === lead.service) return `same service as the opening signal (${lead.service})`;
  const trace = s.traceIds?.find((t) => lead.traceIds?.includes(t));
  if (trace) return `shares exemplar trace ${trace} with ${lead.service}`;
  if (s.signature !== undefined && s.signature === lead.signature) return `same error signature as ${lead.service}`;
  let frontier = [lead.service];
  const seen = new Set(frontier);
  for (let hops = 1; hops <= maxHops && frontier.length > 0; hops++) {
    frontier = frontier.flatMap((x) => [...topology.downstreamOf(x), ...topology.upstreamOf(x)]).filter((x) => !seen.has(x) && seen.add(x));
    if (frontier.includes(s.service)) return `topology neighbour of ${lead.service} (${hops} ${hops === 1 ? 'hop' : 'hops'}), in the same interval`;
  }
  return `related to ${lead.service} through other signals of the same interval`;
};

const raiseSeverity = (incident: PolicyIncident, signal: { observation: Observation; meaning: SignalMeaning }, at: string, commands: IncidentCommand[]) => {
  if (signal.meaning.role !== 'symptom' && signal.meaning.role !== 'prediction') return;
  const to = signal.observation.severity ?? signal.meaning.severity;
  if (severityRank[to] <= severityRank[incident.severity]) return;
  commands.push({ type: 'ChangeSeverity', at, incidentId: incident.id, to, reason: `${signal.observation.service} ${signal.observation.summary}` });
  incident.severity = to;
};

/** The baseline an open incident froze for a signal (hysteresis judges recovery against it, not a baseline the fault inflated). */
export const frozenBaseline = (state: PolicyState, service: string, signal: string): number | undefined => {
  for (const incident of state.open) {
    const tracked = incident.signals[keyOf(service, signal)];
    if (tracked) return tracked.baseline;
  }
  return undefined;
};

/** Every baseline `frozenBaseline` answers with, per service and signal (for detectors elsewhere: the collectors'). */
export const frozenBaselines = (state: PolicyState): Array<{ service: string; signal: string; baseline: number }> => {
  const found = new Map<string, { service: string; signal: string; baseline: number }>();
  for (const incident of state.open) {
    for (const [key, tracked] of Object.entries(incident.signals)) {
      if (!found.has(key)) found.set(key, { service: serviceOfKey(key), signal: signalOfKey(key), baseline: tracked.baseline });
    }
  }
  return [...found.values()];
};

/** Rebuilds the policy's view of an open incident from its stored facts (after a restart). */
export const restoreIncident = (
  incident: { id: string; service: string; signal: string; severity: Severity; summary: string; openedAtMs: number; settled: boolean; baseline: number },
  signals: Array<{ service: string; signal: string; onsetMs: number; value: number; summary: string; baseline?: number; signature?: string }>,
  atMs: number,
  settings: PolicySettings,
): PolicyIncident => {
  const all = [{ service: incident.service, signal: incident.signal, onsetMs: incident.openedAtMs - settings.resolutionMs, value: 0, summary: incident.summary, baseline: incident.baseline }, ...signals];
  const group: Group = {
    id: deterministicId('group', incident.id),
    openedMs: Math.min(...all.map((s) => s.onsetMs)),
    lastActivityMs: atMs,
    traceIds: [],
    signals: all
      .filter((s) => ['symptom', 'prediction'].includes(meaningOf(s.signal, settings.meanings).role))
      .map((s) => ({ service: s.service, signal: s.signal, onsetMs: s.onsetMs, value: s.value, summary: s.summary, signature: s.signature, lastSeenMs: s.onsetMs, occurrences: 1 })),
  };
  const tracked: Record<string, Tracked> = {};
  for (const s of all) {
    const meaning = meaningOf(s.signal, settings.meanings);
    // Seen bad up to now: an incident still bad after the restart stays open, a quiet one resolves after the quiet intervals.
    tracked[keyOf(s.service, s.signal)] = { role: meaning.role, severity: meaning.severity, lastBadMs: atMs, baseline: s.baseline ?? 0 };
  }
  return { id: incident.id, service: incident.service, signal: incident.signal, severity: incident.severity, summary: incident.summary, openedAtMs: incident.openedAtMs, settled: incident.settled, group, signals: tracked };
};
