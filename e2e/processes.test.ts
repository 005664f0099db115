// The control plane as four processes: `heph ingest`, `heph analyzer`, `heph healer` and `heph console`
// spawned as children on Kafka and a fresh PostgreSQL database. Each is ready (database and log), one of
// the three that append events publishes them, and a demo agent's error burst flows across them:
// ingest → analyzer (one incident, one page) → healer (one restart, validated) → console. Then the
// publishing process is killed with SIGKILL and another takes over.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { appendToStream } from '@hephaestus/platform';
import { freshDatabase } from '@hephaestus/platform/testing';
import { eventually, restartPlaybook, startAgent, startWebhookReceiver, testPlaneEnv } from './support.ts';

const serviceNames = ['ingest', 'analyzer', 'healer', 'console'] as const;
type ServiceName = (typeof serviceNames)[number];

/** One `heph <service>` child: its JSON log lines, and its URL once it logged 'service up'. */
const startService = (service: ServiceName, env: Record<string, string>) => {
  const lines: Array<Record<string, unknown>> = [];
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, '../cli/src/main.ts'), service], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split('\n');
    partial = complete.pop()!;
    for (const line of complete.filter(Boolean)) lines.push(JSON.parse(line));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    service,
    lines,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    url: () => eventually(`heph ${service} to be up`, () => lines.find((l) => l.msg === 'service up')?.url as string | undefined, 120_000),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
};

describe('heph ingest | analyzer | healer | console as four processes', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('are each ready, carry an error burst from ingest to a validated restart, and publish events after the publisher is killed', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const dir = await mkdtemp(join(tmpdir(), 'heph-procs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'restart.yaml'), restartPlaybook('procs-*'));
    const webhook = await startWebhookReceiver();
    cleanups.push(webhook.close);
    const env = {
      ...testPlaneEnv(db.url, dir, `procs-${randomBytes(4).toString('hex')}`),
      HEPH_ANALYZER_PORT: '0',
      HEPH_HEALER_PORT: '0',
      HEPH_ALERT_WEBHOOK_URL: webhook.url,
    };

    const processes = serviceNames.map((service) => startService(service, env));
    for (const p of processes) cleanups.push(p.stop);
    const urls = Object.fromEntries(await Promise.all(processes.map(async (p) => [p.service, await p.url()] as const))) as Record<ServiceName, string>;

    // Each answers /healthz, /readyz with its own dependencies by name, and /metrics.
    for (const service of serviceNames) {
      expect((await fetch(`${urls[service]}/healthz`)).status, service).toBe(200);
      const ready = await fetch(`${urls[service]}/readyz`);
      expect(ready.status, service).toBe(200);
      expect(await ready.json(), service).toEqual({ status: 'ready', checks: { database: true, log: true } });
      expect((await fetch(`${urls[service]}/metrics`)).headers.get('content-type'), service).toMatch(/^text\/plain/);
    }
    expect(await (await fetch(`${urls.analyzer}/metrics`)).text()).toContain('heph_analyzer_records_total');
    expect(await (await fetch(`${urls.healer}/metrics`)).text()).toContain('heph_healer_remediations_total');

    // Analyzer, healer and console each started a publisher; one holds the lock and publishes.
    const publishing = () => processes.filter((p) => p.lines.some((l) => l.msg === 'publishing heph.events (this process holds the publishing lock)'));
    await eventually('a publisher to take the lock', () => publishing().length > 0 || undefined);
    expect(publishing()).toHaveLength(1);
    expect(['analyzer', 'healer', 'console']).toContain(publishing()[0]!.service);

    const api = async (path: string) => (await fetch(`${urls.console}${path}`)).json() as Promise<any>;
    const service = `procs-${randomBytes(3).toString('hex')}`;
    const agent = await startAgent({ service, ingestUrl: urls.ingest });
    cleanups.push(agent.stop);

    // The agent's telemetry went through ingest and the log to the analyzer, whose rollups the console serves.
    await eventually('the console to show the service with healthy traffic', async () => {
      const shown = (await api('/api/services')).services.find((s: any) => s.name === service);
      return shown && shown.callsLast5m >= 150 ? shown : undefined;
    });
    expect((await api('/api/incidents')).incidents.filter((i: any) => i.service === service)).toEqual([]);

    await agent.injectFault();
    const firing = await eventually('the firing alert', () => webhook.calls.find((c) => c.body.status === 'firing' && c.body.incident.service === service), 120_000);
    const incidentId: string = firing.body.incident.id;
    await eventually('the healer process to restart the agent', () => agent.lines.some((l) => l.includes('restart requested by the healer')) || undefined, 120_000);
    const detail = await eventually('validation and resolution in the console', async () => {
      const incident = await api(`/api/incidents/${incidentId}`);
      const types: string[] = incident.timeline.map((e: any) => e.type);
      return incident.status === 'resolved' && types.includes('remediation.validated') ? incident : undefined;
    }, 120_000);
    expect(detail.timeline.map((e: any) => e.type)).toEqual(expect.arrayContaining(['incident.opened', 'alert.sent', 'remediation.started', 'remediation.validated', 'incident.resolved']));
    // One fault: one incident, one restart, one page, across the processes.
    expect((await api('/api/incidents')).incidents.filter((i: any) => i.service === service)).toHaveLength(1);
    expect(agent.lines.filter((l) => l.includes('restart requested by the healer'))).toHaveLength(1);
    expect(webhook.calls.filter((c) => c.body.status === 'firing' && c.body.incident.service === service)).toHaveLength(1);
    // The healer acted in its own process.
    expect(processes.find((p) => p.service === 'healer')!.lines.some((l) => String(l.msg).startsWith('remediation validated'))).toBe(true);

    // The publishing process is killed: PostgreSQL ends its sessions, another process takes the lock
    // and publishes what is appended next.
    const [holder] = publishing();
    await holder!.kill();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end());
    const [appended] = await sql.begin((tx) =>
      appendToStream(tx, `silence-${service}`, 0, [{ id: randomUUID(), type: 'silence.expired', occurredAt: new Date(), data: { silenceId: service, by: 'test' } }]),
    ).then((r) => (r.ok ? r.events : []));
    await eventually('another process to publish the event appended after the kill', async () => {
      const [row] = await sql<{ position: string }[]>`SELECT position FROM checkpoints WHERE name = 'publisher:heph.events'`;
      return BigInt(row?.position ?? 0) >= appended!.position || undefined;
    }, 60_000);
    const successors = publishing().filter((p) => p !== holder);
    expect(successors).toHaveLength(1);
  }, 300_000);
});
