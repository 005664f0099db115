import { describe, expect, it } from 'vitest';
import { conditionsAt, faultNames, faults, type FaultName } from './faults.ts';
import { fleetServices } from './fleet.ts';
import {
  baselineMemoryBytes,
  fallbackModel,
  healthyConditions,
  llmOutcome,
  memoryLimitBytes,
  memoryUsageBytes,
  outOfMemory,
  primaryModel,
  toolOutcome,
  type Conditions,
  type LlmOutcome,
} from './simulation.ts';

/** mulberry32: a small seeded generator, so each run draws the same numbers. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const calls = (conditions: Conditions, model = primaryModel, n = 4000): LlmOutcome[] => {
  const random = seeded(7);
  return Array.from({ length: n }, () => llmOutcome(conditions, model, random));
};
const share = <T>(items: T[], test: (item: T) => boolean) => items.filter(test).length / items.length;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const under = (name: FaultName, elapsedMs = 0) => conditionsAt([{ name, sinceMs: 1_000 }], 1_000 + elapsedMs);

describe('the simulation when healthy', () => {
  it('fails one LLM call in 500 (rate limited) and answers the rest in 0.25–1.65 s with 250–450 input and 60–180 output tokens', () => {
    const outcomes = calls(healthyConditions());
    expect(share(outcomes, (o) => o.error !== undefined)).toBeLessThan(0.004);
    expect(outcomes.find((o) => o.error)?.error).toMatchObject({ code: 'rate_limit_exceeded', status: 429 });
    const answered = outcomes.filter((o) => !o.error);
    for (const o of answered) {
      expect(o.latencyMs).toBeGreaterThanOrEqual(250);
      expect(o.latencyMs).toBeLessThan(1650);
      expect(o.inputTokens).toBeGreaterThanOrEqual(250);
      expect(o.inputTokens).toBeLessThanOrEqual(450);
      expect(o.outputTokens).toBeGreaterThanOrEqual(60);
      expect(o.outputTokens).toBeLessThanOrEqual(180);
    }
  });

  it('keeps memory within 1.5 % of its baseline, tools working and the stable version', () => {
    const random = seeded(3);
    const healthy = healthyConditions();
    for (let i = 0; i < 500; i++) expect(Math.abs(memoryUsageBytes(healthy, random) / baselineMemoryBytes - 1)).toBeLessThanOrEqual(0.015);
    expect(Array.from({ length: 500 }, () => toolOutcome(healthy, random)).some((o) => o.error)).toBe(false);
    expect(healthy.version).toBe('1.4.2');
    expect(conditionsAt([], 0)).toEqual(healthy);
  });
});

describe('the fault catalogue', () => {
  it('error-burst: 60 % of LLM calls fail with a reset connection', () => {
    const outcomes = calls(under('error-burst'));
    expect(share(outcomes, (o) => o.error?.code === 'ECONNRESET')).toBeCloseTo(0.6, 1);
    expect(outcomes.find((o) => o.error)?.error?.message).toMatch(/socket hang up/);
  });

  it('latency-spike: every LLM call takes ten times as long while the agent allows more than 8 calls at once, as usual at 8', () => {
    const before = calls(healthyConditions());
    const after = calls(under('latency-spike'));
    after.forEach((o, i) => expect(o.latencyMs).toBeCloseTo(before[i]!.latencyMs * 10, 6));
    const random = seeded(7);
    const shed = Array.from({ length: 4000 }, () => llmOutcome(under('latency-spike'), primaryModel, random, 8));
    expect(shed).toEqual(before);
  });

  it('memory-leak: the gauge climbs 1 % of the 1 GiB limit every 10 s, never past it, and at the limit the agent is out of memory', () => {
    const random = () => 0.5;
    expect(memoryUsageBytes(under('memory-leak', 0), random)).toBe(baselineMemoryBytes);
    expect(memoryUsageBytes(under('memory-leak', 10_000), random) - baselineMemoryBytes).toBeCloseTo(0.01 * memoryLimitBytes, -1);
    expect(memoryUsageBytes(under('memory-leak', 300_000), random) - baselineMemoryBytes).toBeCloseTo(0.3 * memoryLimitBytes, -1);
    // From 256 MiB, 75 % of the limit is left: 750 s.
    expect(outOfMemory(under('memory-leak', 740_000))).toBe(false);
    expect(outOfMemory(under('memory-leak', 760_000))).toBe(true);
    expect(memoryUsageBytes(under('memory-leak', 3_600_000), seeded(1))).toBe(memoryLimitBytes);
  });

  it('spend-runaway: output tokens ×30 and the prompts repeat, input tokens and latency as before', () => {
    const before = calls(healthyConditions());
    expect(under('spend-runaway').repeatedPrompts).toBe(true);
    const after = calls(under('spend-runaway'));
    expect(mean(after.map((o) => o.outputTokens)) / mean(before.map((o) => o.outputTokens))).toBeCloseTo(30, 0);
    expect(after.map((o) => o.inputTokens)).toEqual(before.map((o) => o.inputTokens));
    expect(after.map((o) => o.latencyMs)).toEqual(before.map((o) => o.latencyMs));
  });

  it('provider-outage: every call to the primary model fails with 503, the fallback model answers as usual', () => {
    const outage = under('provider-outage');
    const primary = calls(outage, primaryModel);
    expect(primary.every((o) => o.error?.code === 'service_unavailable' && o.error.status === 503)).toBe(true);
    expect(primary[0]!.error!.message).toBe('openai gpt-4o-mini is unavailable: 503 Service Unavailable');
    expect(calls(outage, fallbackModel)).toEqual(calls(healthyConditions(), fallbackModel));
  });

  it('bad-deploy: version 1.5.0, 40 % of tool calls fail with a TypeError, LLM calls unchanged', () => {
    const deployed = under('bad-deploy');
    expect(deployed.version).toBe('1.5.0');
    const random = seeded(11);
    const tools = Array.from({ length: 4000 }, () => toolOutcome(deployed, random));
    expect(share(tools, (o) => o.error?.code === 'TypeError')).toBeCloseTo(0.4, 1);
    expect(calls(deployed)).toEqual(calls(healthyConditions()));
  });

  it('latency-creep: latency grows with time since onset, by its usual value every 2 minutes', () => {
    const factors = [0, 60_000, 120_000, 600_000].map((elapsed) => under('latency-creep', elapsed).latencyFactor);
    expect(factors).toEqual([1, 1.5, 2, 6]);
  });

  it('composes faults: a saturation on top of a creep multiplies', () => {
    const both = conditionsAt(
      [
        { name: 'latency-creep', sinceMs: 0 },
        { name: 'latency-spike', sinceMs: 60_000 },
      ],
      120_000,
    );
    expect(llmOutcome(both, primaryModel, () => 0.5).latencyMs).toBeCloseTo(450 * 2 * 10, 6);
  });

  it('a restart clears the faults inside the process, not the provider\'s throttling or outage, the prompt loop nor the deployed version', () => {
    expect(faultNames.filter((name) => !faults[name].clearedByRestart)).toEqual(['latency-spike', 'spend-runaway', 'provider-outage', 'bad-deploy']);
  });

  it('describes every fault in plain words and aims it at an agent of the fleet', () => {
    for (const name of faultNames) {
      const fault = faults[name];
      expect(fault.name).toBe(name);
      for (const text of [fault.effect, fault.detection, fault.cure]) expect(text.length).toBeGreaterThan(20);
      expect(fleetServices).toContain(fault.defaultService);
    }
  });
});
