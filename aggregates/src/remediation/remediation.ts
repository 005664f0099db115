// The Remediation aggregate as a decider: start (or refusal) → approval when required → each step
// recorded before (step_started) and after (step_succeeded | step_failed) it runs → verification →
// validated | failed → rollback steps → rolled_back → escalated. A step_started without a result is a
// step the healer was interrupted in: it runs again (same idempotency key); a finished step never does.
import type { EventDataOf, EventFact, NewEvent } from '@hephaestus/schemas';

type Started = EventDataOf<'remediation.started'>;
type PlanStep = Started['steps'][number];
export type Phase = 'steps' | 'rollback';

/** What happened to one step of one phase, for the API and the logs. */
export type StepRecord = {
  phase: Phase;
  step: number;
  name: string;
  action: string;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  outcome?: 'succeeded' | 'failed';
  detail?: string;
  error?: string;
  dryRun?: boolean;
};

export type RemediationStatus =
  | 'awaiting_approval'
  | 'running'
  | 'verifying'
  | 'rolling_back'
  | 'validated'
  | 'failed'
  | 'rolled_back'
  | 'escalated'
  | 'rejected'
  | 'refused'
  | 'dry_run';

/** Statuses the healer still has work to do in; the others are final. */
export const unfinishedStatuses: RemediationStatus[] = ['awaiting_approval', 'running', 'verifying', 'rolling_back'];

export type ActiveRemediation = {
  status: Exclude<RemediationStatus, 'refused'>;
  plan: Started;
  startedAt: string;
  phase: Phase;
  nextStep: number;
  /** The step recorded as started and not yet finished: interrupted when the healer died. */
  inFlight?: { phase: Phase; step: number; attempt: number };
  steps: StepRecord[];
  /** `github.undo` for each fix pull request opened (newest first), then the playbook's rollback. */
  rollbackSteps: PlanStep[];
  awaitingSince?: string;
  approvedBy?: string;
  rejected?: { by: string; reason: string };
  verificationStartedAt?: string;
  lastActionAt?: string;
  outcome?: string;
  failure?: string;
  escalation?: string;
};

export type Remediation =
  | { status: 'none' }
  | { status: 'refused'; refused: EventDataOf<'remediation.refused'>; refusedAt: string }
  | ActiveRemediation;

export type RemediationCommand =
  | ({ type: 'StartRemediation' } & Started)
  | ({ type: 'RefuseRemediation' } & EventDataOf<'remediation.refused'>)
  | { type: 'ApproveRemediation'; by: string }
  | { type: 'RejectRemediation'; by: string; reason: string }
  | { type: 'TimeOutApproval' }
  | { type: 'StartStep'; phase: Phase; step: number }
  | { type: 'RecordStepResult'; phase: Phase; step: number; ok: true; detail: string; dryRun?: boolean }
  | { type: 'RecordStepResult'; phase: Phase; step: number; ok: false; error: string }
  | { type: 'StartVerification' }
  | { type: 'RecordVerification'; ok: boolean; detail: string };

export const initialState = (): Remediation => ({ status: 'none' });

/** The action name of the compensation for a fix pull request: the injected GitHub executor's `undo`. */
export const githubUndo = 'github.undo';

const stepsOf = (s: ActiveRemediation, phase: Phase) => (phase === 'steps' ? s.plan.steps : s.rollbackSteps);

/** After a failure: the rollback steps run first; without any, escalate right away (when the playbook says so). */
const afterFailure = (s: ActiveRemediation, reason: string, verificationFailed = false): NewEvent[] => {
  const { remediationId, incidentId, service } = s.plan;
  const failed: NewEvent = { type: 'remediation.failed', data: { remediationId, incidentId, reason, ...(verificationFailed ? { verificationFailed } : {}) } };
  if (rollbackPlan(s).length > 0) return [failed];
  return s.plan.onFailure === 'none' ? [failed] : [failed, { type: 'remediation.escalated', data: { remediationId, incidentId, service, reason } }];
};

const escalateAfterRollback = (s: ActiveRemediation, reason: string): NewEvent[] =>
  s.plan.onFailure === 'none' ? [] : [{ type: 'remediation.escalated', data: { remediationId: s.plan.remediationId, incidentId: s.plan.incidentId, service: s.plan.service, reason } }];

