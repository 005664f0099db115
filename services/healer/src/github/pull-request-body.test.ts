import type { StoredEvent } from '@hephaestus/schemas';
import { describe, expect, it } from 'vitest';
import { incidentStory, pullRequestBody } from './pull-request-body.ts';

const stored = (version: number, type: string, data: unknown, occurredAt: string) =>
  ({ id: `e${version}`, streamId: 'incident-inc-1', version, type, data, occurredAt, metadata: {}, position: BigInt(version) }) as StoredEvent;

const events = [
  stored(1, 'incident.opened', { incidentId: 'inc-1', service: 'planner', signal: 'error_rate', severity: 'warning', summary: 'planner errors', value: 0.3, baseline: 0.01, windowStart: '2026-01-01T10:00:00.000Z', traceIds: ['t1', 't2'] }, '2026-01-01T10:00:05.000Z'),
  stored(2, 'incident.signal_attached', { incidentId: 'inc-1', service: 'coder', signal: 'gen_ai.cost_usd', summary: 'coder spend', value: 12.5, onsetAt: '2026-01-01T10:01:00.000Z', traceIds: ['t2', 't3'] }, '2026-01-01T10:01:05.000Z'),
  stored(3, 'incident.severity_changed', { incidentId: 'inc-1', from: 'warning', to: 'critical', reason: 'spreading' }, '2026-01-01T10:02:00.000Z'),
];

describe('fix pull request body', () => {
  it('folds the incident stream into signals, distinct exemplar traces, the current severity and a timeline', () => {
    const story = incidentStory('inc-1', events);
    expect(story).toMatchObject({ service: 'planner', severity: 'critical', summary: 'planner errors', traceIds: ['t1', 't2', 't3'] });
    expect(story.signals.map((s) => [s.signal, s.value])).toEqual([['error_rate', 0.3], ['gen_ai.cost_usd', 12.5]]);
    expect(story.timeline.map((t) => t.what)).toEqual(['incident opened: planner errors', 'signal attached: coder spend', 'severity warning → critical: spreading']);
  });

  it('tells a revert as the commit it undoes and the paths it restores', () => {
    const body = pullRequestBody({
      story: incidentStory('inc-1', events),
      change: { kind: 'revert', commitSha: 'abc123', commitMessage: 'Lower the timeout', paths: ['config/planner.yaml'], reason: 'the commit tagged planner@1.5.0' },
      remediationId: 'rem-1',
      fixId: 'f1',
      openedAt: '2026-01-01T10:03:00.000Z',
    });
    expect(body).toContain('Reverts `abc123` (the commit tagged planner@1.5.0)');
    expect(body).toContain('Paths restored to their state before that commit: `config/planner.yaml`.');
    expect(body).toContain('- 2026-01-01T10:03:00.000Z remediation `rem-1` opened this pull request');
    expect(body).not.toContain('Console:');
  });

  it('explains itself: why it paged, how each signal was judged and why it joined, why this action', () => {
    const explained = [
      stored(1, 'incident.opened', { incidentId: 'inc-1', service: 'coder', signal: 'error_rate', severity: 'critical', summary: 'coder errors', value: 0.4, baseline: 0.01, windowStart: '2026-01-01T10:00:00.000Z', reason: 'symptom users feel, confirmed by its detector', explanation: { detector: 'binomial error-rate test', baseline: 0.01, threshold: 0.11 } }, '2026-01-01T10:00:05.000Z'),
      stored(2, 'incident.signal_attached', { incidentId: 'inc-1', service: 'planner', signal: 'error_rate', summary: 'planner errors', value: 0.3, baseline: 0.01, onsetAt: '2026-01-01T10:00:00.000Z', reason: 'topology neighbour of coder (2 hops), in the same interval', explanation: { detector: 'binomial error-rate test' } }, '2026-01-01T10:00:05.000Z'),
      stored(1, 'remediation.started', { remediationId: 'rem-1', incidentId: 'inc-1', playbookId: 'bad-deploy-revert', service: 'coder', signal: 'error_rate', steps: [], rollback: [], verify: { signal: 'error_rate', windowSeconds: 30 }, targetReason: 'root cause coder ranked first (0.82); bad-deploy-revert: error signature seen on coder beats restart-on-error-burst (catch-all)' }, '2026-01-01T10:00:10.000Z'),
    ];
    const body = pullRequestBody({ story: incidentStory('inc-1', explained), change: { kind: 'revert', commitSha: 'abc', commitMessage: 'm', paths: [], reason: 'r' }, remediationId: 'rem-1', fixId: 'f1', openedAt: '2026-01-01T10:03:00.000Z' });
    expect(body).toContain('Paged because: symptom users feel, confirmed by its detector.');
    expect(body).toContain('| error_rate | planner | 0.300 | 0.0100 | 2026-01-01T10:00:00.000Z | binomial error-rate test | topology neighbour of coder (2 hops), in the same interval |');
    expect(body).toContain('## Why this action\n\nroot cause coder ranked first (0.82); bad-deploy-revert: error signature seen on coder beats restart-on-error-burst (catch-all)');
  });
});
