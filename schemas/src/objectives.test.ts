import { describe, expect, it } from 'vitest';
import { defaultObjectives, objectivesFile, objectivesFor, resolveObjectives, scaledRules } from './objectives.ts';

const resolve = (input: unknown) => resolveObjectives(objectivesFile.parse(input));

describe('service level objectives', () => {
  it('gives every service 99 % availability by default, and a latency objective only where one is declared', () => {
    const objectives = objectivesFor(defaultObjectives, 'checkout');
    expect(objectives.map(({ alerting: _, ...o }) => o)).toEqual([{ service: 'checkout', kind: 'availability', targetPercent: 99 }]);
    const declared = resolve({ services: [{ service: 'checkout', latency: { thresholdMs: 800 } }] });
    expect(objectivesFor(declared, 'checkout').map(({ alerting: _, ...o }) => o)).toContainEqual({ service: 'checkout', kind: 'latency', targetPercent: 99, thresholdMs: 800 });
    expect(objectivesFor(declared, 'planner').map((o) => o.kind)).toEqual(['availability']);
    expect(objectives[0]!.alerting).toEqual({ rules: scaledRules(6), minCalls: 20 });
  });

  it('scales the workbook windows to six buckets an hour, never under one bucket', () => {
    expect(scaledRules(6)).toEqual([
      { name: 'fast', longWindowBuckets: 6, shortWindowBuckets: 1, burnRate: 14.4, severity: 'critical' },
      { name: 'medium', longWindowBuckets: 36, shortWindowBuckets: 3, burnRate: 6, severity: 'critical' },
      { name: 'slow', longWindowBuckets: 432, shortWindowBuckets: 36, burnRate: 2.5, severity: 'warning' },
    ]);
    expect(scaledRules(60).map((r) => [r.longWindowBuckets, r.shortWindowBuckets])).toEqual([[60, 5], [360, 30], [4320, 360]]);
  });

  it('applies the first matching service glob over the defaults, field by field', () => {
    const config = resolve({
      defaults: { latency: { targetPercent: 95, thresholdMs: 1000 } },
      services: [
        { service: 'checkout', latency: { thresholdMs: 300 } },
        { service: 'check*', availability: { targetPercent: 90 } },
      ],
    });
    expect(objectivesFor(config, 'checkout').map(({ alerting: _, ...o }) => o)).toEqual([
      { service: 'checkout', kind: 'availability', targetPercent: 99 },
      { service: 'checkout', kind: 'latency', targetPercent: 95, thresholdMs: 300 },
    ]);
    expect(objectivesFor(config, 'checkin').find((o) => o.kind === 'availability')!.targetPercent).toBe(90);
  });

  it('turns an objective off per service with false', () => {
    const config = resolve({ defaults: { latency: { targetPercent: 99, thresholdMs: 2000 } }, services: [{ service: 'batch-*', latency: false }, { service: 'canary-*', availability: false, latency: false }] });
    expect(objectivesFor(config, 'batch-nightly').map((o) => o.kind)).toEqual(['availability']);
    expect(objectivesFor(config, 'canary-1')).toEqual([]);
    expect(objectivesFor(config, 'web')).toHaveLength(2);
  });

  it('takes explicit rules in buckets instead of the scaled table', () => {
    const rules = [{ name: 'page', longWindowBuckets: 4, shortWindowBuckets: 1, burnRate: 10, severity: 'critical' }];
    expect(resolve({ alerting: { rules, bucketsPerHour: 60 } }).alerting.rules).toEqual(rules);
    expect(resolve({ alerting: { bucketsPerHour: 12 } }).alerting.rules[0]).toMatchObject({ longWindowBuckets: 12, shortWindowBuckets: 1 });
  });

  it('refuses a short window longer than the long one, a rule named twice and a target of 100 %', () => {
    const rule = { name: 'fast', longWindowBuckets: 2, shortWindowBuckets: 3, burnRate: 10, severity: 'critical' };
    expect(objectivesFile.safeParse({ alerting: { rules: [rule] } }).error?.issues[0]).toMatchObject({ path: ['alerting', 'rules', 0, 'shortWindowBuckets'] });
    const twice = [{ ...rule, shortWindowBuckets: 1 }, { ...rule, shortWindowBuckets: 1 }];
    expect(objectivesFile.safeParse({ alerting: { rules: twice } }).error?.issues[0]).toMatchObject({ path: ['alerting', 'rules', 1, 'name'] });
    expect(objectivesFile.safeParse({ defaults: { availability: { targetPercent: 100 } } }).success).toBe(false);
    expect(objectivesFile.safeParse({ services: [{ service: 'a', availabilty: false }] }).success).toBe(false);
  });
});
