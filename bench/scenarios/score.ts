// The fault scenarios' truth, read from the event store: what happened to each fault's fleet (the
// story: incident, alert, root cause, remediation, validation) and the figures of issue #7. Pure: the
// events and the scenario's timings are arguments.
import type { FaultName } from '../../cli/src/demo/faults.ts';

/** One stored event, as `readEvents` returns it. */
/** `position`: the event's place in the store (each event once). */
export type BenchEvent = { type: string; occurredAtMs: number; data: Record<string, any>; position?: string };

/** The playbooks that cure each fault (see faults.ts `cure`): a validation by any other is no recovery. */
export const curedBy: Record<FaultName, string[]> = {
  'error-burst': ['restart-on-error-burst'],
  'latency-spike': ['shed-load-on-saturation'],
  'memory-leak': ['restart-before-out-of-memory'],
  'spend-runaway': ['cap-llm-spend'],
  'provider-outage': ['fallback-model-on-provider-outage', 'circuit-breaker-on-llm-errors'],
  'bad-deploy': ['bad-deploy-revert'],
  // Shedding load does not cure a creep (it only postpones it): a restart does.
  'latency-creep': ['restart-on-latency-creep'],
};

export type ScenarioTimes = {
  fault: FaultName;
  /** Every agent of this fault's fleet starts with it. */
  prefix: string;
  /** The agent the fault hits. */
  target: string;
  /** The fleet started, the fault began, its story ended, the healthy phase after it ended. */
  startedAtMs: number;
  onsetAtMs: number;
  storyEndAtMs: number;
  endedAtMs: number;
  /** For the memory leak: when the gauge would reach its limit. */
  limitAtMs?: number;
};

