// The FixPullRequest aggregate as a decider: a change (or a revert) the healer proposes on GitHub,
// followed from opening through checks, merge and deployment to validation or its own revert.
import type { EventDataOf, NewEvent } from '@hephaestus/schemas';

type Opened = EventDataOf<'fix.pr_opened'>;

export type FixStatus = 'open' | 'checks_passed' | 'checks_failed' | 'merged' | 'closed' | 'deployed' | 'validated' | 'validation_failed';

export type FixPullRequest =
  | { status: 'none' }
  | {
      status: FixStatus;
      pr: Opened;
      mergeSha?: string;
      deployedVersion?: string;
      /** The pull request that undoes this one, once opened. */
      revert?: { number: number; url: string; autoMerge: boolean; mergeSha?: string };
    };

export type FixPullRequestCommand =
  | ({ type: 'RecordPullRequestOpened' } & Opened)
  | { type: 'RecordChecksPassed'; headSha: string; detail: string }
  | { type: 'RecordChecksFailed'; headSha: string; reason: string }
  | { type: 'RecordClosed'; reason: string }
  | { type: 'RecordMerged'; mergeSha: string; by: string }
  | { type: 'RecordDeployed'; service: string; serviceVersion: string }
  | { type: 'RecordValidation'; ok: boolean; detail: string }
  | { type: 'RecordRevertOpened'; number: number; url: string; autoMerge: boolean }
  | { type: 'RecordReverted'; number: number; mergeSha: string };

export class FixPullRequestError extends Error {
  readonly code = 'ILLEGAL_FIX_TRANSITION';
}

export const initialState = (): FixPullRequest => ({ status: 'none' });

const refuse = (command: FixPullRequestCommand, state: FixPullRequest): never => {
  throw new FixPullRequestError(`cannot ${command.type} on a fix pull request that is ${state.status}`);
};

/**
 * Commands repeated after a crash decide nothing (a resumed follower re-reports what it sees);
 * commands that skip a stage of the pull request's life are refused.
 */
export const decide = (command: FixPullRequestCommand, state: FixPullRequest): NewEvent[] => {
  if (command.type === 'RecordPullRequestOpened') {
    if (state.status !== 'none') return [];
    const { type: _type, ...data } = command;
    return [{ type: 'fix.pr_opened', data }];
  }
  if (state.status === 'none') return refuse(command, state);
  const { fixId, number } = state.pr;
  switch (command.type) {
    case 'RecordChecksPassed':
      if (state.status !== 'open') return [];
      return [{ type: 'fix.checks_passed', data: { fixId, number, headSha: command.headSha, detail: command.detail } }];
    case 'RecordChecksFailed':
      if (state.status === 'checks_failed' || state.status === 'closed') return [];
      if (state.status !== 'open' && state.status !== 'checks_passed') return refuse(command, state);
      return [{ type: 'fix.checks_failed', data: { fixId, number, headSha: command.headSha, reason: command.reason } }];
    case 'RecordClosed':
      if (state.status === 'closed') return [];
      if (state.status !== 'open' && state.status !== 'checks_passed' && state.status !== 'checks_failed') return refuse(command, state);
      return [{ type: 'fix.closed', data: { fixId, number, reason: command.reason } }];
    case 'RecordMerged':
      if (state.mergeSha !== undefined) return [];
      // A human may merge before the checks report; a closed or failed pull request cannot merge.
      if (state.status !== 'open' && state.status !== 'checks_passed') return refuse(command, state);
      return [{ type: 'fix.merged', data: { fixId, number, mergeSha: command.mergeSha, by: command.by } }];
    case 'RecordDeployed':
      if (state.deployedVersion !== undefined) return [];
      if (state.status !== 'merged') return refuse(command, state);
      return [{ type: 'fix.deployed', data: { fixId, service: command.service, serviceVersion: command.serviceVersion } }];
    case 'RecordValidation':
      if (state.status === 'validated' || state.status === 'validation_failed') return [];
      if (state.status !== 'deployed') return refuse(command, state);
      return command.ok ? [{ type: 'fix.validated', data: { fixId, detail: command.detail } }] : [{ type: 'fix.validation_failed', data: { fixId, reason: command.detail } }];
    case 'RecordRevertOpened':
      if (state.revert) return [];
      if (state.mergeSha === undefined) return refuse(command, state);
      return [{ type: 'fix.revert_opened', data: { fixId, number: command.number, url: command.url, revertsNumber: number, autoMerge: command.autoMerge } }];
    case 'RecordReverted':
      if (!state.revert) return refuse(command, state);
      if (state.revert.mergeSha !== undefined) return [];
      return [{ type: 'fix.reverted', data: { fixId, number: command.number, mergeSha: command.mergeSha } }];
  }
};

export const evolve = (state: FixPullRequest, event: NewEvent): FixPullRequest => {
  if (event.type === 'fix.pr_opened') return { status: 'open', pr: event.data };
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'fix.checks_passed':
      return { ...state, status: 'checks_passed' };
    case 'fix.checks_failed':
      return { ...state, status: 'checks_failed' };
    case 'fix.closed':
      return { ...state, status: 'closed' };
    case 'fix.merged':
      return { ...state, status: 'merged', mergeSha: event.data.mergeSha };
    case 'fix.deployed':
      return { ...state, status: 'deployed', deployedVersion: event.data.serviceVersion };
    case 'fix.validated':
      return { ...state, status: 'validated' };
    case 'fix.validation_failed':
      return { ...state, status: 'validation_failed' };
    case 'fix.revert_opened':
      return { ...state, revert: { number: event.data.number, url: event.data.url, autoMerge: event.data.autoMerge } };
    case 'fix.reverted':
      return state.revert ? { ...state, revert: { ...state.revert, mergeSha: event.data.mergeSha } } : state;
    default:
      return state;
  }
};

export const fixStreamId = (fixId: string) => `fix-${fixId}`;

export const fixPullRequestDecider = { decide, evolve, initialState };
