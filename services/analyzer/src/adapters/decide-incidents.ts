// detect → decide → append, on event time: each interval closes once the telemetry consumed has
// passed its end (plus the grace for late data), never earlier because the clock says so; every
// detector's output for that interval (error rate, every series, predictions, budgets, error
// signatures, objectives) goes through the one incident policy, and its commands are appended.
import { handleIncidentCommand, incidentStreamId, openIncidents, type IncidentCommand } from '@hephaestus/aggregates';
import { readEventsOfTypes, readStream, type Logger, type Sql } from '@hephaestus/platform';
import type { EventDataOf } from '@hephaestus/schemas';
import { Counter, type Registry } from 'prom-client';
import type { ErrorRateSettings } from '../domain/error-rate-detector.ts';
import { signatureObservation } from '../domain/observations.ts';
import { observeErrorRates } from './error-rate-watch.ts';
import { decidePass, frozenBaseline, frozenBaselines, initialPolicyState, restoreIncident, type ActiveRemediation, type Decision, type Observation, type PolicySettings, type PolicyState } from '../domain/incident-policy.ts';
import type { createCorrelator } from './correlator.ts';
import { storeIncidentTraces } from './incident-traces.ts';

export type DecideIncidentsOptions = {
  sql: Sql;
  logger: Logger;
  registry: Registry;
  resolutionSeconds: number;
  errorRate: ErrorRateSettings;
  policy: PolicySettings;
  correlator: ReturnType<typeof createCorrelator>;
  /** Observations of the series detectors, predictions and budgets for the buckets closed before the time given (from `fromMs` on the first call of a replay). */
  observeSeries: (closedBeforeMs: number, fromMs?: number, held?: (service: string, signal: string) => number | undefined) => Promise<Observation[]>;
  /**
   * Analyzers apart: the observations the collectors made of the intervals from `first` to `closedBefore`
   * (error rates, series, predictions, budgets), instead of running those detectors here.
   */
  detected?: (first: number, closedBefore: number) => Observation[];
  /** Observations of the objectives' burn rates. */
  observeObjectives?: (closedBeforeMs: number) => Promise<Observation[]>;
  /** After a long stop, at most this many intervals are judged to catch up. */
  maxCatchUpIntervals?: number;
};

/** One line per command, in plain words, for the log. */
const narrate = (command: IncidentCommand, decision: Decision | undefined): string | undefined => {
  switch (command.type) {
    case 'OpenIncident':
      return `incident opened: ${command.service} ${command.summary}${decision ? ` (${decision.reason})` : ''}`;
    case 'AttachSignal':
      return `signal attached to an open incident: ${command.summary} (${command.reason ?? 'related'})`;
    case 'ReopenIncident':
      return `incident reopened: ${command.reason}`;
    case 'ResolveIncident':
      return `incident resolved: ${command.service} ${command.reason}`;
    case 'ChangeSeverity':
      return `incident severity raised to ${command.to}: ${command.reason}`;
    case 'RankRootCauses':
      return command.settled ? `root cause settled: ${command.candidates[0]?.service ?? 'none'}${command.candidates[0] ? ` (confidence ${command.candidates[0].confidence.toFixed(2)})` : ''}` : undefined;
    default:
      return undefined;
  }
};

