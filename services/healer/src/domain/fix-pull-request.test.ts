import { DeciderSpecification } from '@hephaestus/platform/testing';
import type { EventDataOf, NewEvent } from '@hephaestus/schemas';
import { describe, it } from 'vitest';
import { fixPullRequestDecider } from './fix-pull-request.ts';

const spec = DeciderSpecification.for(fixPullRequestDecider);
const pr: EventDataOf<'fix.pr_opened'> = {
  fixId: 'f1',
  remediationId: 'rem-1',
  incidentId: 'inc-1',
  kind: 'fix',
  repository: 'acme/shop',
  number: 7,
  url: 'http://127.0.0.1:1/acme/shop/pull/7',
  branch: 'heph/fix-f1',
  headSha: 'a'.repeat(40),
  title: 'Raise the planner timeout',
};
const opened: NewEvent = { type: 'fix.pr_opened', data: pr };
const passed: NewEvent = { type: 'fix.checks_passed', data: { fixId: 'f1', number: 7, headSha: pr.headSha, detail: 'test: success' } };
const merged: NewEvent = { type: 'fix.merged', data: { fixId: 'f1', number: 7, mergeSha: 'b'.repeat(40), by: 'octo-reviewer' } };
const deployed: NewEvent = { type: 'fix.deployed', data: { fixId: 'f1', service: 'planner', serviceVersion: '1.4.1' } };
const revertOpened: NewEvent = { type: 'fix.revert_opened', data: { fixId: 'f1', number: 8, url: 'http://127.0.0.1:1/acme/shop/pull/8', revertsNumber: 7, autoMerge: true } };

describe('fix pull request decider', () => {
  it('records the opened pull request once, so a resumed healer never records a second one', () => {
    spec.given([]).when({ type: 'RecordPullRequestOpened', ...pr }).then([opened]);
    spec.given([opened]).when({ type: 'RecordPullRequestOpened', ...pr }).thenNothingHappens();
  });

  it('records passing checks once, from the open state only', () => {
    spec.given([opened]).when({ type: 'RecordChecksPassed', headSha: pr.headSha, detail: 'test: success' }).then([passed]);
    spec.given([opened, passed]).when({ type: 'RecordChecksPassed', headSha: pr.headSha, detail: 'again' }).thenNothingHappens();
  });

  it('records failed checks and then the closing of the pull request', () => {
    const failed: NewEvent = { type: 'fix.checks_failed', data: { fixId: 'f1', number: 7, headSha: pr.headSha, reason: 'test: 3 failing' } };
    spec.given([opened]).when({ type: 'RecordChecksFailed', headSha: pr.headSha, reason: 'test: 3 failing' }).then([failed]);
    spec.given([opened, failed]).when({ type: 'RecordClosed', reason: 'checks failed' }).then([{ type: 'fix.closed', data: { fixId: 'f1', number: 7, reason: 'checks failed' } }]);
  });

  it('accepts a merge by a human before the checks reported, and refuses one after the pull request closed', () => {
    spec.given([opened]).when({ type: 'RecordMerged', mergeSha: 'b'.repeat(40), by: 'octo-reviewer' }).then([merged]);
    spec.given([opened, { type: 'fix.closed', data: { fixId: 'f1', number: 7, reason: 'checks failed' } }])
      .when({ type: 'RecordMerged', mergeSha: 'b'.repeat(40), by: 'octo-reviewer' })
      .thenThrows(/cannot RecordMerged on a fix pull request that is closed/);
  });

  it('records the deployment only after the merge', () => {
    spec.given([opened, passed]).when({ type: 'RecordDeployed', service: 'planner', serviceVersion: '1.4.1' }).thenThrows(/checks_passed/);
    spec.given([opened, passed, merged]).when({ type: 'RecordDeployed', service: 'planner', serviceVersion: '1.4.1' }).then([deployed]);
    spec.given([opened, passed, merged, deployed]).when({ type: 'RecordDeployed', service: 'planner', serviceVersion: '1.4.2' }).thenNothingHappens();
  });

  it('validates or fails validation of a deployed fix, once', () => {
    spec.given([opened, passed, merged, deployed]).when({ type: 'RecordValidation', ok: false, detail: 'error rate 0.4 over 0.05' })
      .then([{ type: 'fix.validation_failed', data: { fixId: 'f1', reason: 'error rate 0.4 over 0.05' } }]);
    spec.given([opened, passed, merged, deployed, { type: 'fix.validated', data: { fixId: 'f1', detail: 'ok' } }])
      .when({ type: 'RecordValidation', ok: false, detail: 'late' }).thenNothingHappens();
  });

  it('opens one revert for a merged fix and records its merge once', () => {
    spec.given([opened]).when({ type: 'RecordRevertOpened', number: 8, url: revertOpened.data.url as string, autoMerge: true }).thenThrows(/open/);
    spec.given([opened, passed, merged, deployed]).when({ type: 'RecordRevertOpened', number: 8, url: 'http://127.0.0.1:1/acme/shop/pull/8', autoMerge: true }).then([revertOpened]);
    spec.given([opened, passed, merged, revertOpened]).when({ type: 'RecordRevertOpened', number: 9, url: 'x', autoMerge: false }).thenNothingHappens();
    const reverted: NewEvent = { type: 'fix.reverted', data: { fixId: 'f1', number: 8, mergeSha: 'c'.repeat(40) } };
    spec.given([opened, passed, merged, revertOpened]).when({ type: 'RecordReverted', number: 8, mergeSha: 'c'.repeat(40) }).then([reverted]);
    spec.given([opened, passed, merged, revertOpened, reverted]).when({ type: 'RecordReverted', number: 8, mergeSha: 'c'.repeat(40) }).thenNothingHappens();
  });
});
