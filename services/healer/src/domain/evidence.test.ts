import type { NewEvent } from '@hephaestus/schemas';
import { describe, expect, it } from 'vitest';
import { directionOf, foldEvidence } from './evidence.ts';

const at = '2026-01-01T12:00:00.000Z';
const opened = (data: Partial<Extract<NewEvent, { type: 'incident.opened' }>['data']> = {}): NewEvent => ({
  type: 'incident.opened',
  data: { incidentId: 'i', service: 'planner', signal: 'error_rate', severity: 'critical', summary: 's', value: 0.4, baseline: 0.01, windowStart: at, ...data },
});
const attached = (data: Partial<Extract<NewEvent, { type: 'incident.signal_attached' }>['data']>): NewEvent => ({
  type: 'incident.signal_attached',
  data: { incidentId: 'i', service: 'coder', signal: 'error_rate', summary: 's', value: 0.3, onsetAt: at, ...data },
});

describe('the side of its baseline a signal is on', () => {
  it.each([
    ['a recorded direction wins', { signal: 'calls', value: 10, baseline: 100, direction: 'above' as const }, 'above'],
    ['derived: above its baseline', { signal: 'gen_ai.client.operation.duration', value: 900, baseline: 300 }, 'above'],
    ['derived: below its baseline', { signal: 'gen_ai.client.operation.duration', value: 100, baseline: 300 }, 'below'],
    ['no baseline: no side', { signal: 'gen_ai.cost_usd', value: 3 }, undefined],
    ['on its baseline: no side', { signal: 'gen_ai.cost_usd', value: 3, baseline: 3 }, undefined],
    ['an error rate is above, whatever the old event says', { signal: 'error_rate', value: 0.4 }, 'above'],
    ['an error signature is above', { signal: 'error_signature.new', value: 12 }, 'above'],
    ['a failure prediction is above, though the gauge is under its limit', { signal: 'failure.predicted', value: 900, baseline: 1024 }, 'above'],
  ])('%s', (_, signal, expected) => {
    expect(directionOf(signal)).toBe(expected);
  });
});

describe('the evidence folded from the incident stream', () => {
  it('is nothing before the incident opened', () => {
    expect(foldEvidence([])).toBeUndefined();
    expect(foldEvidence([attached({})])).toBeUndefined();
  });

  it('holds every signal with its service, side, value, baseline and signature, the severity and the settled ranking', () => {
    const evidence = foldEvidence([
      opened({ labels: { team: 'agents' }, controlUrl: 'http://127.0.0.1:1/control' }),
      attached({ service: 'coder', signal: 'gen_ai.client.operation.duration', value: 100, baseline: 300 }),
      attached({ service: 'coder', signal: 'error_signature.new', value: 7, signature: 'TypeError: Cannot read properties of undefined <*>' }),
      { type: 'incident.severity_changed', data: { incidentId: 'i', from: 'critical', to: 'warning', reason: 'r' } },
      { type: 'incident.root_cause_ranked', data: { incidentId: 'i', candidates: [{ service: 'coder', confidence: 0.5, evidence: [] }] } },
      { type: 'incident.root_cause_ranked', data: { incidentId: 'i', candidates: [{ service: 'coder', confidence: 0.8, evidence: [] }], settled: true } },
    ]);
    expect(evidence).toEqual({
      incidentId: 'i',
      service: 'planner',
      signal: 'error_rate',
      severity: 'warning',
      labels: { team: 'agents' },
      controlUrl: 'http://127.0.0.1:1/control',
      windowStart: at,
      signals: [
        { service: 'planner', signal: 'error_rate', direction: 'above', value: 0.4, baseline: 0.01 },
        { service: 'coder', signal: 'gen_ai.client.operation.duration', direction: 'below', value: 100, baseline: 300, signature: undefined },
        { service: 'coder', signal: 'error_signature.new', direction: 'above', value: 7, baseline: undefined, signature: 'TypeError: Cannot read properties of undefined <*>' },
      ],
      ranking: [{ service: 'coder', confidence: 0.8, evidence: [] }],
      settled: true,
    });
  });

  it('starts again when the incident opens again on its stream', () => {
    const evidence = foldEvidence([opened(), attached({}), opened({ service: 'reviewer', value: 0.2 })]);
    expect(evidence?.signals).toEqual([{ service: 'reviewer', signal: 'error_rate', direction: 'above', value: 0.2, baseline: 0.01 }]);
  });
});