export type Story = {
  fault: FaultName;
  target: string;
  detected: boolean;
  /** Onset → first incident.opened on the fleet. */
  detectSeconds?: number;
  /** Onset → first firing alert.sent for the fleet's incidents. */
  alertSeconds?: number;
  /** The service ranked first (or the incident's own service when nothing was ranked), and whether it is the target. */
  rootCause?: string;
  rootCauseRight: boolean;
  /** `playbook on service` for every remediation that acted (dry runs left out). */
  actions: string[];
  /** Onset → remediation.validated of a remediation of the fault's cure (`curedBy`) on the target. */
  recoverySeconds?: number;
  validated: boolean;
  /** A remediation whose verification failed: rolled back (true), not rolled back (false); undefined when none failed. */
  rollbackRight?: boolean;
  escalated: boolean;
  /** Incidents opened on the fleet before the onset or after the story. */
  falseAlarms: number;
  /** Firing pages for the fleet during the fault, and outside it. */
  pages: number;
  falsePages: number;
  /** Remediations that acted on an agent other than the target. */
  actionsOnHealthy: number;
  /** failure.predicted: how long before the limit it was raised. */
  predictedLeadSeconds?: number;
  signals: string[];
  /** What each page was about, for a failure message: `service:signal opened +12 s (why), resolved +70 s, paged 1×`. */
  pageLog: string[];
};

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** The story of one scenario from all the events of the run. */
export const storyOf = (times: ScenarioTimes, events: BenchEvent[]): Story => {
  const onFleet = (service: unknown) => typeof service === 'string' && service.startsWith(times.prefix);
  const opened = events.filter((e) => e.type === 'incident.opened' && onFleet(e.data.service));
  const incidentIds = new Set(opened.map((e) => e.data.incidentId as string));
  const during = (e: BenchEvent) => e.occurredAtMs >= times.onsetAtMs && e.occurredAtMs <= times.storyEndAtMs;
  const faultIncidents = opened.filter(during);
  const faultIds = new Set(faultIncidents.map((e) => e.data.incidentId as string));
  const first = faultIncidents[0];
  const firing = events.filter((e) => e.type === 'alert.sent' && e.data.notice === 'firing' && incidentIds.has(e.data.incidentId));
  const faultPages = firing.filter((e) => faultIds.has(e.data.incidentId));
  const ranked = events.filter((e) => e.type === 'incident.root_cause_ranked' && faultIds.has(e.data.incidentId)).at(-1);
  const rootCause: string | undefined = ranked?.data.candidates?.[0]?.service ?? first?.data.service;

  const started = events.filter((e) => e.type === 'remediation.started' && onFleet(e.data.service) && !e.data.dryRun && e.occurredAtMs <= times.endedAtMs);
  const remediations = new Map(started.map((e) => [e.data.remediationId as string, e.data]));
  const about = (type: string) => events.filter((e) => e.type === type && remediations.has(e.data.remediationId));
  const validated = about('remediation.validated').find((e) => {
    const remediation = remediations.get(e.data.remediationId);
    return remediation?.service === times.target && curedBy[times.fault].includes(remediation.playbookId);
  });
  const failed = about('remediation.failed');
  const rolledBack = new Set(about('remediation.rolled_back').map((e) => e.data.remediationId));
  // A fix that did not hold: its rollback steps (if it has any) must have run.
  const failedIds = new Set([...failed.map((e) => e.data.remediationId as string), ...rolledBack]);
  const predicted = faultIncidents.find((e) => e.data.signal === 'failure.predicted');

  return {
    fault: times.fault,
    target: times.target,
    detected: first !== undefined,
    detectSeconds: first ? seconds(first.occurredAtMs - times.onsetAtMs) : undefined,
    alertSeconds: faultPages[0] ? seconds(faultPages[0].occurredAtMs - times.onsetAtMs) : undefined,
    rootCause,
    rootCauseRight: rootCause === times.target,
    actions: started.map((d) => `${d.data.playbookId} on ${d.data.service}`),
    recoverySeconds: validated ? seconds(validated.occurredAtMs - times.onsetAtMs) : undefined,
    validated: validated !== undefined,
    rollbackRight: failedIds.size === 0 ? undefined : [...failedIds].every((id) => rolledBack.has(id) || (remediations.get(id)?.rollback ?? []).length === 0),
    escalated: about('remediation.escalated').length > 0,
    falseAlarms: opened.filter((e) => !during(e) && e.occurredAtMs <= times.endedAtMs).length,
    pages: faultPages.length,
    falsePages: firing.filter((e) => !faultIds.has(e.data.incidentId) && e.occurredAtMs <= times.endedAtMs).length,
    actionsOnHealthy: started.filter((e) => e.data.service !== times.target).length,
    predictedLeadSeconds: predicted && times.limitAtMs ? seconds(times.limitAtMs - predicted.occurredAtMs) : undefined,
    pageLog: [...incidentIds].flatMap((id) => {
      const paged = firing.filter((e) => e.data.incidentId === id).length;
      if (paged === 0) return [];
      const at = (e: BenchEvent | undefined) => (e ? `+${seconds(e.occurredAtMs - times.onsetAtMs)} s` : 'never');
      const open = opened.find((e) => e.data.incidentId === id)!;
      const about = (type: string) => events.filter((e) => e.type === type && e.data.incidentId === id);
      const reopened = about('incident.reopened').map((e) => `reopened ${at(e)} (${e.data.reason})`);
      return [`${open.data.service}:${open.data.signal} opened ${at(open)} (${open.data.reason ?? open.data.summary}), ${[...reopened, `resolved ${about('incident.resolved').map(at).join(', ') || 'never'}`].join(', ')}; paged ${paged}×`];
    }),
    // The incidents' evidence: the opening signals and those attached to them.
    signals: [
      ...new Set(
        [...faultIncidents, ...events.filter((e) => e.type === 'incident.signal_attached' && faultIds.has(e.data.incidentId))]
          .filter((e) => onFleet(e.data.service))
          .map((e) => `${e.data.service.slice(times.prefix.length)}:${e.data.signal}`),
      ),
    ],
  };
};

