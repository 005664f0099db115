// The walking skeleton end to end: a real OpenTelemetry exporter in an agent process → ingest → the log
// → analyzer → incident → webhook alert → healer restarts the agent → validation → resolution. Once on
// Kafka and PostgreSQL, once on the embedded default (PGlite and the Postgres-backed log).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@hephaestus/platform';
import { freshDatabase, kafkaBrokers, testLogger } from '@hephaestus/platform/testing';
import { startControlPlane, upConfig, type ControlPlane } from '../cli/src/control-plane.ts';
import { eventually, ownKafka, restartPlaybook, startAgent, startWebhookReceiver } from './support.ts';

type Setup = { env: Record<string, string>; cleanup: () => Promise<void> };

const backends: Array<[string, () => Promise<Setup>]> = [
  [
    'kafka and postgresql',
    async () => {
      const db = await freshDatabase();
      return { env: { KAFKA_BROKERS: kafkaBrokers().join(','), DATABASE_URL: db.url }, cleanup: db.drop };
    },
  ],
  ['the embedded default', async () => ({ env: {}, cleanup: async () => {} })],
];

describe.each(backends)('walking skeleton on %s', (_name, prepare) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('detects an error burst, alerts, restarts the agent, validates and resolves; a restart keeps the incident', async () => {
    const backend = await prepare();
    cleanups.push(backend.cleanup);
    const dir = await mkdtemp(join(tmpdir(), 'heph-e2e-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'restart.yaml'), restartPlaybook('e2e-*'));
    const webhook = await startWebhookReceiver();
    cleanups.push(webhook.close);

    const config = loadConfig(upConfig, {
      ...backend.env,
      HEPH_DATA_DIR: join(dir, 'data'),
      HEPH_PLAYBOOKS_DIR: dir,
      HEPH_INGEST_PORT: '0',
      HEPH_CONSOLE_PORT: '0',
      HEPH_RESOLUTION_SECONDS: '2',
      HEPH_DETECT_GRACE_SECONDS: '1',
      HEPH_ALERT_WEBHOOK_URL: webhook.url,
      ...ownKafka(`e2e-${randomBytes(4).toString('hex')}`),
    });
    let plane: ControlPlane = await startControlPlane(config, testLogger());
    cleanups.push(() => plane.stop());
    const api = async (path: string) => (await fetch(`${plane.consoleUrl}${path}`)).json() as Promise<any>;
    // The console's spend view burns the costs file's budgets (config/costs.yaml: 100 USD a day for every service).
    expect((await api('/api/spend')).budgets).toEqual([expect.objectContaining({ service: '*', period: 'daily', limitUsd: 100 })]);

    const service = `e2e-${randomBytes(3).toString('hex')}`;
    const agent = await startAgent({ service, ingestUrl: plane.ingestUrl });
    cleanups.push(agent.stop);

    // A healthy baseline first: a few intervals of traffic and no incident.
    await eventually('healthy traffic to reach the rollups', async () => {
      const [row] = await plane.runtime.db.sql`SELECT sum(calls)::int AS calls FROM rollups WHERE service = ${service}`;
      return (row?.calls ?? 0) >= 150 || undefined;
    });
    expect((await api('/api/incidents')).incidents.filter((i: any) => i.service === service)).toEqual([]);

    await agent.injectFault();

    const firing = await eventually('the firing alert', () => webhook.calls.find((c) => c.body.status === 'firing' && c.body.incident.service === service));
    // The burst is an availability symptom: the error-rate test or the availability objective's fast
    // burn, whichever is confirmed first (the other attaches to the same incident), opens the page.
    const symptom = expect.stringMatching(/^(error_rate|burn_rate\.availability)$/);
    expect(firing.body).toMatchObject({
      version: '4',
      status: 'firing',
      alerts: [{ status: 'firing', labels: { service, signal: symptom } }],
      incident: { service, signal: symptom, status: 'open', links: { incident: expect.stringContaining('/api/incidents/') } },
    });
    // The first judged interval may hold only part of the burst; it is still far above the baseline.
    expect(firing.body.incident.value - firing.body.incident.baseline).toBeGreaterThanOrEqual(0.1);
    const incidentId: string = firing.body.incident.id;

    await eventually('the healer to restart the agent', () => agent.lines.some((l) => l.includes('restart requested by the healer')) || undefined);
    await eventually('the resolve notice', () => webhook.calls.find((c) => c.body.status === 'resolved' && c.body.incident.id === incidentId));

    const detail = await eventually('validation and resolution in the timeline', async () => {
      const incident = await api(`/api/incidents/${incidentId}`);
      const types: string[] = incident.timeline.map((e: any) => e.type);
      return incident.status === 'resolved' && types.includes('remediation.validated') ? incident : undefined;
    });
    expect(detail.timeline.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['incident.opened', 'alert.sent', 'remediation.started', 'remediation.step_succeeded', 'remediation.validated', 'incident.mitigated', 'incident.resolved']),
    );
    // The incident carries exemplar traces of failing calls, for the responder.
    expect(detail.exemplarTraceIds.length).toBeGreaterThan(0);
    expect(detail.exemplarTraceIds[0]).toMatch(/^[0-9a-f]{32}$/);
    // One fault: one incident, one restart, one firing alert.
    expect((await api('/api/incidents')).incidents.filter((i: any) => i.service === service)).toHaveLength(1);
    expect(agent.lines.filter((l) => l.includes('restart requested by the healer'))).toHaveLength(1);
    expect(webhook.calls.filter((c) => c.body.status === 'firing' && c.body.incident.service === service)).toHaveLength(1);

    // A restart of the control plane on the same storage loses no incident.
    await agent.stop();
    await plane.stop();
    plane = await startControlPlane(config, testLogger());
    const after = await api(`/api/incidents/${incidentId}`);
    expect(after).toMatchObject({ id: incidentId, service, status: 'resolved' });
  });
});