export const decide = (command: RemediationCommand, state: Remediation): NewEvent[] => {
  if (command.type === 'StartRemediation') {
    if (state.status !== 'none') return [];
    const { type: _type, ...data } = command;
    const started: NewEvent = { type: 'remediation.started', data };
    if (!data.approvalRequired) return [started];
    return [started, { type: 'remediation.awaiting_approval', data: { remediationId: data.remediationId, incidentId: data.incidentId, timeoutSeconds: data.approvalTimeoutSeconds } }];
  }
  if (command.type === 'RefuseRemediation') {
    if (state.status !== 'none') return [];
    const { type: _type, ...data } = command;
    return [{ type: 'remediation.refused', data }];
  }
  if (state.status === 'none' || state.status === 'refused') return [];
  const { remediationId, incidentId, service } = state.plan;
  switch (command.type) {
    case 'ApproveRemediation':
      return state.status === 'awaiting_approval' ? [{ type: 'remediation.approved', data: { remediationId, by: command.by } }] : [];
    case 'RejectRemediation':
      return state.status === 'awaiting_approval' ? [{ type: 'remediation.rejected', data: { remediationId, incidentId, by: command.by, reason: command.reason } }] : [];
    case 'TimeOutApproval': {
      if (state.status !== 'awaiting_approval') return [];
      const reason = `nobody approved within ${state.plan.approvalTimeoutSeconds ?? 0} s`;
      return state.plan.approvalOnTimeout === 'reject'
        ? [{ type: 'remediation.rejected', data: { remediationId, incidentId, by: 'healer', reason } }]
        : [{ type: 'remediation.escalated', data: { remediationId, incidentId, service, reason } }];
    }
    case 'StartStep': {
      const phaseStatus = command.phase === 'steps' ? 'running' : 'rolling_back';
      if (state.status !== phaseStatus || state.phase !== command.phase || command.step !== state.nextStep) return [];
      const step = stepsOf(state, command.phase)[command.step];
      if (!step) return [];
      const attempts = state.steps.find((r) => r.phase === command.phase && r.step === command.step)?.attempts ?? 0;
      return [{ type: 'remediation.step_started', data: { remediationId, step: command.step, name: step.name, phase: command.phase, attempt: attempts + 1 } }];
    }
    case 'RecordStepResult': {
      const flying = state.inFlight;
      if (!flying || flying.phase !== command.phase || flying.step !== command.step) return [];
      const steps = stepsOf(state, command.phase);
      const name = steps[command.step]!.name;
      const last = command.step === steps.length - 1;
      if (command.ok) {
        const succeeded: NewEvent = { type: 'remediation.step_succeeded', data: { remediationId, step: command.step, name, detail: command.detail, phase: command.phase, dryRun: command.dryRun ?? false } };
        if (command.phase === 'steps' || !last) return [succeeded];
        const reason = state.failure ?? 'the remediation failed';
        return [succeeded, { type: 'remediation.rolled_back', data: { remediationId, incidentId, reason } }, ...escalateAfterRollback(state, `${reason}; rolled back`)];
      }
      const failedStep: NewEvent = { type: 'remediation.step_failed', data: { remediationId, step: command.step, name, error: command.error, phase: command.phase } };
      if (command.phase === 'steps') return [failedStep, ...afterFailure(state, `step '${name}' failed: ${command.error}`)];
      return [failedStep, ...escalateAfterRollback(state, `${state.failure ?? 'the remediation failed'}; rollback step '${name}' failed: ${command.error}`)];
    }
    case 'StartVerification':
      return state.status === 'verifying' && !state.verificationStartedAt
        ? [{ type: 'remediation.verification_started', data: { remediationId, incidentId, verify: state.plan.verify } }]
        : [];
    case 'RecordVerification': {
      if (state.status !== 'verifying' || !state.verificationStartedAt) return [];
      if (command.ok) return [{ type: 'remediation.validated', data: { remediationId, incidentId, detail: command.detail } }];
      return afterFailure(state, `verification failed: ${command.detail}`, true);
    }
  }
};