export const createIncidentDecisions = (options: DecideIncidentsOptions) => {
  const { sql, logger, correlator } = options;
  const resolutionMs = options.resolutionSeconds * 1000;
  const settings = options.errorRate;
  const maxCatchUp = options.maxCatchUpIntervals ?? 60;
  const counted = new Counter({ name: 'heph_analyzer_signals_total', help: 'Signals judged by the incident policy, by decision.', labelNames: ['decision'], registers: [options.registry] });
  let state: PolicyState | undefined;
  let judgedUntil: number | undefined;

  // After a restart: the open incidents as the policy knew them, from their streams.
  const restore = async (atMs: number): Promise<PolicyState> => {
    const restored = initialPolicyState();
    for (const row of await openIncidents(sql)) {
      const events = await readStream(sql, incidentStreamId(row.id));
      const opened = events.find((e) => e.type === 'incident.opened');
      if (!opened) continue;
      const d = opened.data as EventDataOf<'incident.opened'>;
      const attached = events.filter((e) => e.type === 'incident.signal_attached').map((e) => e.data as EventDataOf<'incident.signal_attached'>);
      const settled = events.some((e) => e.type === 'incident.root_cause_ranked' && (e.data as EventDataOf<'incident.root_cause_ranked'>).settled);
      const severity = events.filter((e) => e.type === 'incident.severity_changed').map((e) => (e.data as EventDataOf<'incident.severity_changed'>).to).at(-1) ?? d.severity;
      restored.open.push(
        restoreIncident(
          { id: d.incidentId, service: d.service, signal: d.signal, severity, summary: d.summary, openedAtMs: Date.parse(opened.occurredAt), settled, baseline: d.baseline },
          attached.map((a) => ({ service: a.service, signal: a.signal, onsetMs: Date.parse(a.onsetAt), value: a.value, summary: a.summary, baseline: a.baseline, signature: a.signature })),
          atMs,
          options.policy,
        ),
      );
    }
    if (restored.open.length > 0) logger.info({ incidents: restored.open.length }, 'open incidents restored into the incident policy');
    return restored;
  };

  // detect (error rate): the count-aware test per service and interval, unless the collectors did.
  const observeErrors = (first: number, closedBefore: number, policy: PolicyState) =>
    observeErrorRates(
      { sql, resolutionSeconds: options.resolutionSeconds, settings, frozen: (service, signal) => frozenBaseline(policy, service, signal), signatureOf: (service, atMs) => correlator.topSignature(service, atMs) },
      first,
      closedBefore,
    );

  // The healer's recent actions, from its events (not its tables): what they cause is not a new fault.
  const ends = ['remediation.validated', 'remediation.failed', 'remediation.rolled_back', 'remediation.escalated'];
  const recentRemediations = async (sinceMs: number): Promise<ActiveRemediation[]> => {
    const events = await readEventsOfTypes(sql, ['remediation.started', ...ends], new Date(sinceMs));
    const byId = new Map<string, ActiveRemediation>();
    for (const event of events) {
      const id = String((event.data as { remediationId: string }).remediationId);
      if (event.type === 'remediation.started') {
        const d = event.data as EventDataOf<'remediation.started'>;
        if (!d.dryRun) byId.set(id, { remediationId: id, incidentId: d.incidentId, service: d.service, playbookId: d.playbookId, startedAtMs: Date.parse(event.occurredAt) });
      } else {
        const known = byId.get(id);
        if (known) known.endedAtMs = Math.max(known.endedAtMs ?? 0, Date.parse(event.occurredAt));
      }
    }
    return [...byId.values()];
  };

  // detect (error signatures): new or surging templates, as evidence for the incident they relate to.
  const observeSignatures = (closedBefore: number): Observation[] =>
    correlator.closeSignatureBuckets(closedBefore).map((surge) => signatureObservation(surge, correlator.templateOf(surge.service, surge.signatureId), options.resolutionSeconds));

  // Exemplars: when a signal opens or joins an incident, a few of its service's traces from the onset
  // on (those the signal names first) are stored with the incident, for the console's waterfall;
  // before its events, so a page that reads the incident when it opens finds them.
  const keepExemplars = async (command: IncidentCommand) => {
    if (command.type !== 'OpenIncident' && command.type !== 'AttachSignal') return;
    const onsetMs = Date.parse(command.type === 'OpenIncident' ? command.windowStart : command.onsetAt);
    const atMs = Date.parse(command.at);
    const fromMs = (Number.isFinite(onsetMs) ? Math.min(onsetMs, atMs) : atMs) - resolutionMs;
    const exemplars = correlator.exemplars(command.service, { fromMs, toMs: atMs, traceIds: command.traceIds ?? [], limit: 5 });
    const stored = await storeIncidentTraces(sql, command.incidentId, exemplars, atMs);
    if (stored > 0) logger.debug({ incidentId: command.incidentId, service: command.service, traces: stored }, 'exemplar traces stored with the incident');
  };

  const apply = async (commands: IncidentCommand[], decisions: Decision[]) => {
    for (const command of commands) {
      // Exemplars illustrate an incident; failing to keep them must not hold its decision back.
      await keepExemplars(command).catch((error: unknown) => logger.warn({ err: error, incidentId: command.incidentId }, 'exemplar traces not stored'));
      const events = await handleIncidentCommand(sql, command);
      if (events.length === 0) continue;
      const decision = command.type === 'OpenIncident' ? decisions.find((d) => d.incidentId === command.incidentId && d.decision === 'opened') : undefined;
      const message = narrate(command, decision);
      if (message) logger.info({ incidentId: command.incidentId, command: command.type }, message);
    }
    for (const d of decisions) {
      counted.inc({ decision: d.decision });
      if (d.decision === 'recorded') logger.debug({ service: d.service, signal: d.signal }, `signal recorded as evidence: ${d.service} ${d.signal} (${d.reason})`);
    }
  };

  /** Judges every interval that closed before `closedBefore` (event time) and was not judged yet; one pass at a time. */
  let running: Promise<void> = Promise.resolve();
  const pass = (closedBefore: number, fromMs?: number): Promise<void> => {
    const next = running.then(() => judge(closedBefore, fromMs));
    running = next.catch(() => {});
    return next;
  };
  /** `fromMs`: a replay judges every interval from the first telemetry on, not only the newest. */
  const judge = async (closedBefore: number, fromMs?: number) => {
    let seriesFromMs: number | undefined;
    if (state === undefined) {
      state = await restore(closedBefore);
      judgedUntil = fromMs === undefined ? closedBefore - resolutionMs : Math.min(closedBefore, Math.floor(fromMs / resolutionMs) * resolutionMs);
      seriesFromMs = fromMs === undefined ? undefined : judgedUntil;
    }
    if (closedBefore <= judgedUntil!) return;
    const first = Math.max(judgedUntil!, closedBefore - maxCatchUp * resolutionMs);
    let policy = state;
    const observations = [
      ...(options.detected
        ? options.detected(first, closedBefore)
        : [
            ...(await observeErrors(first, closedBefore, policy)),
            ...(await options.observeSeries(closedBefore, seriesFromMs, (service, signal) => frozenBaseline(policy, service, signal))),
          ]),
      ...observeSignatures(closedBefore),
      ...((await options.observeObjectives?.(closedBefore)) ?? []),
    ];
    const byBucket = new Map<number, Observation[]>();
    for (const o of observations) {
      const start = Math.max(first, Math.min(o.bucketStartMs, closedBefore - resolutionMs));
      byBucket.set(start, [...(byBucket.get(start) ?? []), o]);
    }
    const remediations = await recentRemediations(first - 15 * 60_000);
    const context = { topology: correlator.topology, traces: correlator.traces, settings: options.policy, remediations };
    for (let start = first; start < closedBefore; start += resolutionMs) {
      const result = decidePass(policy, byBucket.get(start) ?? [], start + resolutionMs, context);
      // Commands are idempotent against the streams: a pass that fails half-way is judged again.
      await apply(result.commands, result.decisions);
      policy = result.state;
    }
    state = policy;
    judgedUntil = closedBefore;
  };

  return {
    pass,
    openCount: () => state?.open.length ?? 0,
    /** Every interval before this is decided. */
    judgedUntil: () => judgedUntil,
    /** The baselines the open incidents froze, per service and signal (hysteresis: the collectors' detectors read them). */
    frozen: () => (state ? frozenBaselines(state) : []),
  };
};
