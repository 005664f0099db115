// Every fault of the demo catalogue end to end on Kafka and PostgreSQL, all at once on side-by-side
// fleets at 5 s resolution: the story happens (detected, the right root cause, the playbook's action on
// the faulty agent, validated), not its timing — bench/scenarios measures that.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, kafkaBrokers } from '@hephaestus/platform/testing';
import type { FaultName } from '../cli/src/demo/faults.ts';
import { readEvents, runWave, startBench, type Bench } from '../bench/scenarios/harness.ts';
import { formatTable, storyOf, type Story } from '../bench/scenarios/score.ts';

const resolutionSeconds = 5;
const stories = new Map<FaultName, Story>();

describe('the fault catalogue end to end', () => {
  let bench: Bench | undefined;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    bench = await startBench({ kafkaBrokers: kafkaBrokers().join(','), databaseUrl: db.url, resolutionSeconds, warmupBuckets: 20 });
    const times = await runWave(bench, {
      // The three error faults 20 s apart, so their incidents do not share a correlation window's start.
      faults: ['error-burst', 'latency-spike', 'provider-outage', 'spend-runaway', 'bad-deploy', 'memory-leak', 'latency-creep'],
      staggerMs: 10_000,
      healthyAfterMs: 10_000,
      // At least 20 calls per 5 s interval at the entry agent: the error-rate detector judges no fewer.
      rate: 5,
      // Failsafes: a story ends as soon as its events say so. The creep takes minutes to stand out.
      storyTimeoutMs: { 'memory-leak': 240_000, 'latency-creep': 240_000, 'bad-deploy': 120_000, 'error-burst': 120_000, 'provider-outage': 120_000, 'spend-runaway': 120_000, 'latency-spike': 120_000 },
      say: process.env.SCENARIOS_VERBOSE ? (line) => console.log(line) : () => {},
    });
    const events = await readEvents(bench.sql);
    for (const t of times) stories.set(t.fault, storyOf(t, events));
    if (process.env.SCENARIOS_VERBOSE) {
      console.log(formatTable([...stories.values()], resolutionSeconds));
      // Every action a story counts, with its place in the store and its time from the onset.
      for (const t of times) {
        const started = events.filter((e) => e.type === 'remediation.started' && String(e.data.service).startsWith(t.prefix) && !e.data.dryRun && e.occurredAtMs <= t.endedAtMs);
        console.log(`${t.fault}: actions ${started.map((e) => `#${e.position} ${String(e.data.remediationId).slice(0, 8)} ${e.data.playbookId} on ${e.data.service} for ${String(e.data.incidentId).slice(0, 8)} at ${Math.round((e.occurredAtMs - t.onsetAtMs) / 1000)} s`).join('; ')}`);
      }
    }
  }, 900_000);

  afterAll(async () => {
    await bench?.stop();
    await drop?.();
  });

  const story = (fault: FaultName) => stories.get(fault)!;
  const all: FaultName[] = ['error-burst', 'latency-spike', 'provider-outage', 'spend-runaway', 'bad-deploy', 'memory-leak', 'latency-creep'];

  it.each(all)('%s: is detected, with an incident on the faulty agent or its callers', (fault) => {
    expect(story(fault).detected).toBe(true);
    expect(story(fault).signals.length).toBeGreaterThan(0);
  });

  // One fault, one page, the right agent (issue 14).
  it.each(all)('%s: pages once and acts on no healthy agent', (fault) => {
    expect(story(fault).pages, `pages for ${fault}: ${story(fault).pageLog.join('; ')}; its signals: ${story(fault).signals.join(', ')}`).toBeLessThanOrEqual(1);
    expect(story(fault).actionsOnHealthy, `actions taken: ${story(fault).actions.join(', ')}`).toBe(0);
  });

  // Its fleet pages nobody while healthy (a busy machine slows every agent at once: that is no agent's
  // fault), and the fault is answered by one action.
  it.each(all)('%s: its fleet pages nobody outside the fault, and one action answers the fault', (fault) => {
    expect(story(fault).falsePages, `pages of the fleet: ${story(fault).pageLog.join('; ')}`).toBe(0);
    expect(story(fault).actions).toHaveLength(1);
  });

  it('error-burst: the error rate incident names the faulty agent; the restart cures it and is validated', () => {
    expect(story('error-burst')).toMatchObject({ rootCauseRight: true, validated: true });
    expect(story('error-burst').signals.some((s) => s.endsWith(':error_rate'))).toBe(true);
    expect(story('error-burst').actions).toContain('restart-on-error-burst on eb-researcher');
  });

  it('latency-spike: sees the agent’s own LLM calls slow down, sheds its load and validates', () => {
    expect(story('latency-spike').signals).toContain('coder:gen_ai.client.operation.duration');
    expect(story('latency-spike').actions).toContain('shed-load-on-saturation on ls-coder');
    expect(story('latency-spike').validated).toBe(true);
  });

  it('spend-runaway: sees the cost per call surge, turns the cache on and validates', () => {
    expect(story('spend-runaway').signals).toContain('coder:gen_ai.cost_per_success_usd');
    expect(story('spend-runaway').actions).toContain('cap-llm-spend on sr-coder');
    expect(story('spend-runaway').validated).toBe(true);
  });

  // The agent reports its memory limit (heph.limit.process.memory.usage) and the recent ramp is
  // predicted within a few intervals: the restart comes minutes before the limit.
  it('memory-leak: the faulty agent\'s leak is predicted against the limit it reports, and the restart is validated in time', () => {
    const leak = story('memory-leak');
    expect(leak.signals).toContain('reviewer:failure.predicted');
    expect(leak.predictedLeadSeconds).toBeGreaterThan(60);
    expect(leak.actions).toContain('restart-before-out-of-memory on ml-reviewer');
    expect(leak.validated).toBe(true);
  });

  it('latency-creep: is seen in the faulty agent’s own LLM latency as a gradual onset, and the healer restarts it, validated', () => {
    // Its LLM latency: the histogram's mean (the level-shift test) or its p95 series, whichever comes first.
    expect(story('latency-creep').signals.some((s) => s === 'reviewer:gen_ai.client.operation.duration' || s === 'reviewer:gen_ai.client.operation.duration.p95'), story('latency-creep').signals.join(', ')).toBe(true);
    expect(story('latency-creep').actions).toContain('restart-on-latency-creep on lc-reviewer');
    expect(story('latency-creep').actions).not.toContain('shed-load-on-saturation on lc-reviewer');
    expect(story('latency-creep').validated).toBe(true);
  });

  // Their cures match the incident's error signature, seen on the root cause by the settled ranking
  // (one interval of event time after the incident opens): it beats the catch-all restart.
  it('provider-outage: the error rate incident is answered by switching the faulty agent to its fallback model', () => {
    expect(story('provider-outage').signals.some((s) => s.endsWith(':error_rate'))).toBe(true);
    expect(story('provider-outage').actions, `actions taken: ${story('provider-outage').actions.join(', ')}`).toContain('fallback-model-on-provider-outage on po-researcher');
    expect(story('provider-outage').validated || story('provider-outage').escalated).toBe(true);
  });

  it('bad-deploy: the healer opens a revert pull request on the demo GitHub, whose merge deploys the stable version', async () => {
    expect(story('bad-deploy').actions, `actions taken: ${story('bad-deploy').actions.join(', ')}`).toContain('bad-deploy-revert on bd-coder');
    const fix = (await readEvents(bench!.sql)).filter((e) => e.type.startsWith('fix.')).map((e) => e.type);
    expect(fix).toEqual(expect.arrayContaining(['fix.pr_opened', 'fix.checks_passed', 'fix.merged', 'fix.deployed']));
    expect(story('bad-deploy').validated || story('bad-deploy').escalated).toBe(true);
  });
});
