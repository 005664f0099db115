// The remediations API on real PostgreSQL: list and filter, detail with steps and timeline, approve and
// reject (409 when not waiting, 404 when unknown), the playbooks with their load errors, bearer auth.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleRemediationCommand } from '@hephaestus/aggregates';
import { newRegistry, openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { playbook, type EventDataOf } from '@hephaestus/schemas';
import { createConsoleServer } from './console.ts';

const plan = (n: number, approvalRequired: boolean): EventDataOf<'remediation.started'> => ({
  remediationId: `rem-${n}`,
  incidentId: `inc-${n}`,
  playbookId: 'restart-on-error-burst',
  service: n === 1 ? 'planner' : 'coder',
  signal: 'error_rate',
  controlUrl: 'http://127.0.0.1:9/control',
  steps: [{ name: 'restart the agent', action: 'agent.restart', params: {}, timeoutSeconds: 10, retries: 2 }],
  rollback: [],
  verify: { signal: 'error_rate', windowSeconds: 20, max: 0.05 },
  approvalRequired,
  approvalTimeoutSeconds: approvalRequired ? 600 : undefined,
  approvalOnTimeout: approvalRequired ? 'escalate' : undefined,
  dryRun: false,
  targetReason: "the playbook targets the incident's service",
});

describe('remediations API', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  const loaded = playbook.parse({ id: 'restart-on-error-burst', description: 'restart', match: { signal: 'error_rate' }, steps: [{ name: 'restart', action: 'agent.restart' }], verify: { max: 0.05 } });
  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    app = createConsoleServer({
      sql: db.sql,
      logger: testLogger(),
      registry: newRegistry(),
      playbooks: [loaded],
      playbookErrors: [{ file: 'playbooks/bad.yaml', line: 7, reason: 'steps.0.action: Invalid option' }],
    });
    await handleRemediationCommand(db.sql, 'inc-1', { type: 'StartRemediation', ...plan(1, true) }, new Date(Date.now() - 60_000));
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'StartRemediation', ...plan(2, false) });
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'StartStep', phase: 'steps', step: 0 });
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'RecordStepResult', phase: 'steps', step: 0, ok: true, detail: 'POST http://127.0.0.1:9/control/restart answered 202' });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await drop();
  });

  it('lists remediations newest first and filters by status, service and incident', async () => {
    expect((await app.inject('/api/remediations')).json().remediations.map((r: { id: string }) => r.id)).toEqual(['rem-2', 'rem-1']);
    expect((await app.inject('/api/remediations?status=awaiting_approval')).json().remediations.map((r: { id: string }) => r.id)).toEqual(['rem-1']);
    expect((await app.inject('/api/remediations?service=coder')).json().remediations).toMatchObject([{ id: 'rem-2', incidentId: 'inc-2', status: 'verifying' }]);
    expect((await app.inject('/api/remediations?incident=inc-1')).json().remediations).toHaveLength(1);
  });

  it('shows a remediation with its plan, steps, attempts, idempotency keys and timeline', async () => {
    const detail = (await app.inject('/api/remediations/rem-2')).json();
    expect(detail.plan).toMatchObject({ target: { service: 'coder', reason: "the playbook targets the incident's service" }, verify: { signal: 'error_rate', max: 0.05 } });
    expect(detail.steps).toEqual([
      expect.objectContaining({ name: 'restart the agent', attempts: 1, outcome: 'succeeded', idempotencyKey: 'rem-2:steps:0', startedAt: expect.any(String), finishedAt: expect.any(String) }),
    ]);
    expect(detail.timeline.map((e: { type: string }) => e.type)).toEqual(['remediation.started', 'remediation.step_started', 'remediation.step_succeeded']);
    const missing = await app.inject('/api/remediations/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
  });

  it('approves a remediation waiting for approval once, and answers 409 after', async () => {
    const approved = await app.inject({ method: 'POST', url: '/api/remediations/rem-1/approve', payload: { by: 'ana' } });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'running', plan: { approval: { approvedBy: 'ana' } } });
    const again = await app.inject({ method: 'POST', url: '/api/remediations/rem-1/reject', payload: { by: 'bob', reason: 'too late' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toContain('not awaiting approval');
    expect((await app.inject({ method: 'POST', url: '/api/remediations/nope/approve', payload: { by: 'ana' } })).statusCode).toBe(404);
  });

  it('rejects a remediation waiting for approval with the reason', async () => {
    await handleRemediationCommand(db.sql, 'inc-3', { type: 'StartRemediation', ...plan(3, true) });
    const rejected = await app.inject({ method: 'POST', url: '/api/remediations/rem-3/reject', payload: { by: 'ana', reason: 'deploy in progress' } });
    expect(rejected.json()).toMatchObject({ status: 'rejected', plan: { approval: { rejected: { by: 'ana', reason: 'deploy in progress' } } } });
  });

  it('lists the loaded playbooks and the refused files with file, line and reason', async () => {
    const body = (await app.inject('/api/playbooks')).json();
    expect(body.playbooks.map((p: { id: string }) => p.id)).toEqual(['restart-on-error-burst']);
    expect(body.errors).toEqual([{ file: 'playbooks/bad.yaml', line: 7, reason: 'steps.0.action: Invalid option' }]);
  });

  it('asks for the bearer token when the console has tokens, and approves or rejects as the token\'s name', async () => {
    const guarded = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), tokens: [{ name: 'alice', token: 's3cret' }] });
    expect((await guarded.inject('/api/remediations')).statusCode).toBe(401);
    expect((await guarded.inject({ url: '/api/playbooks', headers: { authorization: 'Bearer s3cret' } })).statusCode).toBe(200);
    await handleRemediationCommand(db.sql, 'inc-4', { type: 'StartRemediation', ...plan(4, true) });
    await handleRemediationCommand(db.sql, 'inc-5', { type: 'StartRemediation', ...plan(5, true) });
    const headers = { authorization: 'Bearer s3cret' };
    const approved = await guarded.inject({ method: 'POST', url: '/api/remediations/rem-4/approve', headers, payload: { by: 'mallory' } });
    expect(approved.json()).toMatchObject({ plan: { approval: { approvedBy: 'alice' } } });
    const rejected = await guarded.inject({ method: 'POST', url: '/api/remediations/rem-5/reject', headers, payload: { by: 'mallory', reason: 'not now' } });
    expect(rejected.json()).toMatchObject({ plan: { approval: { rejected: { by: 'alice', reason: 'not now' } } } });
    await guarded.close();
  });
});
