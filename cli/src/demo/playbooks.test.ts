// The default playbooks (playbooks/*.yaml): each parses with the playbook schema, matches a signal the
// analyzer really emits, and every fault of the demo catalogue has the playbook its cure names.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPlaybooks } from '@hephaestus/platform';
import { globMatches, playbook, type Playbook } from '@hephaestus/schemas';
import { faultNames, faults } from './faults.ts';
import { agentConcurrency, fallbackModel, memoryLimitBytes, primaryModel } from './simulation.ts';

const directory = fileURLToPath(new URL('../../../playbooks/', import.meta.url));

/**
 * Incident signals the analyzer opens: error_rate (analyzer.ts), every service-wide series through the
 * series watch (latency.p95_ms and calls from the rollups, gen_ai.* from GenAI spans, OTLP gauges such
 * as process.memory.usage), failure.predicted (time-to-limit) and gen_ai.budget (spend forecast).
 */
const emitted = [
  'error_rate',
  'latency.p95_ms',
  'calls',
  'gen_ai.errors',
  'gen_ai.cost_usd',
  'gen_ai.cost_per_success_usd',
  'gen_ai.output_tokens',
  // The SDK's GenAI duration histogram (OpenTelemetry GenAI conventions), a series of its own.
  'gen_ai.client.operation.duration',
  'process.memory.usage',
  'failure.predicted',
  'gen_ai.budget',
];

const load = async () => {
  const { playbooks, errors } = await loadPlaybooks(directory);
  return { playbooks, errors };
};

describe('the default playbooks', () => {
  it('all parse with the playbook schema and load without errors, one file each', async () => {
    const files = (await readdir(directory)).filter((f) => f.endsWith('.yaml'));
    const { playbooks, errors } = await load();
    expect(errors).toEqual([]);
    expect(playbooks).toHaveLength(files.length);
    expect(files.length).toBeGreaterThanOrEqual(7);
    const { parse } = await import('yaml');
    for (const file of files) {
      const parsed = playbook.safeParse(parse(await readFile(`${directory}${file}`, 'utf8')));
      expect(parsed.success, `${file}: ${parsed.error?.message}`).toBe(true);
      expect(`${parsed.data!.id}.yaml`).toBe(file);
    }
  });

  it('match only signals the analyzer emits', async () => {
    const { playbooks } = await load();
    for (const p of playbooks) expect(emitted, p.id).toContain(p.match.signal);
  });

  it('put every playbook with an error signature before the catch-all on its signal, since the first match wins', async () => {
    const { playbooks } = await load();
    const catchAll = (p: Playbook) => p.match.service === '*' && !p.match.errorSignature && !p.match.labels && !p.match.severity && !p.match.direction && !p.match.onset;
    for (const [i, p] of playbooks.entries()) {
      const earlier = playbooks.slice(0, i).find((q) => q.match.signal === p.match.signal && catchAll(q));
      expect(earlier?.id, `${p.id} is shadowed`).toBeUndefined();
    }
  });

  it('give every fault of the demo catalogue a playbook on a signal it shows, whose first step is its cure', async () => {
    const { playbooks } = await load();
    for (const name of faultNames) {
      const fault = faults[name];
      const cure = playbooks.find((p) => fault.detection.includes(p.match.signal) && fault.cure.includes(p.steps[0]!.action));
      expect(cure?.id, name).toBeDefined();
    }
  });

  it('undo what they change: rollback steps restore the demo agents\' usual settings', async () => {
    const { playbooks } = await load();
    const byId = new Map(playbooks.map((p) => [p.id, p]));
    expect(byId.get('fallback-model-on-provider-outage')).toMatchObject({ steps: [{ params: { model: fallbackModel } }], rollback: [{ params: { model: primaryModel } }] });
    expect(byId.get('shed-load-on-saturation')).toMatchObject({ steps: [{ params: { concurrency: '8' } }], rollback: [{ params: { concurrency: String(agentConcurrency) } }] });
    expect(byId.get('cap-llm-spend')).toMatchObject({ steps: [{ params: { cache: 'true' } }], rollback: [{ params: { cache: 'false' } }] });
    expect(byId.get('circuit-breaker-on-llm-errors')).toMatchObject({ steps: [{ params: { circuitBreaker: 'open' } }], rollback: [{ params: { circuitBreaker: 'closed' } }] });
    // The breaker answers timeouts only; none of the demo's errors is one, so it never shadows their cures.
    for (const message of ['request to openai failed, reason: socket hang up', 'openai gpt-4o-mini is unavailable: 503 Service Unavailable', "Cannot read properties of undefined (reading 'citations')"]) {
      expect(globMatches(byId.get('circuit-breaker-on-llm-errors')!.match.errorSignature!, message), message).toBe(false);
    }
    expect(globMatches(byId.get('circuit-breaker-on-llm-errors')!.match.errorSignature!, 'request to openai timed out after 30000 ms')).toBe(true);
    expect(byId.get('restart-before-out-of-memory')!.verify.max).toBeLessThan(memoryLimitBytes);
    expect(byId.get('bad-deploy-revert')!.steps[0]!.action).toBe('github.revert');
    for (const p of playbooks) expect(globMatches(p.match.service, 'researcher'), p.id).toBe(true);
  });
});