export type Totals = {
  faults: number;
  mttdSeconds?: number;
  mttrSeconds?: number;
  remediatedPercent: number;
  pagesPerFault: number;
  falsePages: number;
  falseAlarms: number;
  actionsOnHealthy: number;
  leadSeconds?: number;
};

const mean = (values: number[]) => (values.length ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10 : undefined);

export const totalsOf = (stories: Story[]): Totals => ({
  faults: stories.length,
  mttdSeconds: mean(stories.flatMap((s) => (s.detectSeconds === undefined ? [] : [s.detectSeconds]))),
  mttrSeconds: mean(stories.flatMap((s) => (s.recoverySeconds === undefined ? [] : [s.recoverySeconds]))),
  remediatedPercent: stories.length ? Math.round((stories.filter((s) => s.validated).length / stories.length) * 100) : 0,
  pagesPerFault: stories.length ? Math.round((stories.reduce((n, s) => n + s.pages, 0) / stories.length) * 10) / 10 : 0,
  falsePages: stories.reduce((n, s) => n + s.falsePages, 0),
  falseAlarms: stories.reduce((n, s) => n + s.falseAlarms, 0),
  actionsOnHealthy: stories.reduce((n, s) => n + s.actionsOnHealthy, 0),
  leadSeconds: stories.find((s) => s.predictedLeadSeconds !== undefined)?.predictedLeadSeconds,
});

const cell = (value: string | number | undefined, width: number) => String(value ?? '—').padEnd(width);
const yesNo = (value: boolean | undefined) => (value === undefined ? 'n/a' : value ? 'yes' : 'no');

/** The table the benchmark prints: one row per fault, then the totals beside their goals. */
export const formatTable = (stories: Story[], resolutionSeconds: number): string => {
  const head = ['fault', 'detected', 'ttd s', 'alert s', 'root cause', 'action taken', 'ttr s', 'rollback', 'false alarms', 'pages'];
  const widths = [16, 9, 7, 8, 22, 52, 7, 9, 13, 5];
  const lines = [head.map((h, i) => cell(h, widths[i]!)).join(' ')];
  for (const s of stories) {
    const rootCause = s.rootCause === undefined ? undefined : `${s.rootCauseRight ? 'right' : 'WRONG'} (${s.rootCause})`;
    const action = s.actions.length ? s.actions.join(', ') : 'none';
    lines.push(
      [s.fault, yesNo(s.detected), s.detectSeconds, s.alertSeconds, rootCause, action.length > 52 ? `${action.slice(0, 49)}...` : action, s.recoverySeconds, yesNo(s.rollbackRight), s.falseAlarms, s.pages]
        .map((v, i) => cell(v, widths[i]!))
        .join(' '),
    );
  }
  const t = totalsOf(stories);
  lines.push(
    '',
    `totals over ${t.faults} faults at ${resolutionSeconds} s resolution (goal in brackets):`,
    `  MTTD                        ${t.mttdSeconds ?? '—'} s   [≤ 20 s at 10 s resolution]`,
    `  MTTR (cured faults)         ${t.mttrSeconds ?? '—'} s   [≤ 60 s]`,
    `  remediated and validated    ${t.remediatedPercent} % without a human   [≥ 80 %]`,
    `  pages per fault             ${t.pagesPerFault}`,
    `  false pages                 ${t.falsePages}   [0]   (false alarms, paged or not: ${t.falseAlarms})`,
    `  actions on healthy agents   ${t.actionsOnHealthy}   [0]`,
    `  leak predicted before limit ${t.leadSeconds ?? '—'} s   [≥ 60 s]`,
  );
  for (const s of stories) lines.push(`  ${s.fault}: signals ${s.signals.join(', ') || 'none'}${s.escalated ? '; escalated to a human' : ''}`);
  return lines.join('\n');
};
