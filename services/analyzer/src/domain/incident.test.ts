import { DeciderSpecification } from '@hephaestus/platform/testing';
import { describe, it } from 'vitest';
import { incidentDecider, type IncidentCommand } from './incident.ts';

const spec = DeciderSpecification.for(incidentDecider);
const at = '2026-01-01T00:00:10.000Z';

const opened = {
  incidentId: 'inc-1',
  service: 'planner',
  signal: 'error_rate' as const,
  severity: 'critical' as const,
  summary: 'error rate 50 % (25 of 50 calls) vs usual 1.0 %',
  value: 0.5,
  baseline: 0.01,
  calls: 50,
  errors: 25,
  windowStart: '2026-01-01T00:00:00.000Z',
  controlUrl: 'http://127.0.0.1:9000/control',
};
const open: IncidentCommand = { type: 'OpenIncident', at, ...opened };
const resolve: IncidentCommand = { type: 'ResolveIncident', at, incidentId: 'inc-1', service: 'planner', signal: 'error_rate', reason: '2 quiet intervals', value: 0 };
const openedEvent = { type: 'incident.opened' as const, data: opened, occurredAt: at };
const resolvedEvent = { type: 'incident.resolved' as const, data: { incidentId: 'inc-1', service: 'planner', signal: 'error_rate' as const, reason: 'x', value: 0 }, occurredAt: at };

describe('incident decider', () => {
  it('opens an incident for a new anomaly', () => {
    spec.given([]).when(open).then([{ type: 'incident.opened', data: opened }]);
  });

  it('does not open the same incident twice', () => {
    spec.given([openedEvent]).when(open).thenNothingHappens();
  });

  it('resolves an open incident', () => {
    spec.given([openedEvent]).when(resolve).then([{ type: 'incident.resolved', data: { incidentId: 'inc-1', service: 'planner', signal: 'error_rate', reason: '2 quiet intervals', value: 0 } }]);
  });

  it('ignores a resolve for an incident that never opened', () => {
    spec.given([]).when(resolve).thenNothingHappens();
  });

  it('resolves only once', () => {
    spec.given([openedEvent, resolvedEvent]).when(resolve).thenNothingHappens();
  });
});
