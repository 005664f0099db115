// The healer killed with SIGKILL in the middle of a playbook: `heph up` runs as a child process on Kafka
// and PostgreSQL, a playbook of three slow steps calls a test agent on loopback, and the process dies
// while step 2 is in flight. After a restart the remediation resumes: step 1 is not repeated, step 2 runs
// again with the same idempotency key (the agent de-duplicates it), step 3 runs once, and there is one
// remediation for the incident.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { freshDatabase } from '@hephaestus/platform/testing';
import { eventually, testPlaneEnv } from './support.ts';

type Call = { path: string; key: string };

/** A control endpoint that records every call with its idempotency key and takes 1.5 s to answer. */
const startSlowAgent = async (onCall: (call: Call) => void) => {
  const calls: Call[] = [];
  const server = createServer((request, response) => {
    const call = { path: request.url!, key: String(request.headers['idempotency-key']) };
    calls.push(call);
    onCall(call);
    request.resume();
    setTimeout(() => response.writeHead(200).end(), 1500);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
};

const startPlane = (env: Record<string, string>) => {
  const lines: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, '../cli/src/main.ts'), 'up'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  child.stderr!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const exited = new Promise((r) => child.once('exit', r));
  return { child, lines, exited };
};

describe('healer killed in the middle of a playbook', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('resumes after SIGKILL without repeating a finished step or starting a second remediation', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const sql = postgres(db.url, { onnotice: () => {} });
    cleanups.push(() => sql.end());
    const dir = await mkdtemp(join(tmpdir(), 'heph-sigkill-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    let plane: ReturnType<typeof startPlane> | undefined;
    let killedAt: Call | undefined;
    const agent = await startSlowAgent((call) => {
      if (call.path === '/step/2' && !killedAt && plane) {
        killedAt = call;
        plane.child.kill('SIGKILL');
      }
    });
    cleanups.push(agent.close);

    const service = `sigkill-${randomBytes(3).toString('hex')}`;
    const step = (n: number) => `  - name: step ${n}\n    action: http\n    params:\n      url: "${agent.url}/step/${n}"\n    timeoutSeconds: 5\n    retries: 0\n`;
    await writeFile(
      join(dir, 'slow.yaml'),
      `id: three-slow-steps\ndescription: three slow steps\ntarget: incident\nmatch:\n  service: "sigkill-*"\n  signal: error_rate\nsteps:\n${step(1)}${step(2)}${step(3)}verify:\n  signal: error_rate\n  windowSeconds: 2\n  max: 0.05\n`,
    );
    const prefix = `sigkill-${randomBytes(4).toString('hex')}`;
    const env = testPlaneEnv(db.url, dir, prefix);

    plane = startPlane(env);
    cleanups.push(async () => {
      plane!.child.kill('SIGKILL');
      await plane!.exited;
    });
    await eventually('the control plane to start', () => plane!.lines.some((l) => l.includes('healer consuming heph.events')) || undefined, 60_000);

    // Healthy traffic after the action, so that verification has something to judge.
    const nowMs = Date.now();
    for (let t = Math.floor(nowMs / 2000) * 2000 - 20_000; t < nowMs + 180_000; t += 2000) {
      await sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch) VALUES (${service}, 2, ${new Date(t)}, 50, 0, ${Buffer.alloc(0)})`;
    }
    const incidentId = randomUUID();
    await handleIncidentCommand(sql, {
      type: 'OpenIncident',
      at: new Date().toISOString(),
      incidentId,
      service,
      signal: 'error_rate',
      severity: 'critical',
      summary: 'error rate 60 % (baseline 1 %)',
      value: 0.6,
      baseline: 0.01,
      windowStart: new Date(nowMs - 10_000).toISOString(),
      controlUrl: `${agent.url}/control`,
    });
    // The healer decides on the settled ranking (the analyzer records it an interval after opening).
    await handleIncidentCommand(sql, { type: 'RankRootCauses', at: new Date().toISOString(), incidentId, candidates: [{ service, confidence: 0.9, evidence: [] }], settled: true });

    await eventually('the healer to be killed during step 2', () => killedAt, 60_000);
    await plane.exited;
    const remediationStream = `remediation-${incidentId}`;
    const before = await sql<{ type: string; data: any }[]>`SELECT type, data FROM events WHERE stream_id = ${remediationStream} ORDER BY version`;
    expect(before.map((e) => `${e.type}${e.data.step !== undefined ? ` ${e.data.step}` : ''}`)).toEqual([
      'remediation.started',
      'remediation.step_started 0',
      'remediation.step_succeeded 0',
      'remediation.step_started 1',
    ]);

    plane = startPlane(env);
    await eventually('the remediation to be validated after the restart', async () => {
      const [row] = await sql<{ status: string }[]>`SELECT status FROM remediations WHERE incident_id = ${incidentId}`;
      return row?.status === 'validated' || undefined;
    }, 90_000);

    // The agent saw step 1 once, step 2 twice with one key (so applied once), step 3 once.
    const byPath = (path: string) => agent.calls.filter((c) => c.path === path).map((c) => c.key);
    const [remediation] = await sql<{ id: string }[]>`SELECT id FROM remediations WHERE incident_id = ${incidentId}`;
    expect(byPath('/step/1')).toEqual([`${remediation!.id}:steps:0`]);
    expect(byPath('/step/2')).toEqual([`${remediation!.id}:steps:1`, `${remediation!.id}:steps:1`]);
    expect(byPath('/step/3')).toEqual([`${remediation!.id}:steps:2`]);

    const after = await sql<{ type: string; data: any }[]>`SELECT type, data FROM events WHERE stream_id = ${remediationStream} ORDER BY version`;
    const succeeded = after.filter((e) => e.type === 'remediation.step_succeeded').map((e) => `${e.data.phase}:${e.data.step}`);
    expect(succeeded).toEqual(['steps:0', 'steps:1', 'steps:2']);
    expect(after.filter((e) => e.type === 'remediation.step_started' && e.data.step === 1).map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(after.filter((e) => e.type === 'remediation.started')).toHaveLength(1);
    expect(after.at(-1)!.type).toBe('remediation.validated');
    const [streams] = await sql<{ n: number }[]>`SELECT count(DISTINCT stream_id)::int AS n FROM events WHERE stream_id LIKE 'remediation-%'`;
    expect(streams!.n).toBe(1);
    expect(plane.lines.some((l) => l.includes('attempt 2: the previous one was interrupted'))).toBe(true);
  }, 240_000);
});
