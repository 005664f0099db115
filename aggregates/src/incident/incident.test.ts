import { DeciderSpecification } from '@hephaestus/platform/testing';
import type { EventDataOf } from '@hephaestus/schemas';
import { describe, it } from 'vitest';
import { incidentDecider, type IncidentCommand } from './incident.ts';

const spec = DeciderSpecification.for(incidentDecider);
const at = '2026-01-01T00:00:10.000Z';
const later = (seconds: number) => new Date(Date.parse(at) + seconds * 1000).toISOString();

const opened: EventDataOf<'incident.opened'> = {
  incidentId: 'inc-1',
  service: 'planner',
  signal: 'error_rate',
  severity: 'critical',
  summary: 'error rate 50 % (25 of 50 calls) vs usual 1.0 %',
  value: 0.5,
  baseline: 0.01,
  calls: 50,
  errors: 25,
  windowStart: '2026-01-01T00:00:00.000Z',
  controlUrl: 'http://127.0.0.1:9000/control',
};
const open: IncidentCommand = { type: 'OpenIncident', at, ...opened };
const resolveData = { incidentId: 'inc-1', service: 'planner', signal: 'error_rate', reason: '2 quiet intervals', value: 0 };
const resolve: IncidentCommand = { type: 'ResolveIncident', at, ...resolveData };
const openedEvent = { type: 'incident.opened' as const, data: opened, occurredAt: at };
const resolvedEvent = { type: 'incident.resolved' as const, data: resolveData, occurredAt: at };
const attached = { incidentId: 'inc-1', service: 'researcher', signal: 'error_rate', summary: 'error rate 30 %', value: 0.3, onsetAt: at };

describe('incident decider', () => {
  it('opens an incident for a new anomaly, once', () => {
    spec.given([]).when(open).then([{ type: 'incident.opened', data: opened }]);
    spec.given([openedEvent]).when(open).thenNothingHappens();
  });

  it('attaches a related signal once, and not the one it opened with', () => {
    spec.given([openedEvent]).when({ type: 'AttachSignal', at, ...attached }).then([{ type: 'incident.signal_attached', data: attached }]);
    spec.given([openedEvent, { type: 'incident.signal_attached', data: attached, occurredAt: at }]).when({ type: 'AttachSignal', at, ...attached }).thenNothingHappens();
    spec.given([openedEvent]).when({ type: 'AttachSignal', at, ...attached, service: 'planner' }).thenNothingHappens();
  });

  it('is acknowledged once', () => {
    spec.given([openedEvent]).when({ type: 'AcknowledgeIncident', at, incidentId: 'inc-1', by: 'alice' }).then([{ type: 'incident.acknowledged', data: { incidentId: 'inc-1', by: 'alice' } }]);
    spec.given([openedEvent, { type: 'incident.acknowledged', data: { incidentId: 'inc-1', by: 'alice' }, occurredAt: at }]).when({ type: 'AcknowledgeIncident', at, incidentId: 'inc-1', by: 'bob' }).thenNothingHappens();
  });

  it('is mitigated when a remediation validates, also after it resolved, and only once', () => {
    const mitigate: IncidentCommand = { type: 'MitigateIncident', at, incidentId: 'inc-1', remediationId: 'rem-1', detail: 'error rate 0 %' };
    const mitigated = { type: 'incident.mitigated' as const, data: { incidentId: 'inc-1', remediationId: 'rem-1', detail: 'error rate 0 %' } };
    spec.given([openedEvent]).when(mitigate).then([mitigated]);
    spec.given([openedEvent, resolvedEvent]).when(mitigate).then([mitigated]);
    spec.given([openedEvent, { ...mitigated, occurredAt: at }]).when(mitigate).thenNothingHappens();
  });

  it('takes a remediation\'s outcome once: replayed after a reopen, it neither mitigates nor reopens again', () => {
    const mitigated = { type: 'incident.mitigated' as const, data: { incidentId: 'inc-1', remediationId: 'rem-1', detail: 'error rate 0 %' }, occurredAt: at };
    const recurred = { type: 'incident.reopened' as const, data: { incidentId: 'inc-1', reason: 'error rate high again' }, occurredAt: later(60) };
    spec.given([openedEvent, mitigated, resolvedEvent, recurred]).when({ type: 'MitigateIncident', at: later(70), incidentId: 'inc-1', remediationId: 'rem-1', detail: 'error rate 0 %' }).thenNothingHappens();
    const failedVerification = (seconds: number): IncidentCommand => ({ type: 'ReopenIncident', at: later(seconds), incidentId: 'inc-1', reason: 'remediation rem-1 failed verification', withinMs: 86_400_000, remediationId: 'rem-1' });
    const reopened = { type: 'incident.reopened' as const, data: { incidentId: 'inc-1', reason: 'remediation rem-1 failed verification', remediationId: 'rem-1' } };
    spec.given([openedEvent, resolvedEvent]).when(failedVerification(30)).then([reopened]);
    spec.given([openedEvent, resolvedEvent, { ...reopened, occurredAt: later(30) }, { ...resolvedEvent, occurredAt: later(90) }]).when(failedVerification(100)).thenNothingHappens();
  });

  it('resolves an open incident once, and ignores one that never opened', () => {
    spec.given([openedEvent]).when(resolve).then([{ type: 'incident.resolved', data: resolveData }]);
    spec.given([openedEvent, resolvedEvent]).when(resolve).thenNothingHappens();
    spec.given([]).when(resolve).thenNothingHappens();
  });

  it('reopens when the fault recurs soon after, not when it is long over', () => {
    const reopen = (seconds: number): IncidentCommand => ({ type: 'ReopenIncident', at: later(seconds), incidentId: 'inc-1', reason: 'error rate high again', withinMs: 600_000 });
    spec.given([openedEvent, resolvedEvent]).when(reopen(120)).then([{ type: 'incident.reopened', data: { incidentId: 'inc-1', reason: 'error rate high again' } }]);
    spec.given([openedEvent, resolvedEvent]).when(reopen(3600)).thenNothingHappens();
    spec.given([openedEvent]).when(reopen(10)).thenNothingHappens();
  });

  it('records a severity change, not a repeat of the current one', () => {
    spec.given([openedEvent]).when({ type: 'ChangeSeverity', at, incidentId: 'inc-1', to: 'warning', reason: 'rate falling' })
      .then([{ type: 'incident.severity_changed', data: { incidentId: 'inc-1', from: 'critical', to: 'warning', reason: 'rate falling' } }]);
    spec.given([openedEvent]).when({ type: 'ChangeSeverity', at, incidentId: 'inc-1', to: 'critical', reason: 'same' }).thenNothingHappens();
  });

  it('records root-cause candidates when they change', () => {
    const candidates = [{ service: 'db', confidence: 0.8, evidence: ['earliest onset'] }];
    spec.given([openedEvent]).when({ type: 'RankRootCauses', at, incidentId: 'inc-1', candidates }).then([{ type: 'incident.root_cause_ranked', data: { incidentId: 'inc-1', candidates } }]);
    spec.given([openedEvent, { type: 'incident.root_cause_ranked', data: { incidentId: 'inc-1', candidates }, occurredAt: at }]).when({ type: 'RankRootCauses', at, incidentId: 'inc-1', candidates }).thenNothingHappens();
  });
});
