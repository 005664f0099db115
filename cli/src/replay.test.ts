// heph replay on real PostgreSQL: projections rebuilt from the event store equal the live ones; a
// projection gone wrong is found by --check (which changes nothing) and mended by a rebuild.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilence, expireSilence, handleIncidentCommand, handleRemediationCommand } from '@hephaestus/aggregates';
import { openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { rebuildProjections, runReplay } from './replay.ts';

const t0 = Date.UTC(2026, 11, 3, 9);
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

const plan = (n: number) => ({
  remediationId: `rem-${n}`,
  incidentId: `inc-${n}`,
  playbookId: 'restart-on-error-burst',
  service: 'planner',
  signal: 'error_rate',
  controlUrl: 'http://127.0.0.1:9/control',
  steps: [{ name: 'restart the agent', action: 'agent.restart', params: {}, timeoutSeconds: 10, retries: 2 }],
  rollback: [],
  verify: { signal: 'error_rate', windowSeconds: 20, max: 0.05 },
  approvalRequired: false,
  dryRun: false,
  targetReason: "the playbook targets the incident's service",
});

const collect = () => {
  let text = '';
  return { stream: new Writable({ write: (chunk, _enc, done) => ((text += String(chunk)), done()) }), text: () => text };
};

describe('heph replay', () => {
  let db: Database;
  let url: string;
  let drop: () => Promise<void>;
  const snapshot = async () => ({
    incidents: await db.sql`SELECT * FROM incidents ORDER BY id`,
    remediations: await db.sql`SELECT * FROM remediations ORDER BY id`,
    silences: await db.sql`SELECT * FROM silences ORDER BY id`,
  });
  let live: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    ({ url, drop } = fresh);
    db = await openDatabase({ url, dataDir: '', log: testLogger() });
    const open = (id: string, service: string, s: number) =>
      handleIncidentCommand(db.sql, { type: 'OpenIncident', at: at(s), incidentId: id, service, signal: 'error_rate', severity: 'critical', summary: `${service} errors`, value: 0.3, baseline: 0.01, windowStart: at(s - 10) });
    // Incidents through their lives: acknowledged, resolved, reopened, a changed severity, mitigated.
    await open('inc-1', 'planner', 0);
    await handleIncidentCommand(db.sql, { type: 'AcknowledgeIncident', at: at(5), incidentId: 'inc-1', by: 'alice' });
    await handleIncidentCommand(db.sql, { type: 'ResolveIncident', at: at(60), incidentId: 'inc-1', service: 'planner', signal: 'error_rate', reason: 'back to normal', value: 0.01 });
    await handleIncidentCommand(db.sql, { type: 'ReopenIncident', at: at(90), incidentId: 'inc-1', reason: 'again', withinMs: 3_600_000 });
    await open('inc-2', 'coder', 30);
    await handleIncidentCommand(db.sql, { type: 'ChangeSeverity', at: at(35), incidentId: 'inc-2', to: 'warning', reason: 'only a few calls' });
    // A remediation that ran its step and is verifying, and one that was validated.
    await handleRemediationCommand(db.sql, 'inc-1', { type: 'StartRemediation', ...plan(1) }, new Date(t0 + 10_000));
    await handleRemediationCommand(db.sql, 'inc-1', { type: 'StartStep', phase: 'steps', step: 0 }, new Date(t0 + 11_000));
    await handleRemediationCommand(db.sql, 'inc-1', { type: 'RecordStepResult', phase: 'steps', step: 0, ok: true, detail: 'restarted' }, new Date(t0 + 12_000));
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'StartRemediation', ...plan(2), incidentId: 'inc-2' }, new Date(t0 + 40_000));
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'StartStep', phase: 'steps', step: 0 }, new Date(t0 + 41_000));
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'RecordStepResult', phase: 'steps', step: 0, ok: true, detail: 'restarted' }, new Date(t0 + 42_000));
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'StartVerification' }, new Date(t0 + 43_000));
    await handleRemediationCommand(db.sql, 'inc-2', { type: 'RecordVerification', ok: true, detail: 'error_rate 0.0 %' }, new Date(t0 + 70_000));
    await handleIncidentCommand(db.sql, { type: 'MitigateIncident', at: at(70), incidentId: 'inc-2', remediationId: 'rem-2', detail: 'error_rate 0.0 %' });
    // A silence that was expired early, and one still running.
    const silence = { matchers: [{ name: 'service', value: 'planner', isRegex: false, isEqual: true }], startsAt: at(0), endsAt: at(3600), createdBy: 'alice', comment: 'restarting it' };
    const first = await createSilence(db.sql, silence, t0);
    if (!first.ok) throw new Error('silence not created');
    await expireSilence(db.sql, first.silence.id, t0 + 600_000, 'alice');
    await createSilence(db.sql, { ...silence, comment: 'maintenance' }, t0 + 700_000);
    live = await snapshot();
  });
  afterAll(async () => {
    await db.close();
    await drop();
  });

  it('rebuilds every projection from the event store exactly as it was kept live', async () => {
    expect(live.incidents.map((r) => [r.id, r.status, r.severity])).toEqual([['inc-1', 'open', 'critical'], ['inc-2', 'open', 'warning']]);
    expect(live.remediations.map((r) => [r.id, r.status])).toEqual([['rem-1', 'verifying'], ['rem-2', 'validated']]);
    expect(live.silences).toHaveLength(2);
    const report = await rebuildProjections(db.sql);
    expect(report).toMatchObject({ same: true, tables: [{ table: 'incidents', rows: 2 }, { table: 'remediations', rows: 2 }, { table: 'silences', rows: 2 }] });
    expect(report.events).toBeGreaterThan(15);
    expect(await snapshot()).toEqual(live);
  });

  it('finds a projection gone wrong with --check, changing nothing, and mends it with a rebuild', async () => {
    await db.sql`UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE id = 'inc-2'`;
    await db.sql`DELETE FROM silences WHERE comment = 'maintenance'`;
    await db.sql`INSERT INTO remediations (id, incident_id, playbook_id, service, status, started_at, updated_at) VALUES ('rem-ghost', 'inc-ghost', 'x', 'y', 'running', now(), now())`;
    const broken = await snapshot();

    const out = collect();
    expect(await runReplay(['--check'], { stdout: out.stream, stderr: collect().stream }, { DATABASE_URL: url })).toBe(1);
    expect(out.text()).toMatch(/^checked incidents, remediations, silences from \d+ events\n/);
    expect(out.text()).toContain('  incidents: 2 rows, 1 changed (inc-2)\n');
    expect(out.text()).toContain('  remediations: 2 rows, 1 missing from the rebuild (rem-ghost)\n');
    expect(out.text()).toMatch(/ {2}silences: 2 rows, 1 not in the table before \([0-9a-f-]{36}\)\n/);
    expect(out.text()).toContain('the projections differ from the event store: run heph replay to rebuild them');
    expect(await snapshot()).toEqual(broken);

    expect(await runReplay([], { stdout: collect().stream, stderr: collect().stream }, { DATABASE_URL: url })).toBe(1);
    expect(await snapshot()).toEqual(live);
    const again = collect();
    expect(await runReplay(['--check'], { stdout: again.stream, stderr: collect().stream }, { DATABASE_URL: url })).toBe(0);
    expect(again.text()).toContain('every projection matches the event store');
  });

  it('explains itself and refuses what it does not know', async () => {
    const help = collect();
    expect(await runReplay(['--help'], { stdout: help.stream, stderr: collect().stream }, {})).toBe(0);
    expect(help.text()).toMatch(/^usage: heph replay \[--check\]/);
    const err = collect();
    expect(await runReplay(['--fast'], { stdout: collect().stream, stderr: err.stream }, {})).toBe(2);
    expect(err.text()).toMatch(/^heph replay: Unknown option '--fast'/);
  });
});
