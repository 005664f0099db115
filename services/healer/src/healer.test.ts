// The healer end to end on its own: incident events recorded in the real event store (through the
// analyzer's incident store), published to heph.events on the Postgres-backed log, and a loopback agent
// that records control calls (or holds them open). The healer decides on the settled ranking alone.
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createPgLog, openDatabase, startEventPublisher, type Sql } from '@hephaestus/platform';
import { eventually as waitFor, freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { playbook, type Playbook, type StoredEvent } from '@hephaestus/schemas';
import { decideRemediation, handleIncidentCommand, remediationStreamId } from '@hephaestus/aggregates';
import { startHealer, type HealerOptions } from './healer.ts';

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000) => waitFor(what, probe, timeoutMs);

const book = (id: string, fields: Record<string, unknown>): Playbook =>
  playbook.parse({ id, description: id, verify: { signal: 'error_rate', windowSeconds: 2, max: 0.05 }, steps: [{ name: 'restart', action: 'agent.restart', retries: 0, timeoutSeconds: 60 }], ...fields });

/** The default playbooks' shapes, acting on the test agent. */
const revert = book('revert', { match: { signal: 'error_rate', errorSignature: '*Cannot read properties*' }, steps: [{ name: 'roll back', action: 'agent.rollback' }] });
const capSpend = book('cap-spend', { target: 'incident', match: { signal: 'gen_ai.cost_per_success_usd', direction: 'above' }, steps: [{ name: 'cache on', action: 'agent.set_config', params: { cache: true } }] });
const restart = book('restart', { match: { signal: 'error_rate' } });
const shed = book('shed', { target: 'incident', match: { signal: 'gen_ai.client.operation.duration', direction: 'above' }, steps: [{ name: 'shed', action: 'agent.set_config', params: { concurrency: 8 } }] });
const beforeOom = book('before-oom', { target: 'incident', match: { signal: 'failure.predicted' } });

