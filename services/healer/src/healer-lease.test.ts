// Several healers on one database share the remediations through leases in PostgreSQL. A healer in a
// child process is killed with SIGKILL while a step of its remediation is in flight: another healer takes
// the remediation over once the lease expires and resumes it from the recorded steps. Two live healers
// that both see every incident never drive one remediation at once. With the deciding lock one healer
// follows heph.events at a time and a standby takes that over the moment it dies. The agent is a
// loopback HTTP server that counts calls per idempotency key and holds the calls the test says.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createPgLog, openDatabase, startEventPublisher } from '@hephaestus/platform';
import { eventually, freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { playbook, type Playbook } from '@hephaestus/schemas';
import { handleIncidentCommand, remediationStreamId } from '@hephaestus/aggregates';
import { startHealer } from './healer.ts';

const leaseSeconds = 2;


type Call = { path: string; key: string };

/** A control endpoint on loopback: records each call with its idempotency key; holds those `hold` picks until released. */
const startAgent = async () => {
  const calls: Call[] = [];
  const held: ServerResponse[] = [];
  let hold: (call: Call) => boolean = () => false;
  const server = createServer((request, response) => {
    const call = { path: request.url!, key: String(request.headers['idempotency-key']) };
    calls.push(call);
    request.resume();
    if (hold(call)) held.push(response);
    else response.writeHead(200).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    calls,
    holdWhen: (pick: (call: Call) => boolean) => {
      hold = pick;
    },
    /** Answers the held calls now. */
    release: () => {
      hold = () => false;
      for (const response of held.splice(0)) response.writeHead(200).end();
    },
    keysOf: (path: string) => calls.filter((c) => c.path === path).map((c) => c.key),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
};

/** Three http steps on the agent, then a short verification of the incident's error rate. */
const threeSteps = (agentUrl: string): Playbook =>
  playbook.parse({
    id: 'three-steps',
    description: 'three steps',
    target: 'incident',
    match: { signal: 'error_rate' },
    guard: { concurrency: 5 },
    steps: [1, 2, 3].map((n) => ({ name: `step ${n}`, action: 'http', params: { url: `${agentUrl}/{{incident.service}}/step/${n}` }, timeoutSeconds: 60, retries: 0 })),
    verify: { signal: 'error_rate', windowSeconds: 2, max: 0.05 },
  });

/** `group`: a consumer group prefix the healers share; by default a group per healer, so each sees every incident (as after a rebalance) and only the lease keeps them apart. */
const healerOptions = (playbooks: Playbook[], healerId: string, group?: string) => ({
  playbooks, allowedHosts: ['127.0.0.1'], resolutionSeconds: 2, graceSeconds: 1, pollMs: 100, healerId, leaseSeconds,
  consumerGroupPrefix: group ?? `lease-test-${healerId}-${randomUUID()}`,
});

/** Healers that take the deciding turn in turn, in one consumer group. */
type Deciding = { group: string };

type Line = { msg: string; level: number; incidentId?: string };

const startHarness = async () => {
  const fresh = await freshDatabase();
  const database = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  const { sql } = database;
  const log = createPgLog(sql, testLogger(), { pollMs: 50 });
  await log.ensureTopics();
  const publisher = startEventPublisher(database, log, testLogger());
  const agent = await startAgent();
  const playbooks = [threeSteps(agent.url)];
  const stops: Array<() => Promise<unknown>> = [];

  /** A healer in this process, logging at debug level into `lines`. */
  const healer = async (healerId: string, deciding?: Deciding) => {
    const lines: Line[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const healerLog = createPgLog(sql, testLogger(), { pollMs: 50 });
    const started = await startHealer({
      sql, log: healerLog, logger, registry: new Registry(), ...healerOptions(playbooks, healerId, deciding?.group),
      ...(deciding ? { decidingLock: { database: { kind: 'postgresql' as const, url: fresh.url }, onLost: () => {} } } : {}),
    });
    stops.push(async () => {
      await started.stop();
      await healerLog.close();
    });
    return { lines, stop: started.stop };
  };

  /** A healer in a child process of its own, on its own connections, to be killed with SIGKILL. */
  const childHealer = async (healerId: string, deciding?: Deciding) => {
    const lock = deciding ? `decidingLock: { database: { kind: 'postgresql', url: ${JSON.stringify(fresh.url)} }, onLost: () => process.exit(1) },` : '';
    const script = `
      import { Registry } from 'prom-client';
      import { createLogger, createPgLog, openDatabase } from ${JSON.stringify(join(import.meta.dirname, '../../../platform/src/index.ts'))};
      import { startHealer } from ${JSON.stringify(join(import.meta.dirname, 'healer.ts'))};
      const logger = createLogger({ level: 'info' });
      const database = await openDatabase({ url: ${JSON.stringify(fresh.url)}, dataDir: '', log: logger });
      const log = createPgLog(database.sql, logger, { pollMs: 50 });
      await startHealer({ sql: database.sql, log, logger, registry: new Registry(), ${lock} ...${JSON.stringify(healerOptions(playbooks, healerId, deciding?.group))} });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    const lines: Line[] = [];
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      const whole = (partial + text).split('\n');
      partial = whole.pop()!;
      lines.push(...whole.filter(Boolean).map((l) => JSON.parse(l) as Line));
    });
    stops.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await eventually(`healer ${healerId} to start`, () => lines.find((l) => l.msg === 'healer consuming heph.events'));
    return { lines, kill: async () => (child.kill('SIGKILL'), await exited) };
  };

  /** Healthy calls on `service` around now, so that verification has something to judge. */
  const traffic = async (service: string) => {
    const nowMs = Date.now();
    for (let t = Math.floor(nowMs / 2000) * 2000 - 60_000; t < nowMs + 120_000; t += 2000) {
      await sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch) VALUES (${service}, 2, ${new Date(t)}, 100, 0, ${Buffer.alloc(0)})`;
    }
  };

  /** An incident on `service` whose settled ranking names it: the playbook fits. */
  const incident = async (service: string) => {
    const incidentId = randomUUID();
    const at = () => new Date().toISOString();
    await handleIncidentCommand(sql, {
      type: 'OpenIncident', at: at(), incidentId, service, signal: 'error_rate', severity: 'critical', summary: 'error rate 40 % (usual 1 %)',
      value: 0.4, baseline: 0.01, windowStart: new Date(Date.now() - 4000).toISOString(), controlUrl: `${agent.url}/${service}/control`,
    });
    await handleIncidentCommand(sql, { type: 'RankRootCauses', at: at(), incidentId, settled: true, candidates: [{ service, confidence: 0.9, evidence: [] }] });
    return incidentId;
  };

  const stream = (incidentId: string) =>
    sql<Array<{ type: string; data: any; occurred_at: Date }>>`SELECT type, data, occurred_at FROM events WHERE stream_id = ${remediationStreamId(incidentId)} ORDER BY version`;
  const lease = async (incidentId: string) =>
    (await sql<Array<{ owner: string; expires_at: Date; fence: string }>>`SELECT owner, expires_at, fence FROM remediation_leases WHERE incident_id = ${incidentId}`)[0];
  const validated = (incidentId: string) =>
    eventually(`the remediation of ${incidentId} to be validated`, async () => {
      const [row] = await sql<{ id: string; status: string }[]>`SELECT id, status FROM remediations WHERE incident_id = ${incidentId}`;
      return row?.status === 'validated' ? row.id : undefined;
    });

  return {
    sql, agent, healer, childHealer, traffic, incident, stream, lease, validated,
    stop: async () => {
      agent.release();
      for (const stop of stops.reverse()) await stop();
      await publisher.stop();
      await log.close();
      await agent.close();
      await database.close();
      await fresh.drop();
    },
  };
};

describe('healers sharing remediations through leases', () => {
  let harness: Awaited<ReturnType<typeof startHarness>> | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });

  it('takes over a killed healer’s remediation once its lease expires, rerunning the interrupted step with its key and no finished one', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    h.agent.holdWhen((call) => call.path === '/coder/step/2');
    const a = await h.childHealer('healer-a');
    const incidentId = await h.incident('coder');
    await eventually('healer-a in step 2', () => (h.agent.keysOf('/coder/step/2').length === 1 ? true : undefined));

    // B starts while A holds the lease and renews it: B leaves the remediation alone.
    const b = await h.healer('healer-b');
    await eventually('healer-b to find the remediation held', () => b.lines.find((l) => l.incidentId === incidentId && l.msg.includes('is driven by healer healer-a')));
    expect((await h.lease(incidentId))?.owner).toBe('healer-a');

    await a.kill();
    h.agent.release();
    const left = (await h.lease(incidentId))!;
    expect(left.owner).toBe('healer-a');

    const remediationId = await h.validated(incidentId);
    // Step 1 ran once, step 2 twice with one key (attempt 2 after the takeover), step 3 once.
    expect(h.agent.keysOf('/coder/step/1')).toEqual([`${remediationId}:steps:0`]);
    expect(h.agent.keysOf('/coder/step/2')).toEqual([`${remediationId}:steps:1`, `${remediationId}:steps:1`]);
    expect(h.agent.keysOf('/coder/step/3')).toEqual([`${remediationId}:steps:2`]);
    const events = await h.stream(incidentId);
    expect(events.filter((e) => e.type === 'remediation.step_started').map((e) => `${e.data.step}:${e.data.attempt}`)).toEqual(['0:1', '1:1', '1:2', '2:1']);
    expect(events.filter((e) => e.type === 'remediation.step_succeeded').map((e) => e.data.step)).toEqual([0, 1, 2]);
    expect(events.filter((e) => e.type === 'remediation.validated')).toHaveLength(1);
    expect(events.at(-1)!.type).toBe('remediation.validated');
    // B acted only after A's lease expired, said from whom it took the remediation, and gave the lease up once it was final.
    const rerun = events.find((e) => e.type === 'remediation.step_started' && e.data.attempt === 2)!;
    expect(rerun.occurred_at.getTime()).toBeGreaterThanOrEqual(left.expires_at.getTime());
    expect(b.lines.map((l) => l.msg)).toContain(`took over remediation ${remediationId} from healer healer-a (lease expired at ${left.expires_at.toISOString()})`);
    expect(a.lines.filter((l) => l.msg.startsWith('step started')).map((l) => l.msg)).toEqual(['step started: step 1 on coder', 'step started: step 2 on coder']);
    await eventually(`the lease of ${incidentId} to be released`, async () => ((await h.lease(incidentId)) === undefined ? true : undefined));
  });

  it('lets one of two live healers drive each remediation, the other leaving it alone, for longer than a lease lasts', async () => {
    const h = (harness = await startHarness());
    const services = ['planner', 'researcher', 'coder'];
    for (const service of services) await h.traffic(service);
    h.agent.holdWhen((call) => call.path.endsWith('/step/1'));
    const healers = { 'healer-a': await h.healer('healer-a'), 'healer-b': await h.healer('healer-b') };
    const incidents = await Promise.all(services.map((s) => h.incident(s)));

    for (const incidentId of incidents) {
      // One healer drives it (its step 1 is held at the agent); the other tried and found it held.
      const first = await eventually(`the lease of ${incidentId}`, () => h.lease(incidentId));
      const other = first.owner === 'healer-a' ? 'healer-b' : 'healer-a';
      await eventually(`${other} to find ${incidentId} held`, () =>
        healers[other].lines.find((l) => l.incidentId === incidentId && l.msg.includes(`is driven by healer ${first.owner}`)),
      );
      // Held past the lease's first expiry: kept by renewals while the other healer looks for expired ones.
      await eventually(`the lease of ${incidentId} to be renewed past its first expiry`, async () => {
        const now = await h.lease(incidentId);
        return now && now.expires_at.getTime() > first.expires_at.getTime() + leaseSeconds * 1000 ? now : undefined;
      });
      expect((await h.lease(incidentId))).toMatchObject({ owner: first.owner, fence: first.fence });
    }
    h.agent.release();

    for (const incidentId of incidents) {
      const remediationId = await h.validated(incidentId);
      const service = services[incidents.indexOf(incidentId)]!;
      for (const step of [1, 2, 3]) expect(h.agent.keysOf(`/${service}/step/${step}`)).toEqual([`${remediationId}:steps:${step - 1}`]);
      const started = (await h.stream(incidentId)).filter((e) => e.type === 'remediation.step_started');
      expect(started.map((e) => e.data.attempt)).toEqual([1, 1, 1]);
      // Every step of it was narrated by one healer only.
      const narrators = Object.entries(healers).filter(([, x]) => x.lines.some((l) => l.incidentId === incidentId && l.msg.startsWith('step started'))).map(([id]) => id);
      expect(narrators).toHaveLength(1);
      // Given up once the remediation is final (just after its last event is recorded).
      await eventually(`the lease of ${incidentId} to be released`, async () => ((await h.lease(incidentId)) === undefined ? true : undefined));
    }
    for (const x of Object.values(healers)) expect(x.lines.filter((l) => l.msg.startsWith('took over'))).toEqual([]);
  });

  it('lets one healer decide at a time: a standby takes the deciding turn the moment the deciding one is killed, and decides the next incident', async () => {
    const h = (harness = await startHarness());
    const deciding = { group: `deciding-${randomUUID()}` };
    await h.traffic('coder');
    await h.traffic('planner');
    const a = await h.childHealer('healer-a', deciding);
    const b = await h.healer('healer-b', deciding);
    await eventually('healer-b to stand by', () => b.lines.find((l) => l.msg.startsWith('deciding healer standing by')));
    // A decides the first incident; B, standing by, does not follow heph.events at all.
    const first = await h.incident('coder');
    await h.validated(first);
    expect(a.lines.some((l) => l.incidentId === first)).toBe(true);
    expect(b.lines.some((l) => l.msg === 'healer consuming heph.events')).toBe(false);

    await a.kill();
    const killedAt = Date.now();
    await eventually('healer-b to take the deciding turn', () => b.lines.find((l) => l.msg === 'healer consuming heph.events'), 30_000);
    console.log(`deciding healer SIGKILL: the standby followed heph.events ${Date.now() - killedAt} ms after the kill`);
    const second = await h.incident('planner');
    await h.validated(second);
    const started = (await h.stream(second)).filter((e) => e.type === 'remediation.started');
    expect(started).toHaveLength(1);
    expect(b.lines.some((l) => l.incidentId === second)).toBe(true);
    // The first incident keeps its one remediation.
    expect((await h.stream(first)).filter((e) => e.type === 'remediation.started')).toHaveLength(1);
  });
});
