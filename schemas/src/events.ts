// Every control-plane event: the envelope stored in the event store and published to heph.events.
import { z } from 'zod';

/** `error_rate`, any series name (`gen_ai.cost_usd`, `process.memory.usage`…), `failure.predicted`, `gen_ai.budget`. */
export const signalName = z.string().min(1);
export type SignalName = z.infer<typeof signalName>;

export const severity = z.enum(['critical', 'warning', 'info']);
export type Severity = z.infer<typeof severity>;

/** Which side of its baseline a signal's value is on: the incident policy only acts on the bad side. */
export const direction = z.enum(['above', 'below']);
export type Direction = z.infer<typeof direction>;

/**
 * Why a signal was raised, in the words an on-call engineer needs: the detector, its baseline and
 * threshold, the window it judged, and the evidence (counts, samples).
 */
export const signalExplanation = z.object({
  detector: z.string(),
  baseline: z.number().optional(),
  threshold: z.number().optional(),
  windowSeconds: z.number().optional(),
  evidence: z.string().optional(),
  /** How the value got off its baseline: within two intervals (`sudden`, a step) or over more (`gradual`, a creep). */
  onset: z.enum(['sudden', 'gradual']).optional(),
});
export type SignalExplanation = z.infer<typeof signalExplanation>;

