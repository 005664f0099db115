import { describe, expect, it } from 'vitest';
import { guard, type RecentRemediation } from './guard.ts';

const rules = { maxRunsPerHour: 3, cooldownSeconds: 300, concurrency: 1 };
const nowMs = 10_000_000;
const row = (over: Partial<RecentRemediation>): RecentRemediation => ({ id: 'r', playbookId: 'restart', service: 'planner', status: 'validated', startedAtMs: nowMs - 3_000_000, updatedAtMs: nowMs - 2_900_000, ...over });
const input = (recent: RecentRemediation[], fleet: string[] = ['planner', 'coder', 'reviewer', 'researcher']) => ({ playbookId: 'restart', service: 'planner', nowMs, recent, fleet });

describe('remediation guard', () => {
  it('allows a first remediation', () => {
    expect(guard(rules, input([]))).toEqual({ allow: true });
  });

  it('refuses a second remediation of a service while one is unfinished, whatever its playbook', () => {
    expect(guard(rules, input([row({ id: 'rem-1', playbookId: 'shed', status: 'awaiting_approval' })]))).toEqual({
      allow: false,
      reason: 'one remediation at a time per service: planner is still under remediation rem-1 (shed, awaiting approval)',
    });
    expect(guard(rules, input([row({ playbookId: 'shed', status: 'refused' })]))).toEqual({ allow: true });
    expect(guard({ ...rules, concurrency: 2 }, input([row({ playbookId: 'shed', service: 'coder', status: 'running' })]))).toEqual({ allow: true });
  });

  it('refuses past the runs per hour of a service, not counting refused or rejected ones', () => {
    const three = [row({ playbookId: 'a' }), row({ playbookId: 'b' }), row({ playbookId: 'c' })];
    expect(guard(rules, input(three))).toMatchObject({ allow: false, reason: expect.stringContaining('maxRunsPerHour 3') });
    expect(guard(rules, input([...three.slice(0, 2), row({ status: 'refused', playbookId: 'c' })]))).toEqual({ allow: true });
  });

  it('refuses within the cooldown after the last finished run of the same playbook on the service', () => {
    const recent = [row({ updatedAtMs: nowMs - 60_000 })];
    expect(guard(rules, input(recent))).toMatchObject({ allow: false, reason: expect.stringContaining('240 s of 300 s left') });
    expect(guard(rules, input([row({ updatedAtMs: nowMs - 60_000, service: 'coder' })]))).toEqual({ allow: true });
  });

  it('refuses past the concurrency of a playbook over the fleet', () => {
    expect(guard(rules, input([row({ service: 'coder', status: 'running' })]))).toMatchObject({ allow: false, reason: expect.stringContaining('concurrency 1') });
  });

  it('limits the blast radius in services and in percent of the fleet', () => {
    const wide = { ...rules, concurrency: 10, maxServices: 2 };
    const running = [row({ service: 'coder', status: 'running', playbookId: 'x' }), row({ service: 'reviewer', status: 'verifying', playbookId: 'y' })];
    expect(guard(wide, input(running))).toMatchObject({ allow: false, reason: expect.stringContaining('maxServices 2') });
    const share = { ...rules, concurrency: 10, maxPercent: 50 };
    expect(guard(share, input(running.slice(0, 1)))).toEqual({ allow: true });
    expect(guard(share, input(running))).toMatchObject({ allow: false, reason: expect.stringContaining('3 of 4 services (75 %)') });
  });
});
