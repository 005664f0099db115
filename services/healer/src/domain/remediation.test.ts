import { DeciderSpecification } from '@hephaestus/platform/testing';
import { describe, it } from 'vitest';
import type { EventDataOf } from '@hephaestus/schemas';
import { remediationDecider } from './remediation.ts';

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
};
const started = { type: 'remediation.started' as const, data: plan, occurredAt: at };
const step0 = { type: 'remediation.step_succeeded' as const, data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', detail: 'ok', phase: 'steps' as const, dryRun: false }, occurredAt: at };
const step1 = { type: 'remediation.step_succeeded' as const, data: { remediationId: 'rem-1', step: 1, name: 'notify', detail: 'ok', phase: 'steps' as const, dryRun: false }, occurredAt: at };

describe('remediation decider', () => {
  it('starts a remediation once per incident', () => {
    spec.given([]).when({ type: 'StartRemediation', ...plan }).then([{ type: 'remediation.started', data: plan }]);
    spec.given([started]).when({ type: 'StartRemediation', ...plan }).thenNothingHappens();
  });

  it('records the next step and refuses to record a step that already finished', () => {
    spec.given([started]).when({ type: 'RecordStepResult', step: 0, ok: true, detail: 'POST answered 202' })
      .then([{ type: 'remediation.step_succeeded', data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', detail: 'POST answered 202', phase: 'steps', dryRun: false } }]);
    spec.given([started, step0]).when({ type: 'RecordStepResult', step: 0, ok: true, detail: 'again' }).thenNothingHappens();
  });

  it('fails the remediation when a step fails', () => {
    spec.given([started]).when({ type: 'RecordStepResult', step: 0, ok: false, error: 'connection refused' }).then([
      { type: 'remediation.step_failed', data: { remediationId: 'rem-1', step: 0, name: 'restart the agent', error: 'connection refused', phase: 'steps' } },
      { type: 'remediation.failed', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: "step 'restart the agent' failed: connection refused" } },
    ]);
  });

  it('verifies only after every step succeeded', () => {
    spec.given([started, step0]).when({ type: 'RecordVerification', ok: true, detail: 'fine' }).thenNothingHappens();
    spec.given([started, step0, step1]).when({ type: 'RecordVerification', ok: true, detail: 'fine' })
      .then([{ type: 'remediation.validated', data: { remediationId: 'rem-1', incidentId: 'inc-1', detail: 'fine' } }]);
    spec.given([started, step0, step1]).when({ type: 'RecordVerification', ok: false, detail: 'still failing' })
      .then([{ type: 'remediation.failed', data: { remediationId: 'rem-1', incidentId: 'inc-1', reason: 'still failing' } }]);
  });
});
