import { playbook, type Playbook } from '@hephaestus/schemas';
import { describe, expect, it } from 'vitest';
import { awaitsSignature, matchPlaybook } from './match.ts';

const book = (id: string, service: string, match: Record<string, unknown> = {}): Playbook =>
  playbook.parse({
    id,
    description: id,
    match: { service, signal: 'error_rate', ...match },
    steps: [{ name: 'restart', action: 'agent.restart' }],
    verify: { signal: 'error_rate', windowSeconds: 10, max: 0.05 },
  });

describe('playbook matching', () => {
  it('takes the first playbook whose service glob matches', () => {
    const books = [book('checkout-only', 'checkout'), book('agents', 'agent-*'), book('any', '*')];
    expect(matchPlaybook(books, { service: 'agent-planner', signal: 'error_rate' })?.id).toBe('agents');
    expect(matchPlaybook(books, { service: 'checkout', signal: 'error_rate' })?.id).toBe('checkout-only');
    expect(matchPlaybook(books, { service: 'search.v2', signal: 'error_rate' })?.id).toBe('any');
  });

  it('treats glob metacharacters other than * literally', () => {
    expect(matchPlaybook([book('dots', 'a.b')], { service: 'axb', signal: 'error_rate' })).toBeUndefined();
  });

  it('requires the signal to be the same', () => {
    expect(matchPlaybook([book('any', '*')], { service: 'a', signal: 'latency_p99' })).toBeUndefined();
  });

  it('matches only the listed severities', () => {
    const books = [book('critical-only', '*', { severity: ['critical'] }), book('rest', '*')];
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate', severity: 'critical' })?.id).toBe('critical-only');
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate', severity: 'warning' })?.id).toBe('rest');
  });

  it('requires every label to be equal', () => {
    const books = [book('prod', '*', { labels: { 'deployment.environment': 'prod' } })];
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate', labels: { 'deployment.environment': 'prod', team: 'x' } })?.id).toBe('prod');
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate', labels: { 'deployment.environment': 'staging' } })).toBeUndefined();
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate' })).toBeUndefined();
  });

  it('matches an error signature glob against any signature of the incident', () => {
    const books = [book('timeouts', '*', { errorSignature: '*TimeoutError*' })];
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate', signatures: ['ECONNRESET', 'upstream TimeoutError after <*> ms'] })?.id).toBe('timeouts');
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate', signatures: ['ECONNRESET'] })).toBeUndefined();
    expect(matchPlaybook(books, { service: 'a', signal: 'error_rate' })).toBeUndefined();
  });

  it('waits for a matching error signature only while a signature playbook could still match', () => {
    const books = [book('outage', '*', { errorSignature: '*unavailable*' }), book('any', '*')];
    expect(awaitsSignature(books, { service: 'a', signal: 'error_rate' })).toBe(true);
    expect(awaitsSignature(books, { service: 'a', signal: 'error_rate', signatures: ['TypeError <*>'] })).toBe(true);
    expect(awaitsSignature(books, { service: 'a', signal: 'error_rate', signatures: ['TypeError <*>', '503 service unavailable'] })).toBe(false);
    expect(awaitsSignature(books, { service: 'a', signal: 'latency_p99' })).toBe(false);
    expect(awaitsSignature([book('any', '*')], { service: 'a', signal: 'error_rate' })).toBe(false);
  });

  it('matches a direction only when the value is on that side of its baseline', () => {
    const books = [book('shed', '*', { signal: 'latency', direction: 'above' })];
    expect(matchPlaybook(books, { service: 'a', signal: 'latency', value: 900, baseline: 300 })?.id).toBe('shed');
    expect(matchPlaybook(books, { service: 'a', signal: 'latency', value: 100, baseline: 300 })).toBeUndefined();
    expect(matchPlaybook(books, { service: 'a', signal: 'latency' })).toBeUndefined();
  });
});
