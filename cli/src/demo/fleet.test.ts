import { afterEach, describe, expect, it } from 'vitest';
import { runDemoFleet, type DemoFleet, type FleetLogger } from './fleet.ts';
import { eventually } from '../../../e2e/support.ts';
import { startSink } from './test-sink.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const capture = () => {
  const entries: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void entries.push({ level, fields, message });
  const logger: FleetLogger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, entries, messages: () => entries.map((e) => e.message) };
};

describe('the demo fleet', () => {
  it('runs planner → researcher → coder → reviewer, injects the fault into its target, and stops all four', async () => {
    const sink = await startSink();
    cleanups.push(sink.close);
    const log = capture();
    const fleet: DemoFleet = await runDemoFleet({
      ingestUrl: sink.url,
      controlToken: 'fleet-secret',
      logger: log.logger,
      faultName: 'provider-outage',
      faultAfterSeconds: 3,
      rate: 4,
    });
    cleanups.push(fleet.stop);
    expect(fleet.agents.map((a) => a.service)).toEqual(['planner', 'researcher', 'coder', 'reviewer']);
    for (const agent of fleet.agents) expect(agent.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/control$/);
    // Each agent's lines reach the logger under its name.
    for (const agent of fleet.agents) expect(log.entries.some((e) => e.fields.agent === agent.service && e.message.includes('ready'))).toBe(true);

    await eventually('the fault to be injected', () => log.messages().includes('fault injected: provider-outage on researcher: every call to openai gpt-4o-mini fails (503); the errors cascade to its callers'));
    const researcher = fleet.agents.find((a) => a.service === 'researcher')!;
    const health = await fetch(`${researcher.controlUrl}/health`, { headers: { authorization: 'Bearer fleet-secret' } });
    expect(await health.json()).toMatchObject({ faults: ['provider-outage'] });
    // The outage cascades: the planner's own requests fail because the researcher's do.
    await eventually('failing planner requests', () => sink.spans.some((s) => s.service === 'planner' && s.kind === 'server' && s.status === 'error'));

    await fleet.stop();
    for (const agent of fleet.agents) await expect(fetch(agent.workUrl, { method: 'POST' })).rejects.toThrow();
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);

    // Every call between agents is a CLIENT span with the callee's SERVER span as its child: the topology.
    const byId = new Map(sink.spans.map((s) => [s.spanId, s]));
    const edges = new Set(
      sink.spans
        .filter((s) => s.kind === 'server' && s.parentSpanId && byId.get(s.parentSpanId)?.kind === 'client')
        .map((s) => `${byId.get(s.parentSpanId!)!.service} → ${s.service}`),
    );
    expect([...edges].sort()).toEqual(['coder → reviewer', 'planner → researcher', 'researcher → coder']);
  });

  it('refuses a fault target that is not in the fleet before starting anything', async () => {
    const log = capture();
    await expect(runDemoFleet({ ingestUrl: 'http://127.0.0.1:4318', logger: log.logger, faultName: 'memory-leak', faultService: 'janitor', faultAfterSeconds: 1, rate: 1 })).rejects.toThrow(
      "no agent 'janitor' in the demo fleet; there are planner, researcher, coder, reviewer",
    );
    expect(log.entries).toEqual([]);
  });

  it('names a prefixed fleet\'s agents with its prefix, so fleets can run side by side', async () => {
    const log = capture();
    const options = { ingestUrl: 'http://127.0.0.1:4318', logger: log.logger, faultName: 'memory-leak', faultAfterSeconds: 1, rate: 1, namePrefix: 'b1-' } as const;
    await expect(runDemoFleet({ ...options, faultService: 'reviewer' })).rejects.toThrow("no agent 'reviewer' in the demo fleet; there are b1-planner, b1-researcher, b1-coder, b1-reviewer");
  });
});