/** Compensations for the fix pull requests that were opened (newest first), then the playbook's rollback. */
const rollbackPlan = (s: ActiveRemediation): PlanStep[] => {
  const undos = s.steps
    .filter((r) => r.phase === 'steps' && r.outcome === 'succeeded' && r.action === 'github.fix_pr' && !r.dryRun)
    .reverse()
    .map((r): PlanStep => ({ name: `undo the change of '${r.name}' (close its pull request, or revert it once merged)`, action: githubUndo, params: { step: String(r.step) }, timeoutSeconds: 30, retries: 2 }));
  return [...undos, ...s.plan.rollback];
};

const withRecord = (s: ActiveRemediation, phase: Phase, step: number, change: Partial<StepRecord>): StepRecord[] => {
  const existing = s.steps.find((r) => r.phase === phase && r.step === step);
  if (existing) return s.steps.map((r) => (r === existing ? { ...r, ...change } : r));
  const planned = stepsOf(s, phase)[step];
  return [...s.steps, { phase, step, name: planned?.name ?? `step ${step}`, action: planned?.action ?? '', attempts: 0, ...change }];
};

export const evolve = (state: Remediation, event: EventFact): Remediation => {
  if (event.type === 'remediation.started') {
    return { status: 'running', plan: event.data, startedAt: event.occurredAt, phase: 'steps', nextStep: 0, steps: [], rollbackSteps: [] };
  }
  if (event.type === 'remediation.refused') return { status: 'refused', refused: event.data, refusedAt: event.occurredAt };
  if (state.status === 'none' || state.status === 'refused') return state;
  switch (event.type) {
    case 'remediation.awaiting_approval':
      return { ...state, status: 'awaiting_approval', awaitingSince: event.occurredAt };
    case 'remediation.approved':
      return { ...state, status: 'running', approvedBy: event.data.by };
    case 'remediation.rejected': {
      const { by, reason } = event.data;
      return { ...state, status: 'rejected', rejected: { by, reason } };
    }
    case 'remediation.step_started': {
      const d = event.data;
      return { ...state, inFlight: { phase: d.phase, step: d.step, attempt: d.attempt }, steps: withRecord(state, d.phase, d.step, { attempts: d.attempt, startedAt: event.occurredAt }) };
    }
    case 'remediation.step_succeeded': {
      const d = event.data;
      const steps = withRecord(state, d.phase, d.step, { outcome: 'succeeded', finishedAt: event.occurredAt, detail: d.detail, dryRun: d.dryRun });
      const nextStep = d.step + 1;
      const next = { ...state, steps, inFlight: undefined, nextStep, lastActionAt: event.occurredAt };
      if (d.phase === 'steps' && nextStep >= state.plan.steps.length) return { ...next, status: state.plan.dryRun ? 'dry_run' : 'verifying' };
      return next;
    }
    case 'remediation.step_failed': {
      const d = event.data;
      const steps = withRecord(state, d.phase, d.step, { outcome: 'failed', finishedAt: event.occurredAt, error: d.error });
      return { ...state, steps, inFlight: undefined, ...(d.phase === 'rollback' ? { status: 'failed' as const } : {}) };
    }
    case 'remediation.verification_started':
      return { ...state, verificationStartedAt: event.occurredAt };
    case 'remediation.validated':
      return { ...state, status: 'validated', outcome: event.data.detail };
    case 'remediation.failed': {
      const failure = event.data.reason;
      const rollbackSteps = rollbackPlan(state);
      if (rollbackSteps.length === 0) return { ...state, status: 'failed', failure };
      return { ...state, status: 'rolling_back', failure, rollbackSteps, phase: 'rollback', nextStep: 0 };
    }
    case 'remediation.rolled_back':
      return { ...state, status: 'rolled_back' };
    case 'remediation.escalated':
      return { ...state, status: 'escalated', escalation: event.data.reason };
    default:
      return state;
  }
};

export const remediationStreamId = (incidentId: string) => `remediation-${incidentId}`;

/** The key an action call carries: the same for every attempt and every resume of one step. */
export const idempotencyKey = (remediationId: string, phase: Phase, step: number) => `${remediationId}:${phase}:${step}`;

export const remediationDecider = { decide, evolve, initialState };
