import { DeciderSpecification } from '@hephaestus/platform/testing';
import { describe, expect, it } from 'vitest';
import type { EventDataOf, NewEvent } from '@hephaestus/schemas';
import { evolve, idempotencyKey, initialState, remediationDecider, type ActiveRemediation } from './remediation.ts';

const spec = DeciderSpecification.for(remediationDecider);
const at = '2026-01-01T00:00:00.000Z';
const plan: EventDataOf<'remediation.started'> = {
  remediationId: 'rem-1',
  incidentId: 'inc-1',
  playbookId: 'restart-on-error-burst',
  service: 'planner',
  signal: 'error_rate',
  controlUrl: 'http://127.0.0.1:9000/control',
  steps: [
    { name: 'restart the agent', action: 'agent.restart', params: {}, timeoutSeconds: 10, retries: 2 },
    { name: 'notify', action: 'http', params: { url: 'http://127.0.0.1:9001/hook' }, timeoutSeconds: 5, retries: 0 },
  ],
  rollback: [],
  verify: { signal: 'error_rate', windowSeconds: 20, max: 0.05 },
  approvalRequired: false,
  dryRun: false,
  onFailure: 'escalate',
};
const withRollback = { ...plan, rollback: [{ name: 'previous model', action: 'agent.set_config', params: { model: 'small' }, timeoutSeconds: 5, retries: 0 }] };
const e = (event: NewEvent) => ({ ...event, occurredAt: at });
const started = e({ type: 'remediation.started', data: plan });
const begun = (step: number, attempt = 1, phase: 'steps' | 'rollback' = 'steps') =>
  e({ type: 'remediation.step_started', data: { remediationId: 'rem-1', step, name: (phase === 'steps' ? plan.steps : withRollback.rollback)[step]!.name, phase, attempt } });
const done = (step: number, phase: 'steps' | 'rollback' = 'steps') =>
  e({ type: 'remediation.step_succeeded', data: { remediationId: 'rem-1', step, name: (phase === 'steps' ? plan.steps : withRollback.rollback)[step]!.name, detail: 'ok', phase, dryRun: false } });
const verifying = e({ type: 'remediation.verification_started', data: { remediationId: 'rem-1', incidentId: 'inc-1', verify: plan.verify } });
const fold = (events: ReturnType<typeof e>[]) => events.reduce(evolve, initialState()) as ActiveRemediation;