/** A control endpoint on loopback: records every call, answers 202, except under /hang/, which it holds open. */
const startAgent = async () => {
  const calls: string[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((request, response) => {
    calls.push(request.url!);
    request.resume();
    if (request.url!.startsWith('/hang/')) held.push(response);
    else response.writeHead(202).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url,
    calls,
    release: () => {
      for (const response of held.splice(0)) response.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
};

type Harness = Awaited<ReturnType<typeof startHarness>>;

/** A fresh database, the log, the publisher, the agent; the healer starts when the test says. */
const startHarness = async () => {
  const fresh = await freshDatabase();
  const database = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  const sql: Sql = database.sql;
  const log = createPgLog(sql, testLogger(), { pollMs: 50 });
  await log.ensureTopics();
  const publisher = startEventPublisher(database, log, testLogger());
  const agent = await startAgent();
  const lines: Array<{ msg: string; [field: string]: unknown }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  let healer: Awaited<ReturnType<typeof startHealer>> | undefined;
  const at = () => new Date().toISOString();
  const nowMs = Date.now();

  /**
   * Healthy calls for a service around now, with its control URL (under /hang/ for a hanging agent);
   * `untilMs`: none from then on (as an analyzer behind has not stored them yet).
   */
  const traffic = async (service: string, options: { hang?: boolean; fromMs?: number; untilMs?: number } = {}) => {
    const controlUrl = `${agent.url}${options.hang ? '/hang' : ''}/${service}/control`;
    for (let t = Math.floor((options.fromMs ?? nowMs - 60_000) / 2000) * 2000; t < (options.untilMs ?? nowMs + 120_000); t += 2000) {
      await sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, control_url)
                VALUES (${service}, 2, ${new Date(t)}, 100, 0, ${Buffer.alloc(0)}, ${controlUrl}) ON CONFLICT DO NOTHING`;
    }
  };
  const open = async (service: string, signal: string, value: number, baseline: number) => {
    const incidentId = randomUUID();
    await handleIncidentCommand(sql, {
      type: 'OpenIncident', at: at(), incidentId, service, signal, severity: 'critical', summary: `${signal} ${value} (usual ${baseline})`, value, baseline,
      windowStart: new Date(Date.now() - 4000).toISOString(), controlUrl: `${agent.url}/${service}/control`,
    });
    return incidentId;
  };
  const attach = (incidentId: string, service: string, signal: string, value: number, extra: { baseline?: number; signature?: string; direction?: 'above' | 'below' } = {}) =>
    handleIncidentCommand(sql, { type: 'AttachSignal', at: at(), incidentId, service, signal, summary: `${signal} on ${service}`, value, onsetAt: at(), ...extra });
  const rank = async (incidentId: string, ranking: Array<[string, number]>, settled = true) =>
    (await handleIncidentCommand(sql, { type: 'RankRootCauses', at: at(), incidentId, settled, candidates: ranking.map(([service, confidence]) => ({ service, confidence, evidence: [] })) }))[0]!;

  return {
    sql,
    database,
    agent,
    lines,
    traffic,
    open,
    attach,
    rank,
    start: async (playbooks: Playbook[], extra: Partial<HealerOptions> = {}) => {
      healer = await startHealer({
        sql, log, logger, registry: new Registry(), playbooks, allowedHosts: ['127.0.0.1'], resolutionSeconds: 2, graceSeconds: 1,
        consumerGroupPrefix: `healer-test-${randomUUID()}`, pollMs: 100, healerId: 'healer-test', leaseSeconds: 15, ...extra,
      });
    },
    remediation: (incidentId: string) => sql<StoredEvent[]>`SELECT type, data, position FROM events WHERE stream_id = ${remediationStreamId(incidentId)} ORDER BY version`,
    /** The remediation stream once it holds an event of this type. */
    until: (incidentId: string, type: string) =>
      eventually(`${type} on the remediation of ${incidentId}`, async () => {
        const events = await sql<Array<{ type: string; data: any; position: string }>>`SELECT type, data, position FROM events WHERE stream_id = ${remediationStreamId(incidentId)} ORDER BY version`;
        return events.some((e) => e.type === type) ? events : undefined;
      }),
    logged: (text: string) => eventually(`the log line "${text}"`, async () => lines.find((l) => l.msg.includes(text))),
    stop: async () => {
      const stopping = healer?.stop();
      agent.release();
      await stopping;
      await publisher.stop();
      await log.close();
      await agent.close();
      await database.close();
      await fresh.drop();
    },
  };
};

describe('the healer decides on the settled ranking', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });

  it('acts only once the ranking is settled, on the ranked root cause, and says why', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    await h.start([restart]);
    const incidentId = await h.open('planner', 'error_rate', 0.4, 0.01);
    await h.rank(incidentId, [['planner', 0.6]], false);
    await h.attach(incidentId, 'coder', 'error_rate', 0.6, { baseline: 0.01 });
    const settled = await h.rank(incidentId, [['coder', 0.82], ['planner', 0.3]]);
    const events = await h.until(incidentId, 'remediation.step_succeeded');
    const started = events.find((e) => e.type === 'remediation.started')!;
    expect(BigInt(started.position)).toBeGreaterThan(settled.position);
    expect(started.data).toMatchObject({ playbookId: 'restart', service: 'coder', targetReason: 'root cause coder ranked first (0.82); restart: error_rate above on coder, catch-all, the only playbook that fits' });
    expect(h.agent.calls).toEqual(['/coder/control/restart']);
  });

  it('decides on the evidence up to the settled ranking, not on what was recorded after it', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    const incidentId = await h.open('planner', 'error_rate', 0.4, 0.01);
    await h.attach(incidentId, 'coder', 'error_rate', 0.6, { baseline: 0.01 });
    await h.rank(incidentId, [['coder', 0.82]]);
    await h.attach(incidentId, 'coder', 'error_signature.new', 30, { signature: 'TypeError: Cannot read properties of undefined <*>' });
    // The healer starts behind: the late signature is already in the store when it decides.
    await h.start([revert, restart]);
    const events = await h.until(incidentId, 'remediation.started');
    expect(events[0]!.data).toMatchObject({ playbookId: 'restart', service: 'coder' });
  });

  it('acts when the ranked root cause\'s own signal crosses its line after the settled ranking named it', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    await h.start([restart]);
    const incidentId = await h.open('researcher', 'error_rate', 0.4, 0.01);
    // The traces already point at coder, whose own error rate is not in the incident yet: nothing fits.
    await h.rank(incidentId, [['coder', 0.6], ['researcher', 0.3]]);
    await h.logged('no playbook fits incident on researcher');
    expect(await h.remediation(incidentId)).toEqual([]);
    await h.attach(incidentId, 'coder', 'error_rate', 0.3, { baseline: 0.01 });
    const events = await h.until(incidentId, 'remediation.step_succeeded');
    expect(events[0]!.data).toMatchObject({ playbookId: 'restart', service: 'coder' });
    expect(h.agent.calls).toEqual(['/coder/control/restart']);
  });

  it('reverts a bad deploy though its error signature came after the error rates, rather than capping spend or restarting', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    await h.start([restart, capSpend, revert]);
    const incidentId = await h.open('researcher', 'error_rate', 0.4, 0.01);
    await h.attach(incidentId, 'researcher', 'gen_ai.cost_per_success_usd', 0.002, { baseline: 0.0001 });
    await h.attach(incidentId, 'coder', 'error_rate', 0.6, { baseline: 0.01 });
    await h.attach(incidentId, 'coder', 'error_signature.new', 40, { signature: "TypeError: Cannot read properties of undefined (reading 'plan')" });
    await h.rank(incidentId, [['coder', 0.82], ['researcher', 0.4]]);
    const events = await h.until(incidentId, 'remediation.step_succeeded');
    expect(events[0]!.data).toMatchObject({
      playbookId: 'revert',
      service: 'coder',
      targetReason:
        'root cause coder ranked first (0.82); revert: error signature "*Cannot read properties*" seen on coder beats ' +
        'cap-spend (gen_ai.cost_per_success_usd above on researcher, specific (direction above)), restart (error_rate above on coder, catch-all)',
    });
    expect(h.agent.calls).toEqual(['/coder/control/rollback']);
  });

  it('does not act on an agent whose own signals are not in the incident, and says why', async () => {
    const h = (harness = await startHarness());
    await h.start([shed, beforeOom]);
    // The callers' latency pages; coder's own LLM calls are slower, but coder is neither the incident nor its target.
    const slow = await h.open('planner', 'latency_p99', 2400, 800);
    await h.attach(slow, 'coder', 'gen_ai.client.operation.duration', 900, { baseline: 300, direction: 'above' });
    await h.rank(slow, [['planner', 0.7]]);
    // researcher's memory prediction joined planner's error burst: restarting planner would not help researcher.
    const burst = await h.open('planner', 'error_rate', 0.3, 0.01);
    await h.attach(burst, 'researcher', 'failure.predicted', 900 * 2 ** 20, { baseline: 2 ** 30 });
    await h.rank(burst, [['planner', 0.7]]);
    const lines = await eventually('both decisions', async () => {
      const found = h.lines.filter((l) => l.msg.startsWith('no playbook fits'));
      return found.length === 2 ? found : undefined;
    });
    expect(lines.map((l) => [l.incidentId, l.msg])).toEqual([
      [slow, 'no playbook fits incident on planner: shed needs gen_ai.client.operation.duration above on planner, which planner does not show'],
      [burst, 'no playbook fits incident on planner: before-oom needs failure.predicted above on planner, which planner does not show'],
    ]);
    expect(await h.sql`SELECT id FROM remediations`).toEqual([]);
    expect(h.agent.calls).toEqual([]);
  });

  it('refuses a second remediation of a service that has one unfinished, and records why', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    const approved = book('restart', { match: { signal: 'error_rate' }, approval: { required: true }, guard: { concurrency: 5 } });
    await h.start([approved]);
    const first = await h.open('planner', 'error_rate', 0.4, 0.01);
    await h.attach(first, 'coder', 'error_rate', 0.5, { baseline: 0.01 });
    await h.rank(first, [['coder', 0.8]]);
    const waiting = await h.until(first, 'remediation.awaiting_approval');
    const second = await h.open('reviewer', 'error_rate', 0.4, 0.01);
    await h.attach(second, 'coder', 'error_rate', 0.5, { baseline: 0.01 });
    await h.rank(second, [['coder', 0.8]]);
    const refused = await h.until(second, 'remediation.refused');
    expect(refused[0]!.data).toMatchObject({
      service: 'coder',
      reason: `one remediation at a time per service: coder is still under remediation ${waiting[0]!.data.remediationId} (restart, awaiting approval)`,
    });
  });

  it('goes on as soon as the approval commits: the append wakes it, it does not look again by the clock', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder');
    // Looks by the clock once an hour: only the announced append can make it go on before the test's timeout.
    await h.start([book('restart', { match: { signal: 'error_rate' }, approval: { required: true } })], { database: h.database, pollMs: 3_600_000, safetyMs: 3_600_000 });
    const incident = await h.open('planner', 'error_rate', 0.4, 0.01);
    await h.attach(incident, 'coder', 'error_rate', 0.5, { baseline: 0.01 });
    await h.rank(incident, [['coder', 0.8]]);
    await h.until(incident, 'remediation.awaiting_approval');
    await h.sql.begin((tx) => decideRemediation(tx, incident, { type: 'ApproveRemediation', by: 'ana' }, new Date()));
    const events = await h.until(incident, 'remediation.step_succeeded');
    expect(events.map((e) => e.type).slice(0, 5)).toEqual(['remediation.started', 'remediation.awaiting_approval', 'remediation.approved', 'remediation.step_started', 'remediation.step_succeeded']);
  });

  it('decides on a second incident while the first one’s agent hangs', async () => {
    const h = (harness = await startHarness());
    await h.traffic('stuck', { hang: true });
    await h.traffic('coder');
    await h.start([book('restart', { match: { signal: 'error_rate' }, guard: { concurrency: 5 } })]);
    const first = await h.open('planner', 'error_rate', 0.4, 0.01);
    await h.attach(first, 'stuck', 'error_rate', 0.5, { baseline: 0.01 });
    await h.rank(first, [['stuck', 0.8]]);
    await h.until(first, 'remediation.step_started');
    await eventually('the hanging call', async () => (h.agent.calls.includes('/hang/stuck/control/restart') ? true : undefined));
    const second = await h.open('reviewer', 'error_rate', 0.4, 0.01);
    await h.attach(second, 'coder', 'error_rate', 0.5, { baseline: 0.01 });
    await h.rank(second, [['coder', 0.8]]);
    await h.until(second, 'remediation.step_succeeded');
    // The first one's step is still in flight: nothing waited for it.
    expect((await h.remediation(first)).map((e) => e.type)).toEqual(['remediation.started', 'remediation.step_started']);
  });

  it('judges the verification window only once the signal’s data has moved past it, as an analyzer behind stores it late', async () => {
    const h = (harness = await startHarness());
    // Stored up to now: the intervals after the action are not there yet.
    await h.traffic('coder', { untilMs: Date.now() });
    await h.start([restart]);
    const incidentId = await h.open('coder', 'error_rate', 0.4, 0.01);
    await h.rank(incidentId, [['coder', 0.9]]);
    const waiting = await h.logged('verification waits for error_rate of coder to move past its window');
    expect(waiting).toMatchObject({ incidentId, service: 'coder' });
    expect((await h.remediation(incidentId)).map((e) => e.type)).not.toContain('remediation.failed');
    // The analyzer catches up: the window and the interval after it arrive, healthy.
    await h.traffic('coder', { fromMs: Date.now() - 10_000, untilMs: Date.now() + 10_000 });
    const events = await h.until(incidentId, 'remediation.validated');
    expect(events.find((e) => e.type === 'remediation.validated')!.data.detail).toMatch(/^error_rate 0\.0 % over \d+ intervals/);
  });

  it('judges an agent that sends nothing after its action four intervals after the window, and says there was no data', async () => {
    const h = (harness = await startHarness());
    await h.traffic('coder', { untilMs: Date.now() });
    await h.start([restart]);
    const incidentId = await h.open('coder', 'error_rate', 0.4, 0.01);
    await h.rank(incidentId, [['coder', 0.9]]);
    const events = await h.until(incidentId, 'remediation.failed');
    expect(events.find((e) => e.type === 'remediation.failed')!.data).toMatchObject({ reason: 'verification failed: no error_rate data in the 2 s after the action to verify with', verificationFailed: true });
    // It waited for the data first.
    expect(h.lines.some((l) => l.incidentId === incidentId && l.msg.startsWith('verification waits for error_rate of coder'))).toBe(true);
  });
});
