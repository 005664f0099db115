// What the healer reads of the others' records, on real PostgreSQL.
import { beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { fleetServices, incidentFacts, verifyPoints } from './fleet.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('fleet reads', () => {
  const db = useFreshDatabase();
  beforeAll(async () => {
    const sql = db.sql;
    await sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, p99_ms, control_url) VALUES
      ('planner', 10, ${new Date(t0)}, 100, 25, '\\x00', 800, 'http://127.0.0.1:1/old'),
      ('planner', 10, ${new Date(t0 + 10_000)}, 50, 0, '\\x00', 120, 'http://127.0.0.1:1/new'),
      ('planner', 10, ${new Date(t0 + 20_000)}, 0, 0, '\\x00', null, null),
      ('coder', 10, ${new Date(t0 + 10_000)}, 10, 0, '\\x00', 50, null)`;
    await sql`INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max) VALUES
      ('planner', 'gpt-4.1', 'gen_ai.cost_usd', 10, ${new Date(t0)}, 'sum', 0.5, 5, 0.1, 0.1),
      ('planner', 'gpt-4.1-mini', 'gen_ai.cost_usd', 10, ${new Date(t0)}, 'sum', 0.25, 5, 0.05, 0.05),
      ('planner', '', 'process.memory.usage', 10, ${new Date(t0)}, 'mean', 3000, 3, 900, 1100),
      ('planner', 'gpt-4.1', 'gen_ai.cost_usd', 10, ${new Date(t0 + 10_000)}, 'sum', 0.5, 5, 0.1, 0.1),
      ('planner', 'gpt-4.1-mini', 'gen_ai.cost_usd', 10, ${new Date(t0 + 10_000)}, 'sum', 0.25, 5, 0.05, 0.05),
      ('planner', '', 'gen_ai.cost_usd', 10, ${new Date(t0 + 10_000)}, 'sum', 0.75, 10, 0.05, 0.1)`;
  });

  it('reads the error rate and p99 latency (as playbooks name it) from the rollups, counting calls', async () => {
    expect(await verifyPoints(db.sql, 10, 'planner', 'error_rate', t0, t0 + 30_000)).toEqual([
      { startMs: t0, value: 0.25, count: 100 },
      { startMs: t0 + 10_000, value: 0, count: 50 },
      { startMs: t0 + 20_000, value: 0, count: 0 },
    ]);
    expect((await verifyPoints(db.sql, 10, 'planner', 'latency_p99', t0, t0 + 30_000)).map((p) => [p.value, p.count])).toEqual([[800, 100], [120, 50], [0, 0]]);
  });

  it('reads any other signal from the series: the service-wide row, else sums over operations; means as means', async () => {
    // As the analyzer writes it (per model and service-wide), and as another tool might (per model only).
    expect(await verifyPoints(db.sql, 10, 'planner', 'gen_ai.cost_usd', t0, t0 + 20_000)).toEqual([
      { startMs: t0, value: 0.75, count: 10 },
      { startMs: t0 + 10_000, value: 0.75, count: 10 },
    ]);
    expect(await verifyPoints(db.sql, 10, 'planner', 'process.memory.usage', t0, t0 + 10_000)).toEqual([{ startMs: t0, value: 1000, count: 3 }]);
  });

  it('finds the fleet seen lately', async () => {
    expect((await fleetServices(db.sql, t0 + 60_000)).sort()).toEqual(['coder', 'planner']);
    expect(await fleetServices(db.sql, t0 + 3_600_000)).toEqual([]);
  });

  it("folds an incident's evidence from its stream, up to the version asked for", async () => {
    const at = new Date(t0).toISOString();
    expect(await incidentFacts(db.sql, 'inc-1')).toBeUndefined();
    await handleIncidentCommand(db.sql, { type: 'OpenIncident', at, incidentId: 'inc-1', service: 'planner', signal: 'error_rate', severity: 'critical', summary: 's', value: 0.25, baseline: 0.01, windowStart: at });
    await handleIncidentCommand(db.sql, {
      type: 'AttachSignal', at, incidentId: 'inc-1', service: 'coder', signal: 'gen_ai.client.operation.duration', summary: 's', value: 900, baseline: 300, direction: 'above', onsetAt: at,
    });
    await handleIncidentCommand(db.sql, { type: 'AttachSignal', at, incidentId: 'inc-1', service: 'coder', signal: 'error_signature.new', summary: 's', value: 4, onsetAt: at, signature: 'TimeoutError: upstream <*>' });
    await handleIncidentCommand(db.sql, { type: 'RankRootCauses', at, incidentId: 'inc-1', candidates: [{ service: 'coder', confidence: 0.7, evidence: [] }], settled: true });
    await handleIncidentCommand(db.sql, { type: 'AttachSignal', at, incidentId: 'inc-1', service: 'reviewer', signal: 'error_rate', summary: 's', value: 0.2, onsetAt: at });
    const facts = await incidentFacts(db.sql, 'inc-1', 4);
    expect(facts).toMatchObject({ service: 'planner', severity: 'critical', ranking: [{ service: 'coder', confidence: 0.7, evidence: [] }], settled: true });
    expect(facts!.signals).toEqual([
      { service: 'planner', signal: 'error_rate', direction: 'above', value: 0.25, baseline: 0.01 },
      { service: 'coder', signal: 'gen_ai.client.operation.duration', direction: 'above', value: 900, baseline: 300, signature: undefined },
      { service: 'coder', signal: 'error_signature.new', direction: 'above', value: 4, baseline: undefined, signature: 'TimeoutError: upstream <*>' },
    ]);
    expect((await incidentFacts(db.sql, 'inc-1'))!.signals.map((s) => s.service)).toEqual(['planner', 'coder', 'coder', 'reviewer']);
  });
});