const incidentOpened = z.object({
  incidentId: z.string(),
  service: z.string(),
  signal: signalName,
  severity,
  summary: z.string(),
  value: z.number(),
  baseline: z.number(),
  calls: z.number().int().optional(),
  errors: z.number().int().optional(),
  windowStart: z.iso.datetime(),
  controlUrl: z.string().optional(),
  /** For `failure.predicted`: seconds from the prediction until the limit is crossed. */
  etaSeconds: z.number().nonnegative().optional(),
  /** Routing labels: service, signal, severity, and team / environment when the telemetry says. */
  labels: z.record(z.string(), z.string()).optional(),
  /** Exemplar traces of the signal, for the responder and root-cause ranking. */
  traceIds: z.array(z.string()).optional(),
  /** The opening signal's side of its baseline (absent in events recorded before it existed). */
  direction: direction.optional(),
  /** How the opening signal was judged, and why it pages. */
  explanation: signalExplanation.optional(),
  /** Why the incident policy opened an incident: the rule that fired. */
  reason: z.string().optional(),
});
const signalAttached = z.object({
  incidentId: z.string(),
  service: z.string(),
  signal: signalName,
  summary: z.string(),
  value: z.number(),
  onsetAt: z.iso.datetime(),
  traceIds: z.array(z.string()).optional(),
  signature: z.string().optional(),
  baseline: z.number().optional(),
  direction: direction.optional(),
  explanation: signalExplanation.optional(),
  /** Why it joined this incident (same service, topology neighbour, shared trace or signature). */
  reason: z.string().optional(),
});
const incidentAcknowledged = z.object({ incidentId: z.string(), by: z.string() });
const incidentMitigated = z.object({ incidentId: z.string(), remediationId: z.string(), detail: z.string() });
/** `remediationId`: reopened because that remediation failed its verification (the fault did not clear). */
const incidentReopened = z.object({ incidentId: z.string(), reason: z.string(), remediationId: z.string().optional() });
const severityChanged = z.object({ incidentId: z.string(), from: severity, to: severity, reason: z.string() });
const rootCauseRanked = z.object({
  incidentId: z.string(),
  candidates: z.array(z.object({ service: z.string(), confidence: z.number(), evidence: z.array(z.string()) })),
  /**
   * The ranking after one full interval of event time since the incident opened: the evidence the
   * healer acts on (a deeper service's errors and the root cause's error signatures arrive an
   * interval after the callers'). Recorded once per incident.
   */
  settled: z.boolean().optional(),
});
const silenceCreated = z.object({
  silenceId: z.string(),
  matchers: z.array(z.object({ name: z.string(), value: z.string(), isRegex: z.boolean(), isEqual: z.boolean() })),
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime(),
  createdBy: z.string(),
  comment: z.string(),
});
const silenceExpired = z.object({ silenceId: z.string(), by: z.string().optional() });
const alertDeliveryFailed = z.object({
  incidentId: z.string(),
  receiver: z.string(),
  notice: z.enum(['firing', 'resolved', 'acknowledged']),
  attempts: z.number().int(),
  error: z.string(),
  causationEventId: z.string(),
  kind: z.string().optional(),
  groupKey: z.string().optional(),
});
const incidentResolved = z.object({
  incidentId: z.string(),
  service: z.string(),
  signal: signalName,
  reason: z.string(),
  value: z.number(),
});
const alertSent = z.object({
  incidentId: z.string(),
  notice: z.enum(['firing', 'resolved', 'acknowledged']),
  receiver: z.string(),
  status: z.number().int(),
  attempts: z.number().int(),
  causationEventId: z.string(),
  /** The receiver's integration: webhook, slack, pagerduty, or log when none is configured. */
  kind: z.string().optional(),
  groupKey: z.string().optional(),
});
const step = z.object({ name: z.string(), action: z.string(), params: z.record(z.string(), z.string()), timeoutSeconds: z.number(), retries: z.number().int() });
/** Which list a step belongs to: the playbook's steps, or its rollback steps after a failed verification. */
const phase = z.enum(['steps', 'rollback']);
/** What the healer checks after the steps: a signal condition over a window of closed intervals. */
const verification = z.object({
  /** `error_rate`, `latency_p99` (ms) or any analyzer series name (e.g. `gen_ai.cost`, a gauge). */
  signal: z.string(),
  windowSeconds: z.number(),
  /** Absolute ceiling for the signal in every interval of the window. */
  max: z.number().optional(),
  /** Back under the baseline before the incident, times this factor (1 = the baseline itself). */
  baselineFactor: z.number().optional(),
});
const remediationStarted = z.object({
  remediationId: z.string(),
  incidentId: z.string(),
  playbookId: z.string(),
  /** The service acted on: the incident's top-ranked root cause when it has one, else its own service. */
  service: z.string(),
  signal: signalName,
  /** The incident's severity, for `{{incident.severity}}` in step parameters. */
  severity: severity.optional(),
  controlUrl: z.string().optional(),
  steps: z.array(step),
  rollback: z.array(step).default([]),
  verify: verification,
  approvalRequired: z.boolean().default(false),
  approvalTimeoutSeconds: z.number().optional(),
  dryRun: z.boolean().default(false),
  /** Why this target: e.g. "root cause ranked first (score 0.82)" or "the incident's service". */
  targetReason: z.string().optional(),
  /** What happens when nobody answers the approval in time (the playbook's approval.onTimeout). */
  approvalOnTimeout: z.enum(['escalate', 'reject']).optional(),
  /** What happens after a failure once the rollback ran (the playbook's onFailure). */
  onFailure: z.enum(['escalate', 'none']).optional(),
  /** Start of the incident's window: the baseline for `verify.baselineFactor` is the 30 intervals before it. */
  incidentWindowStart: z.iso.datetime().optional(),
});
const stepStarted = z.object({ remediationId: z.string(), step: z.number().int(), name: z.string(), phase: phase.default('steps'), attempt: z.number().int().default(1) });
const stepSucceeded = z.object({ remediationId: z.string(), step: z.number().int(), name: z.string(), detail: z.string(), phase: phase.default('steps'), dryRun: z.boolean().default(false) });
const stepFailed = z.object({ remediationId: z.string(), step: z.number().int(), name: z.string(), error: z.string(), phase: phase.default('steps') });
const remediationAwaitingApproval = z.object({ remediationId: z.string(), incidentId: z.string(), timeoutSeconds: z.number().optional() });
const remediationApproved = z.object({ remediationId: z.string(), by: z.string() });
const remediationRejected = z.object({ remediationId: z.string(), incidentId: z.string(), by: z.string(), reason: z.string() });
/** A guard (rate, cooldown, concurrency, blast radius) kept the healer from acting. */
const remediationRefused = z.object({ remediationId: z.string(), incidentId: z.string(), playbookId: z.string(), service: z.string(), reason: z.string() });
const remediationVerificationStarted = z.object({ remediationId: z.string(), incidentId: z.string(), verify: verification });
const remediationValidated = z.object({ remediationId: z.string(), incidentId: z.string(), detail: z.string() });
/** `verificationFailed`: the steps ran and the signal was still off afterwards, so the incident is not over. */
const remediationFailed = z.object({ remediationId: z.string(), incidentId: z.string(), reason: z.string(), verificationFailed: z.boolean().optional() });
const remediationRolledBack = z.object({ remediationId: z.string(), incidentId: z.string(), reason: z.string() });
/** Handed to a human: paged through the alerting path. */
const remediationEscalated = z.object({ remediationId: z.string(), incidentId: z.string(), service: z.string(), reason: z.string() });

// FixPullRequest: a code change (or a revert) the healer proposes on GitHub and follows to the end.
const fixKind = z.enum(['fix', 'revert']);
const fixPrOpened = z.object({
  fixId: z.string(),
  remediationId: z.string(),
  incidentId: z.string(),
  kind: fixKind,
  repository: z.string(),
  number: z.number().int(),
  url: z.string(),
  branch: z.string(),
  headSha: z.string(),
  title: z.string(),
  /** For a revert: the pull request or commit it undoes. */
  reverts: z.string().optional(),
});
const fixChecksPassed = z.object({ fixId: z.string(), number: z.number().int(), headSha: z.string(), detail: z.string() });
const fixChecksFailed = z.object({ fixId: z.string(), number: z.number().int(), headSha: z.string(), reason: z.string() });
const fixMerged = z.object({ fixId: z.string(), number: z.number().int(), mergeSha: z.string(), by: z.string() });
const fixClosed = z.object({ fixId: z.string(), number: z.number().int(), reason: z.string() });
/** The merged change is live: its `service.version` appeared in telemetry. */
const fixDeployed = z.object({ fixId: z.string(), service: z.string(), serviceVersion: z.string() });
const fixValidated = z.object({ fixId: z.string(), detail: z.string() });
const fixValidationFailed = z.object({ fixId: z.string(), reason: z.string() });
/** A revert pull request for a merged fix that failed validation. */
const fixRevertOpened = z.object({ fixId: z.string(), number: z.number().int(), url: z.string(), revertsNumber: z.number().int(), autoMerge: z.boolean() });
const fixReverted = z.object({ fixId: z.string(), number: z.number().int(), mergeSha: z.string() });

