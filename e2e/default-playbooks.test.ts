// The default playbooks of playbooks/ that the demo faults rarely reach, in `heph up` on Kafka and
// PostgreSQL against a test agent that records its control calls: restart before a predicted
// out-of-memory (verified on the memory gauge), the circuit breaker for a timing-out dependency (found
// by its error signature, rolled back when it does not help), and the catch-all restart when the
// signature is another one. Each incident gets the settled ranking the analyzer records an interval
// after opening, which is what the healer decides on. The demo faults cover the others end to end
// (e2e/scenarios.test.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { loadConfig, type Sql } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { startControlPlane, upConfig, type ControlPlane } from '../cli/src/control-plane.ts';
import { eventually, startRecordingAgent, testPlaneEnv, type ControlCall } from './support.ts';

describe('default playbooks against a test agent', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  let plane: ControlPlane;
  let sql: Sql;
  let calls: ControlCall[] = [];
  let agentUrl = '';
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const agent = await startRecordingAgent();
    cleanups.push(agent.close);
    calls = agent.calls;
    agentUrl = agent.url;
    const config = loadConfig(upConfig, {
      ...testPlaneEnv(db.url, new URL('../playbooks', import.meta.url).pathname, `defaults-${run}`),
    });
    // A new group would first read every earlier test's telemetry still in Kafka.
    plane = await startControlPlane(config, testLogger());
    cleanups.push(() => plane.stop());
    sql = plane.runtime.db.sql;
  }, 60_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const api = async (path: string) => (await (await fetch(`${plane.consoleUrl}${path}`)).json()) as any;
  const buckets = (from: number, to: number) => {
    const out: Date[] = [];
    for (let t = Math.floor(from / 2000) * 2000; t < to; t += 2000) out.push(new Date(t));
    return out;
  };
  const requests = async (service: string, errorRate: number) => {
    for (const t of buckets(Date.now() - 120_000, Date.now() + 120_000)) {
      await sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, control_url)
                VALUES (${service}, 2, ${t}, 100, ${Math.round(errorRate * 100)}, ${Buffer.alloc(0)}, ${`${agentUrl}/${service}/control`})`;
    }
  };
  const gauge = async (service: string, bytes: number) => {
    for (const t of buckets(Date.now() - 10_000, Date.now() + 120_000)) {
      await sql`INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max)
                VALUES (${service}, '', 'process.memory.usage', 2, ${t}, 'gauge', ${bytes}, 1, ${bytes}, ${bytes})`;
    }
  };
  const open = async (service: string, signal: string, fields: { value: number; baseline: number; summary: string }) => {
    const incidentId = randomUUID();
    await handleIncidentCommand(sql, {
      type: 'OpenIncident', at: new Date().toISOString(), incidentId, service, signal, severity: 'critical', windowStart: new Date(Date.now() - 4000).toISOString(),
      controlUrl: `${agentUrl}/${service}/control`, ...fields,
    });
    return incidentId;
  };
  /** The settled ranking the analyzer records an interval after opening: what the healer decides on. */
  const settle = (incidentId: string, service: string) =>
    handleIncidentCommand(sql, { type: 'RankRootCauses', at: new Date().toISOString(), incidentId, candidates: [{ service, confidence: 0.9, evidence: [] }], settled: true });
  const finished = (incidentId: string) =>
    eventually(`the remediation of ${incidentId} to finish`, async () => {
      const [found] = (await api(`/api/remediations?incident=${incidentId}`)).remediations;
      return found && ['validated', 'escalated', 'failed', 'rolled_back', 'dry_run'].includes(found.status) ? found : undefined;
    }, 60_000);
  const callsTo = (service: string) => calls.filter((c) => c.path.startsWith(`/${service}/`)).map((c) => `${c.path} ${c.body}`.trim());

  it('restart-before-out-of-memory: restarts the agent whose memory is predicted to run out, and verifies on the gauge', async () => {
    const service = `oom-${run}`;
    await gauge(service, 300 * 1024 ** 2);
    const started = Date.now();
    const incidentId = await open(service, 'failure.predicted', { value: 900 * 1024 ** 2, baseline: 1024 ** 3, summary: 'process.memory.usage predicted to reach its limit in 240 s' });
    await settle(incidentId, service);
    const done = await finished(incidentId);
    expect(done).toMatchObject({ playbookId: 'restart-before-out-of-memory', status: 'validated' });
    expect(callsTo(service)).toEqual([`/${service}/control/restart`]);
    const detail = await api(`/api/remediations/${done.id}`);
    expect(detail.verification).toMatchObject({ signal: 'process.memory.usage', ok: true });
    console.log(`restart-before-out-of-memory: validated ${Date.now() - started} ms after the incident opened (window 20 s)`);
  }, 90_000);

  it('circuit-breaker-on-llm-errors: opens the breaker on a timing-out dependency, closes it again when that does not help, and escalates', async () => {
    const service = `cb-${run}`;
    await requests(service, 0.4);
    const incidentId = await open(service, 'error_rate', { value: 0.4, baseline: 0.01, summary: 'error rate 40 %' });
    await handleIncidentCommand(sql, {
      type: 'AttachSignal', at: new Date().toISOString(), incidentId, service, signal: 'error_signature.new', summary: 'new error: request to openai timed out after <*> ms',
      value: 40, onsetAt: new Date().toISOString(), signature: 'request to openai timed out after <*> ms',
    });
    await settle(incidentId, service);
    const started = Date.now();
    const done = await finished(incidentId);
    expect(done).toMatchObject({ playbookId: 'circuit-breaker-on-llm-errors', status: 'escalated' });
    expect(callsTo(service)).toEqual([`/${service}/control/config {"circuitBreaker":"open"}`, `/${service}/control/config {"circuitBreaker":"closed"}`]);
    console.log(`circuit-breaker-on-llm-errors: rolled back and escalated ${Date.now() - started} ms after the signature (window 30 s)`);
  }, 90_000);

  it('restart-on-error-burst: the catch-all answers an error burst whose signature no other playbook names', async () => {
    const service = `burst-${run}`;
    await requests(service, 0);
    const incidentId = await open(service, 'error_rate', { value: 0.6, baseline: 0.01, summary: 'error rate 60 %' });
    await handleIncidentCommand(sql, {
      type: 'AttachSignal', at: new Date().toISOString(), incidentId, service, signal: 'error_signature.new', summary: 'new error: socket hang up',
      value: 60, onsetAt: new Date().toISOString(), signature: 'request to openai failed, reason: socket hang up',
    });
    await settle(incidentId, service);
    const done = await finished(incidentId);
    expect(done).toMatchObject({ playbookId: 'restart-on-error-burst', status: 'validated' });
    expect(callsTo(service)).toEqual([`/${service}/control/restart`]);
  }, 90_000);
});
