// The Remediation aggregate: its decider, and the store that appends its events and keeps the
// `remediations` projection in the same transaction.
export {
  githubUndo,
  idempotencyKey,
  remediationDecider,
  remediationStreamId,
  unfinishedStatuses,
  type ActiveRemediation,
  type Phase,
  type Remediation,
  type RemediationCommand,
  type RemediationStatus,
  type StepRecord,
} from './remediation.ts';
export {
  decideRemediation,
  getRemediation,
  handleRemediationCommand,
  listRemediations,
  loadRemediation,
  projectRemediationEvent,
  recentRemediations,
  remediationsWithStatus,
  type RemediationFilter,
  type RemediationRecord,
} from './remediation-store.ts';