export const eventData = {
  'incident.opened': incidentOpened,
  'incident.resolved': incidentResolved,
  'incident.signal_attached': signalAttached,
  'incident.acknowledged': incidentAcknowledged,
  'incident.mitigated': incidentMitigated,
  'incident.reopened': incidentReopened,
  'incident.severity_changed': severityChanged,
  'incident.root_cause_ranked': rootCauseRanked,
  'silence.created': silenceCreated,
  'silence.expired': silenceExpired,
  'alert.sent': alertSent,
  'alert.delivery_failed': alertDeliveryFailed,
  'remediation.started': remediationStarted,
  'remediation.awaiting_approval': remediationAwaitingApproval,
  'remediation.approved': remediationApproved,
  'remediation.rejected': remediationRejected,
  'remediation.refused': remediationRefused,
  'remediation.step_started': stepStarted,
  'remediation.step_succeeded': stepSucceeded,
  'remediation.step_failed': stepFailed,
  'remediation.verification_started': remediationVerificationStarted,
  'remediation.validated': remediationValidated,
  'remediation.failed': remediationFailed,
  'remediation.rolled_back': remediationRolledBack,
  'remediation.escalated': remediationEscalated,
  'fix.pr_opened': fixPrOpened,
  'fix.checks_passed': fixChecksPassed,
  'fix.checks_failed': fixChecksFailed,
  'fix.merged': fixMerged,
  'fix.closed': fixClosed,
  'fix.deployed': fixDeployed,
  'fix.validated': fixValidated,
  'fix.validation_failed': fixValidationFailed,
  'fix.revert_opened': fixRevertOpened,
  'fix.reverted': fixReverted,
} as const;

export type EventType = keyof typeof eventData;
export type EventDataOf<T extends EventType> = z.infer<(typeof eventData)[T]>;

export const eventMetadata = z.object({
  causationId: z.string().optional(),
  correlationId: z.string().optional(),
});
export type EventMetadata = z.infer<typeof eventMetadata>;

const envelope = <T extends EventType>(type: T) =>
  z.object({
    id: z.uuid(),
    streamId: z.string().min(1),
    version: z.number().int().positive(),
    type: z.literal(type),
    occurredAt: z.iso.datetime(),
    data: eventData[type],
    metadata: eventMetadata,
  });

export const hephEvent = z.discriminatedUnion('type', [
  envelope('incident.opened'),
  envelope('incident.resolved'),
  envelope('incident.signal_attached'),
  envelope('incident.acknowledged'),
  envelope('incident.mitigated'),
  envelope('incident.reopened'),
  envelope('incident.severity_changed'),
  envelope('incident.root_cause_ranked'),
  envelope('silence.created'),
  envelope('silence.expired'),
  envelope('alert.sent'),
  envelope('alert.delivery_failed'),
  envelope('remediation.started'),
  envelope('remediation.awaiting_approval'),
  envelope('remediation.approved'),
  envelope('remediation.rejected'),
  envelope('remediation.refused'),
  envelope('remediation.step_started'),
  envelope('remediation.step_succeeded'),
  envelope('remediation.step_failed'),
  envelope('remediation.verification_started'),
  envelope('remediation.validated'),
  envelope('remediation.failed'),
  envelope('remediation.rolled_back'),
  envelope('remediation.escalated'),
  envelope('fix.pr_opened'),
  envelope('fix.checks_passed'),
  envelope('fix.checks_failed'),
  envelope('fix.merged'),
  envelope('fix.closed'),
  envelope('fix.deployed'),
  envelope('fix.validated'),
  envelope('fix.validation_failed'),
  envelope('fix.revert_opened'),
  envelope('fix.reverted'),
]);
export type HephEvent = z.infer<typeof hephEvent>;
export type EventOf<T extends EventType> = Extract<HephEvent, { type: T }>;

/** What a decider's `evolve` reads of a stored event, typed by its type: a switch on `type` narrows `data`, no cast. */
export type EventFact<T extends EventType = EventType> = { [K in T]: { type: K; data: EventDataOf<K>; occurredAt: string } }[T];

/** An event before the store gives it a stream version: what deciders return. */
export type NewEvent = { [T in EventType]: { type: T; data: EventDataOf<T> } }[EventType];

/** A stored event with the global position the event store assigned. */
export type StoredEvent = HephEvent & { position: bigint };
