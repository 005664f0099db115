import { playbook, type Playbook } from '@hephaestus/schemas';
import { describe, expect, it } from 'vitest';
import { matchPlaybook } from './match.ts';

const book = (id: string, service: string): Playbook =>
  playbook.parse({
  id,
  description: id,
  match: { service, signal: 'error_rate' },
  steps: [{ name: 'restart', action: 'agent.restart', params: {}, timeoutSeconds: 1, retries: 0 }],
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
});
