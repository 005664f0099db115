// The control plane as four processes: `heph ingest`, `heph analyzer`, `heph healer` and `heph console`
// spawned as children on Kafka and a fresh PostgreSQL database. Each is ready (database and log), one of
// the three that append events publishes them, and a demo agent's error burst flows across them:
// ingest → analyzer (one incident, one page) → healer (one restart, validated) → console. Then the
// publishing process is killed with SIGKILL and another takes over. And the kill test: two analyzers
// and two healers; the active analyzer is killed as a fault begins and the healer mid-remediation, and
// the fault still gives one incident, one page, one restart, validated.
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
    logged: (message: string | RegExp) => lines.some((l) => (typeof message === 'string' ? l.msg === message : message.test(String(l.msg)))),
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

  it('keeps one incident, one page and one restart when the active analyzer is killed as a fault begins and the healer mid-remediation', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const dir = await mkdtemp(join(tmpdir(), 'heph-kill-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // A verification long enough to kill the healer in the middle of it.
    await writeFile(join(dir, 'restart.yaml'), restartPlaybook('kill-*', 20));
    const webhook = await startWebhookReceiver();
    cleanups.push(webhook.close);
    const env = {
      ...testPlaneEnv(db.url, dir, `kill-${randomBytes(4).toString('hex')}`),
      HEPH_ANALYZER_PORT: '0',
      HEPH_HEALER_PORT: '0',
      HEPH_HEALER_LEASE_SECONDS: '3',
      HEPH_ALERT_WEBHOOK_URL: webhook.url,
    };
    const started = (['ingest', 'analyzer', 'analyzer', 'healer', 'healer', 'console'] as const).map((service) => startService(service, env));
    for (const p of started) cleanups.push(p.stop);
    const urls = await Promise.all(started.map((p) => p.url()));
    const consoleUrl = urls[5]!;
    const api = async (path: string) => (await fetch(`${consoleUrl}${path}`)).json() as Promise<any>;

    // One analyzer judges, the other stands by, both ready; both collect and detect, sharing the telemetry
    // topics' 3 partition indexes (9 partitions: spans, metrics and logs of each index) through leases.
    const analyzers = started.filter((p) => p.service === 'analyzer');
    const active = await eventually('one analyzer to be active', () => analyzers.find((p) => p.logged('analyzer active (it holds the analyzer lock)')));
    const standby = analyzers.find((p) => p !== active)!;
    await eventually('the other to stand by', () => standby.logged(/^analyzer standing by/) || undefined);
    const standbyUrl = urls[started.indexOf(standby)]!;
    expect((await fetch(`${standbyUrl}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${standbyUrl}/metrics`)).text()).toMatch(/^heph_analyzer_active 0$/m);
    /** The partitions of the collectors' group an analyzer held after its last rebalance, and when. */
    const held = (p: (typeof analyzers)[number], afterMs = 0) => p.lines.findLast((l) => typeof l.pool === 'string' && l.pool.endsWith('-analyzer') && typeof l.partitions === 'number' && Number(l.time) >= afterMs);
    const spread = await eventually('the two analyzers to share the 3 partition indexes', () => {
      const counts = analyzers.map((p) => Number(held(p)?.partitions ?? 0));
      return counts.every((n) => n > 0) && counts[0]! + counts[1]! === 3 ? counts : undefined;
    });

    const service = `kill-${randomBytes(3).toString('hex')}`;
    const agent = await startAgent({ service, ingestUrl: urls[0]! });
    cleanups.push(agent.stop);
    await eventually('the console to show the service with healthy traffic', async () => {
      const shown = (await api('/api/services')).services.find((s: any) => s.name === service);
      return shown && shown.callsLast5m >= 150 ? shown : undefined;
    });

    // The fault begins and the active analyzer dies with it.
    await agent.injectFault();
    const killedAt = Date.now();
    await active.kill();
    await eventually('the standby to take over', () => standby.logged('analyzer taking over: the active analyzer stopped or died') || undefined);
    const lockTakenAfterMs = Number(standby.lines.find((l) => l.msg === 'analyzer taking over: the active analyzer stopped or died')!.time) - killedAt;
    // The dead member's partition leases went with its database session: the other takes them and goes on from the offsets applied.
    const joined = await eventually('the other analyzer to hold all 3 partition indexes', () => (held(standby, killedAt)?.partitions === 3 ? held(standby, killedAt) : undefined), 60_000);
    const partitionsMovedAfterMs = Number(joined!.time) - killedAt;
    await eventually('the standby to consume telemetry', async () => /^heph_analyzer_records_total\{signal="spans"\} [1-9]/m.test(await (await fetch(`${standbyUrl}/metrics`)).text()) || undefined, 60_000);
    console.log(`analyzer SIGKILL: partition indexes before ${spread.join(' + ')}; the standby held the lock after ${lockTakenAfterMs} ms and all 3 after ${partitionsMovedAfterMs} ms`);
    expect(await (await fetch(`${standbyUrl}/metrics`)).text()).toMatch(/^heph_analyzer_active 1$/m);
    expect(await (await fetch(`${standbyUrl}/metrics`)).text()).toMatch(/^heph_analyzer_partitions_held 9$/m);

    const firing = await eventually('the firing alert', () => webhook.calls.find((c) => c.body.status === 'firing' && c.body.incident.service === service), 120_000);
    const incidentId: string = firing.body.incident.id;
    // The survivor detects for the dead one's partitions too: from their checkpoints, or rebuilt (and it says which).
    await eventually('the survivor to detect for the partitions it took over', () => standby.lines.some((l) => Number(l.time) >= killedAt && /^detectors of partition \d taken over/.test(String(l.msg))) || undefined);
    expect(await (await fetch(`${standbyUrl}/metrics`)).text()).toMatch(/^heph_analyzer_detected_before_seconds \d/m);

    // The healer that started the remediation is killed while it verifies; the other takes it over when its lease expires.
    const healers = started.filter((p) => p.service === 'healer');
    const acting = await eventually('a healer to verify the restart', () => healers.find((p) => p.logged(/^verifying error_rate on /)), 120_000);
    await acting.kill();
    const successor = healers.find((p) => p !== acting)!;
    await eventually('the other healer to take the remediation over', () => successor.logged(/^took over remediation .* from healer .* \(lease expired at /) || undefined, 60_000);
    const detail = await eventually('validation and resolution in the console', async () => {
      const incident = await api(`/api/incidents/${incidentId}`);
      const types: string[] = incident.timeline.map((e: any) => e.type);
      return incident.status === 'resolved' && types.includes('remediation.validated') ? incident : undefined;
    }, 120_000);
    const types: string[] = detail.timeline.map((e: any) => e.type);
    // One incident, one page, one restart; no step ran twice; validated once.
    expect((await api('/api/incidents')).incidents.filter((i: any) => i.service === service)).toHaveLength(1);
    expect(webhook.calls.filter((c) => c.body.status === 'firing' && c.body.incident.service === service)).toHaveLength(1);
    expect(agent.lines.filter((l) => l.includes('restart requested by the healer'))).toHaveLength(1);
    expect(types.filter((t) => t === 'remediation.started')).toHaveLength(1);
    expect(types.filter((t) => t === 'remediation.step_started')).toHaveLength(1);
    expect(types.filter((t) => t === 'remediation.validated')).toHaveLength(1);
    expect(successor.logged(/^remediation validated/)).toBe(true);
  }, 420_000);
});
