// The Remediation aggregate as a decider: a playbook's steps run in order, each result recorded, then
// the outcome verified against live telemetry.
import type { EventDataOf, HephEvent, NewEvent } from '@hephaestus/schemas';

type Started = EventDataOf<'remediation.started'>;

export type Remediation =
  | { status: 'none' }
  | { status: 'running' | 'verifying' | 'validated' | 'failed'; plan: Started; nextStep: number; lastActionAt?: string };

export type RemediationCommand =
  | ({ type: 'StartRemediation' } & Started)
  | { type: 'RecordStepResult'; step: number; ok: true; detail: string }
  | { type: 'RecordStepResult'; step: number; ok: false; error: string }
  | { type: 'RecordVerification'; ok: boolean; detail: string };

export const initialState = (): Remediation => ({ status: 'none' });

export const decide = (command: RemediationCommand, state: Remediation): NewEvent[] => {
  switch (command.type) {
    case 'StartRemediation': {
      if (state.status !== 'none') return [];
      const { type: _type, ...data } = command;
      return [{ type: 'remediation.started', data }];
    }
    case 'RecordStepResult': {
      if (state.status !== 'running' || command.step !== state.nextStep) return [];
      const { remediationId, incidentId } = state.plan;
      const name = state.plan.steps[command.step]!.name;
      if (command.ok) return [{ type: 'remediation.step_succeeded', data: { remediationId, step: command.step, name, detail: command.detail, phase: 'steps', dryRun: false } }];
      return [
        { type: 'remediation.step_failed', data: { remediationId, step: command.step, name, error: command.error, phase: 'steps' } },
        { type: 'remediation.failed', data: { remediationId, incidentId, reason: `step '${name}' failed: ${command.error}` } },
      ];
    }
    case 'RecordVerification': {
      if (state.status !== 'verifying') return [];
      const { remediationId, incidentId } = state.plan;
      return command.ok
        ? [{ type: 'remediation.validated', data: { remediationId, incidentId, detail: command.detail } }]
        : [{ type: 'remediation.failed', data: { remediationId, incidentId, reason: command.detail } }];
    }
  }
};

export const evolve = (state: Remediation, event: Pick<HephEvent, 'type' | 'data' | 'occurredAt'>): Remediation => {
  if (event.type === 'remediation.started') {
    return { status: 'running', plan: event.data as Started, nextStep: 0 };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'remediation.step_succeeded': {
      const nextStep = state.nextStep + 1;
      return { ...state, nextStep, lastActionAt: event.occurredAt, status: nextStep >= state.plan.steps.length ? 'verifying' : 'running' };
    }
    case 'remediation.validated':
      return { ...state, status: 'validated' };
    case 'remediation.failed':
      return { ...state, status: 'failed' };
    default:
      return state;
  }
};

export const remediationStreamId = (incidentId: string) => `remediation-${incidentId}`;

export const remediationDecider = { decide, evolve, initialState };