describe('remediation decider', () => {
  it('starts a remediation once per incident', () => {
    spec.given([]).when({ type: 'StartRemediation', ...plan }).then([{ type: 'remediation.started', data: plan }]);
    spec.given([started]).when({ type: 'StartRemediation', ...plan }).thenNothingHappens();
  });

  it('records a refusal once, and starts nothing after it', () => {
    const refusal = { remediationId: 'rem-1', incidentId: 'inc-1', playbookId: 'p', service: 'planner', reason: 'cooldown: 120 s left' };
    spec.given([]).when({ type: 'RefuseRemediation', ...refusal }).then([{ type: 'remediation.refused', data: refusal }]);
    spec.given([e({ type: 'remediation.refused', data: refusal })]).when({ type: 'StartRemediation', ...plan }).thenNothingHappens();
  });

  it('waits for approval when the playbook requires it, and acts only once approved', () => {
    const guarded = { ...plan, approvalRequired: true, approvalTimeoutSeconds: 60 };
    spec.given([]).when({ type: 'StartRemediation', ...guarded }).then([
      { type: 'remediation.started', data: guarded },
      { type: 'remediation.awaiting_approval', data: { remediationId: 'rem-1', incidentId: 'inc-1', timeoutSeconds: 60 } },
    ]);
    const waiting = [e({ type: 'remediation.started', data: guarded }), e({ type: 'remediation.awaiting_approval', data: { remediationId: 'rem-1', incidentId: 'inc-1', timeoutSeconds: 60 } })];
    spec.given(waiting).when({ type: 'StartStep', phase: 'steps', step: 0 }).thenNothingHappens();
    spec.given(waiting).when({ type: 'ApproveRemediation', by: 'ana' }).then([{ type: 'remediation.approved', data: { remediationId: 'rem-1', by: 'ana' } }]);
    spec.given([...waiting, e({ type: 'remediation.approved', data: { remediationId: 'rem-1', by: 'ana' } })]).when({ type: 'StartStep', phase: 'steps', step: 0 })
      .then([{ type: 'remediation.step_started', data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', phase: 'steps', attempt: 1 } }]);
    spec.given(waiting).when({ type: 'RejectRemediation', by: 'ana', reason: 'not now' }).then([{ type: 'remediation.rejected', data: { remediationId: 'rem-1', incidentId: 'inc-1', by: 'ana', reason: 'not now' } }]);
    spec.given([started]).when({ type: 'ApproveRemediation', by: 'ana' }).thenNothingHappens();
  });

  it('escalates or rejects on an approval timeout, as the playbook says', () => {
    const waiting = (onTimeout: 'escalate' | 'reject') => [
      e({ type: 'remediation.started', data: { ...plan, approvalRequired: true, approvalTimeoutSeconds: 60, approvalOnTimeout: onTimeout } }),
      e({ type: 'remediation.awaiting_approval', data: { remediationId: 'rem-1', incidentId: 'inc-1', timeoutSeconds: 60 } }),
    ];
    spec.given(waiting('escalate')).when({ type: 'TimeOutApproval' })
      .then([{ type: 'remediation.escalated', data: { remediationId: 'rem-1', incidentId: 'inc-1', service: 'planner', reason: 'nobody approved within 60 s' } }]);
    spec.given(waiting('reject')).when({ type: 'TimeOutApproval' })
      .then([{ type: 'remediation.rejected', data: { remediationId: 'rem-1', incidentId: 'inc-1', by: 'healer', reason: 'nobody approved within 60 s' } }]);
  });

  it('records a step as started before its result, and only the next step', () => {
    spec.given([started]).when({ type: 'StartStep', phase: 'steps', step: 1 }).thenNothingHappens();
    spec.given([started]).when({ type: 'RecordStepResult', phase: 'steps', step: 0, ok: true, detail: 'too early' }).thenNothingHappens();
    spec.given([started, begun(0)]).when({ type: 'RecordStepResult', phase: 'steps', step: 0, ok: true, detail: 'POST answered 202' })
      .then([{ type: 'remediation.step_succeeded', data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', detail: 'POST answered 202', phase: 'steps', dryRun: false } }]);
  });

  it('runs an interrupted step again as a new attempt, and never a step that finished', () => {
    spec.given([started, begun(0)]).when({ type: 'StartStep', phase: 'steps', step: 0 })
      .then([{ type: 'remediation.step_started', data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', phase: 'steps', attempt: 2 } }]);
    spec.given([started, begun(0), done(0)]).when({ type: 'StartStep', phase: 'steps', step: 0 }).thenNothingHappens();
    spec.given([started, begun(0), done(0)]).when({ type: 'RecordStepResult', phase: 'steps', step: 0, ok: true, detail: 'again' }).thenNothingHappens();
    expect(idempotencyKey('rem-1', 'steps', 0)).toBe('rem-1:steps:0');
  });

  it('fails and escalates when a step fails and there is nothing to roll back', () => {
    spec.given([started, begun(0)]).when({ type: 'RecordStepResult', phase: 'steps', step: 0, ok: false, error: 'connection refused' }).then([
      { type: 'remediation.step_failed', data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', error: 'connection refused', phase: 'steps' } },
      { type: 'remediation.failed', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: "step 'restart the agent' failed: connection refused" } },
      { type: 'remediation.escalated', data: { remediationId: 'rem-1', incidentId: 'inc-1', service: 'planner', reason: "step 'restart the agent' failed: connection refused" } },
    ]);
  });

  it('verifies only after every step succeeded and the verification started', () => {
    spec.given([started, begun(0), done(0)]).when({ type: 'StartVerification' }).thenNothingHappens();
    spec.given([started, begun(0), done(0), begun(1), done(1)]).when({ type: 'StartVerification' })
      .then([{ type: 'remediation.verification_started', data: { remediationId: 'rem-1', incidentId: 'inc-1', verify: plan.verify } }]);
    spec.given([started, begun(0), done(0), begun(1), done(1)]).when({ type: 'RecordVerification', ok: true, detail: 'fine' }).thenNothingHappens();
    spec.given([started, begun(0), done(0), begun(1), done(1), verifying]).when({ type: 'RecordVerification', ok: true, detail: 'fine' })
      .then([{ type: 'remediation.validated', data: { remediationId: 'rem-1', incidentId: 'inc-1', detail: 'fine' } }]);
  });

  it('rolls back after a failed verification, then escalates', () => {
    const rb = e({ type: 'remediation.started', data: withRollback });
    const history = [rb, begun(0), done(0), begun(1), done(1), verifying];
    spec.given(history).when({ type: 'RecordVerification', ok: false, detail: 'error rate 40 %' })
      .then([{ type: 'remediation.failed', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: 'verification failed: error rate 40 %', verificationFailed: true } }]);
    const failed = e({ type: 'remediation.failed', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: 'verification failed: error rate 40 %', verificationFailed: true } });
    spec.given([...history, failed]).when({ type: 'StartStep', phase: 'rollback', step: 0 })
      .then([{ type: 'remediation.step_started', data: { remediationId: 'rem-1', step: 0, name: 'previous model', phase: 'rollback', attempt: 1 } }]);
    spec.given([...history, failed, begun(0, 1, 'rollback')]).when({ type: 'RecordStepResult', phase: 'rollback', step: 0, ok: true, detail: 'ok' }).then([
      { type: 'remediation.step_succeeded', data: { remediationId: 'rem-1', step: 0, name: 'previous model', detail: 'ok', phase: 'rollback', dryRun: false } },
      { type: 'remediation.rolled_back', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: 'verification failed: error rate 40 %' } },
      { type: 'remediation.escalated', data: { remediationId: 'rem-1', incidentId: 'inc-1', service: 'planner', reason: 'verification failed: error rate 40 %; rolled back' } },
    ]);
    expect(fold([...history, failed]).status).toBe('rolling_back');
  });

  it('closes the fix pull requests it opened before the playbook rollback', () => {
    const fix = { ...plan, steps: [{ name: 'fix the timeout', action: 'github.fix_pr', params: { path: 'a.ts' }, timeoutSeconds: 30, retries: 0 }], rollback: withRollback.rollback };
    const state = fold([
      e({ type: 'remediation.started', data: fix }),
      e({ type: 'remediation.step_started', data: { remediationId: 'rem-1', step: 0, name: 'fix the timeout', phase: 'steps', attempt: 1 } }),
      e({ type: 'remediation.step_succeeded', data: { remediationId: 'rem-1', step: 0, name: 'fix the timeout', detail: 'opened #7', phase: 'steps', dryRun: false } }),
      verifying,
      e({ type: 'remediation.failed', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: 'verification failed' } }),
    ]);
    expect(state.rollbackSteps.map((s) => s.action)).toEqual(['github.undo', 'agent.set_config']);
  });

  it('ends a dry run after its steps without verifying', () => {
    const dry = e({ type: 'remediation.started', data: { ...plan, dryRun: true } });
    const dryDone = (step: number) => e({ type: 'remediation.step_succeeded', data: { remediationId: 'rem-1', step, name: plan.steps[step]!.name, detail: 'dry run: would POST', phase: 'steps', dryRun: true } });
    const state = fold([dry, begun(0), dryDone(0), begun(1), dryDone(1)]);
    expect(state.status).toBe('dry_run');
    spec.given([dry, begun(0), dryDone(0), begun(1), dryDone(1)]).when({ type: 'StartVerification' }).thenNothingHappens();
  });
});
