// The alert dispatcher on real PostgreSQL with real HTTP receivers on loopback: routing, resolve and
// acknowledge notices, a dead receiver beside a live one, the circuit breaker, restarts, silences;
// and the routing file's errors naming their line.
import { createHmac, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendToStream, openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { resolveRouting, routingFile, type Routing } from '@hephaestus/schemas';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { loadRouting, parseRouting, startAlertDispatcher, type AlertDispatcherOptions } from './alert-dispatcher.ts';
import { refusingUrl, startLoopbackReceiver } from './receivers/testing.ts';

const until = async <T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
};

const routingOf = (file: unknown): Routing => resolveRouting(routingFile.parse(file));

describe('alert dispatcher', () => {
  let db: Database;
  let drop: () => Promise<void>;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await db.close();
    await drop();
  });

  const receiver = async (...args: Parameters<typeof startLoopbackReceiver>) => {
    const r = await startLoopbackReceiver(...args);
    cleanups.push(r.close);
    return r;
  };
  const start = (routing: Routing, more: Partial<AlertDispatcherOptions> = {}) => {
    const dispatcher = startAlertDispatcher({ sql: db.sql, logger: testLogger(), routing, consoleUrl: 'http://console.test', pollMs: 50, ...more });
    cleanups.push(dispatcher.stop);
    return dispatcher;
  };

  const at = () => new Date().toISOString();
  const open = (incidentId: string, labels: Record<string, string>) =>
    handleIncidentCommand(db.sql, {
      type: 'OpenIncident',
      at: at(),
      incidentId,
      service: labels.service!,
      signal: 'error_rate',
      severity: (labels.severity ?? 'critical') as 'critical',
      summary: `${labels.service} error rate 40%`,
      value: 0.4,
      baseline: 0.01,
      windowStart: new Date(Date.now() - 10_000).toISOString(),
      labels: { alertname: 'ErrorRateHigh', signal: 'error_rate', severity: 'critical', ...labels },
      reason: 'symptom users feel, confirmed by its detector',
      explanation: { detector: 'binomial error-rate test', baseline: 0.01, threshold: 0.11, windowSeconds: 10 },
    });
  const resolve = (incidentId: string, service: string) =>
    handleIncidentCommand(db.sql, { type: 'ResolveIncident', at: at(), incidentId, service, signal: 'error_rate', reason: 'quiet', value: 0 });
  const acknowledge = (incidentId: string) => handleIncidentCommand(db.sql, { type: 'AcknowledgeIncident', at: at(), incidentId, by: 'alice' });

  const fast = { group_wait: '0s', group_interval: '100ms', repeat_interval: '1h' };

  it('pages a remediation escalation once through the routes of its incident, also after a restart', async () => {
    const [hook, other] = [await receiver(), await receiver()];
    const routing = routingOf({
      receivers: [
        { name: 'oncall', webhook: { url: `${hook.url}/alerts` } },
        { name: 'elsewhere', webhook: { url: `${other.url}/alerts` } },
      ],
      route: { receiver: 'elsewhere', group_by: ['service'], ...fast, routes: [{ matchers: ['team="agents"'], receiver: 'oncall' }] },
    });
    const first = start(routing);
    await open('planner-1', { service: 'planner', team: 'agents' });
    await until('the firing alert', () => hook.calls[0]);
    await db.sql.begin((tx) =>
      appendToStream(tx, 'remediation-planner-1', 'any', [
        { id: randomUUID(), type: 'remediation.escalated', data: { remediationId: 'rem-1', incidentId: 'planner-1', service: 'planner', reason: 'verification failed: error rate 40 %; rolled back' }, occurredAt: new Date(), metadata: {} },
      ]),
    );
    const page = await until('the escalation page', () => hook.calls[1]);
    expect(page.body).toMatchObject({ status: 'firing', incident: { id: 'planner-1', service: 'planner', summary: 'escalated: verification failed: error rate 40 %; rolled back' } });
    await first.stop();
    start(routing);
    await sleep(500);
    expect(hook.calls).toHaveLength(2);
    expect(other.calls).toHaveLength(0);
    const [sent] = await db.sql<{ data: Record<string, unknown> }[]>`SELECT data FROM events WHERE type = 'alert.sent' AND data->>'groupKey' = 'escalation:rem-1'`;
    expect(sent!.data).toMatchObject({ incidentId: 'planner-1', receiver: 'oncall', notice: 'firing' });
  });

  it('sends firing, acknowledge and resolve notices to the receivers the routes choose, each recorded as alert.sent', async () => {
    const [hook, slack, pagerduty] = [await receiver(), await receiver(), await receiver(() => 202)];
    const routing = routingOf({
      receivers: [
        { name: 'payments-hook', webhook: { url: `${hook.url}/alerts`, secretEnv: 'HOOK_KEY' } },
        { name: 'chat', slack: { url: `${slack.url}/slack` } },
        { name: 'pager', pagerduty: { routingKeyEnv: 'PD_KEY', url: `${pagerduty.url}/v2/enqueue` } },
      ],
      route: {
        receiver: 'chat',
        group_by: ['service'],
        ...fast,
        routes: [
          { matchers: ['severity="critical"'], receiver: 'pager', continue: true },
          { matchers: ['team="payments"'], receiver: 'payments-hook' },
        ],
      },
    });
    start(routing, { env: { HOOK_KEY: 'k3y', PD_KEY: 'pd-routing-key' } });
    await open('checkout-1', { service: 'checkout', team: 'payments', severity: 'critical' });
    await open('search-1', { service: 'search', team: 'search', severity: 'warning' });

    const firing = await until('the payments webhook', () => hook.calls[0]);
    expect(firing.body).toMatchObject({ version: '4', status: 'firing', receiver: 'payments-hook', incident: { id: 'checkout-1', service: 'checkout' } });
    expect(firing.headers['x-heph-signature-256']).toBe(`sha256=${createHmac('sha256', 'k3y').update(`${firing.headers['x-heph-timestamp']}.${firing.raw}`).digest('hex')}`);
    await until('the Slack message', () => slack.calls[0]);
    expect(slack.calls[0]!.body.text).toContain('[FIRING:1] search error_rate');
    const trigger = await until('the PagerDuty trigger', () => pagerduty.calls[0]);
    expect(trigger.body).toMatchObject({ routing_key: 'pd-routing-key', event_action: 'trigger', payload: { source: 'checkout', severity: 'critical' } });

    await acknowledge('checkout-1');
    const ack = await until('the PagerDuty acknowledge', () => pagerduty.calls[1]);
    expect(ack.body).toEqual({ routing_key: 'pd-routing-key', event_action: 'acknowledge', dedup_key: trigger.body.dedup_key });

    await resolve('checkout-1', 'checkout');
    await resolve('search-1', 'search');
    await until('every resolve notice', () => hook.calls.length === 2 && slack.calls.length === 2 && pagerduty.calls.length === 3);
    expect(hook.calls[1]!.body).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved' }], incident: { id: 'checkout-1', status: 'resolved' } });
    expect(slack.calls[1]!.body.text).toContain('[RESOLVED:1] search error_rate');
    expect(pagerduty.calls[2]!.body).toEqual({ routing_key: 'pd-routing-key', event_action: 'resolve', dedup_key: trigger.body.dedup_key });

    const sent = await until('every alert.sent', async () => {
      const rows = await db.sql<{ stream_id: string; data: Record<string, unknown> }[]>`SELECT stream_id, data FROM events WHERE type = 'alert.sent' ORDER BY position`;
      return rows.length === 7 ? rows : undefined;
    });
    expect(sent.filter((r) => r.stream_id === 'alert-checkout-1').map((r) => `${r.data.receiver}/${r.data.kind} ${r.data.notice}`).sort()).toEqual([
      'pager/pagerduty acknowledged',
      'pager/pagerduty firing',
      'pager/pagerduty resolved',
      'payments-hook/webhook firing',
      'payments-hook/webhook resolved',
    ]);
    expect(sent.find((r) => r.stream_id === 'alert-search-1')!.data).toMatchObject({ receiver: 'chat', kind: 'slack', groupKey: '{}:{service="search"}', status: 200, attempts: 1 });
    // Every request of a notification carries its own idempotency key.
    expect(new Set([...hook.calls, ...slack.calls].map((c) => c.headers['idempotency-key'])).size).toBe(4);
  });

  it('pages once per incident under the default routing: attached signals, a new ranking and a raised severity update its group, not the pager', async () => {
    const hook = await receiver();
    start(await loadRouting(undefined, { webhookUrl: `${hook.url}/alerts` }));
    await open('coder-1', { service: 'coder', severity: 'warning' });
    const page = await until('the first page', () => hook.calls[0]);
    // The page says why it pages and how its signal was judged.
    expect(page.body.incident).toMatchObject({ pagedBecause: 'symptom users feel, confirmed by its detector', explanation: { detector: 'binomial error-rate test', threshold: 0.11 } });
    await handleIncidentCommand(db.sql, { type: 'AttachSignal', at: at(), incidentId: 'coder-1', service: 'planner', signal: 'error_rate', summary: 'planner error rate 30 %', value: 0.3, onsetAt: at() });
    await handleIncidentCommand(db.sql, { type: 'RankRootCauses', at: at(), incidentId: 'coder-1', candidates: [{ service: 'coder', confidence: 0.8, evidence: ['earliest onset'] }], settled: true });
    await handleIncidentCommand(db.sql, { type: 'ChangeSeverity', at: at(), incidentId: 'coder-1', to: 'critical', reason: 'planner error rate 30 %' });
    // The resolve notice is the next thing the receiver hears: nothing in between.
    await resolve('coder-1', 'coder');
    await until('the resolve notice', () => hook.calls[1]);
    expect(hook.calls.map((c) => c.body.status)).toEqual(['firing', 'resolved']);
    const firing = await db.sql`SELECT 1 FROM events WHERE type = 'alert.sent' AND data->>'notice' = 'firing'`;
    expect(firing).toHaveLength(1);
  });

  it('keeps delivering to a live receiver while another refuses connections, and records the failures', async () => {
    const live = await receiver();
    const routing = routingOf({
      receivers: [
        { name: 'live', webhook: { url: live.url } },
        { name: 'dead', webhook: { url: await refusingUrl() } },
      ],
      route: {
        receiver: 'live',
        group_by: ['service'],
        ...fast,
        routes: [
          { matchers: ['service=~".+"'], receiver: 'dead', continue: true },
          { matchers: ['service=~".+"'], receiver: 'live' },
        ],
      },
    });
    start(routing, { retry: { retries: 10, minTimeoutMs: 500, maxTimeoutMs: 2000 }, breaker: { failureThreshold: 3, coolDownMs: 60_000 } });
    const began = Date.now();
    await open('a-1', { service: 'alpha' });
    await until('the live receiver', () => live.calls.length === 1);
    // The live receiver got it while the dead one is still between retries (it has not given up yet):
    // had it queued behind the dead one's ten retries, the failure would be recorded first.
    expect((await db.sql`SELECT 1 FROM events WHERE type = 'alert.delivery_failed'`).length).toBe(0);
    await open('b-1', { service: 'beta' });
    await until('the live receiver again, with the dead one in its cool-down', () => live.calls.length === 2);
    expect(Date.now() - began).toBeLessThan(5000);

    const failures = await until('the delivery failure', async () => {
      const rows = await db.sql<{ data: Record<string, unknown> }[]>`SELECT data FROM events WHERE type = 'alert.delivery_failed'`;
      return rows.length > 0 ? rows : undefined;
    });
    expect(failures[0]!.data).toMatchObject({ incidentId: 'a-1', receiver: 'dead', notice: 'firing', attempts: 3, error: expect.stringContaining('webhook firing') });
    const sent = await db.sql<{ data: { receiver: string } }[]>`SELECT data FROM events WHERE type = 'alert.sent'`;
    expect(sent.map((r) => r.data.receiver)).toEqual(['live', 'live']);
  });

  it('opens the circuit after consecutive failures, then lets one trial through after the cool-down', async () => {
    let requests = 0;
    const flaky = await receiver((_call, n) => {
      requests = n + 1;
      return n < 2 ? 503 : 200;
    });
    const routing = routingOf({ receivers: [{ name: 'flaky', webhook: { url: flaky.url } }], route: { receiver: 'flaky', group_by: ['service'], ...fast } });
    start(routing, { retry: { retries: 5, minTimeoutMs: 20, maxTimeoutMs: 20 }, breaker: { failureThreshold: 2, coolDownMs: 1500 } });
    const began = Date.now();
    await open('c-1', { service: 'gamma' });
    const delivered = await until('delivery after the cool-down', () => flaky.calls[0]);
    // Two failures opened the circuit: nothing was tried during the cool-down, and the trial passed.
    expect(Date.now() - began).toBeGreaterThanOrEqual(1500);
    expect(requests).toBe(3);
    expect(delivered.body.incident.id).toBe('c-1');
    const [failed] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM events WHERE type = 'alert.delivery_failed'`;
    expect(failed!.n).toBe(1);
  });

  it('neither loses nor repeats a notification across restarts, even one stopped while its request is under way', async () => {
    const hook = await receiver(undefined, { delayMs: 300 });
    const routing = routingOf({ receivers: [{ name: 'hook', webhook: { url: hook.url } }], route: { receiver: 'hook', group_by: ['service'], ...fast } });
    const notices = () => hook.calls.map((c) => `${c.body.incident.id} ${c.body.status}`).sort();
    const sentCount = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM events WHERE type = 'alert.sent'`)[0]!.n;

    await open('one', { service: 'one' });
    await open('two', { service: 'two' });
    const first = start(routing);
    await until('the first request to arrive', () => hook.calls.length === 1);
    // Stopped while the receiver has not answered yet: the request finishes and is recorded.
    await first.stop();
    expect(hook.calls).toHaveLength(1);
    expect(await sentCount()).toBe(1);

    // While it is down: one incident resolves, another opens.
    await resolve('one', 'one');
    await open('three', { service: 'three' });
    const second = start(routing);
    await until('the notices owed', async () => hook.calls.length === 4 && (await sentCount()) === 4);
    await sleep(500);
    await second.stop();
    expect(notices()).toEqual(['one firing', 'one resolved', 'three firing', 'two firing']);

    // A third start with nothing new sends nothing; the checkpoint moved past the finished incident.
    start(routing);
    await sleep(600);
    expect(hook.calls).toHaveLength(4);
    expect(new Set(hook.calls.map((c) => c.headers['idempotency-key'])).size).toBe(4);
    const [checkpoint] = await db.sql<{ position: string }[]>`SELECT position FROM checkpoints WHERE name = 'alert-dispatcher'`;
    const [oldest] = await db.sql<{ position: string }[]>`SELECT position FROM events WHERE stream_id = 'incident-two' ORDER BY version LIMIT 1`;
    expect(BigInt(checkpoint!.position)).toBe(BigInt(oldest!.position) - 1n);
  });

  it('sends nothing for a silenced incident until the silence is expired', async () => {
    const hook = await receiver();
    const routing = routingOf({ receivers: [{ name: 'hook', webhook: { url: hook.url } }], route: { receiver: 'hook', group_by: ['service'], ...fast } });
    await db.sql`
      INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at)
      VALUES ('sil-1', ${db.sql.json([{ name: 'service', value: 'quiet.*', isRegex: true, isEqual: true }])}, now() - interval '1 minute',
              now() + interval '1 hour', 'alice', 'maintenance', now())`;
    start(routing);
    await open('q-1', { service: 'quiet-db' });
    await open('l-1', { service: 'loud' });
    await until('the unsilenced incident', () => hook.calls.length === 1);
    await sleep(300);
    expect(hook.calls.map((c) => c.body.incident.id)).toEqual(['l-1']);

    await db.sql`UPDATE silences SET ends_at = now() WHERE id = 'sil-1'`;
    await until('the incident once unsilenced', () => hook.calls.length === 2);
    expect(hook.calls[1]!.body.incident.id).toBe('q-1');
  });

  it('mutes the incidents the topology hook calls downstream symptoms', async () => {
    const hook = await receiver();
    const routing = routingOf({ receivers: [{ name: 'hook', webhook: { url: hook.url } }], route: { receiver: 'hook', group_by: ['service'], ...fast } });
    start(routing, { isDownstreamSymptom: (incident, openIncidents) => incident.service === 'frontend' && openIncidents.some((i) => i.service === 'database') });
    await open('db-1', { service: 'database' });
    await open('fe-1', { service: 'frontend' });
    await until('the root cause', () => hook.calls.length === 1);
    await sleep(300);
    expect(hook.calls.map((c) => c.body.incident.id)).toEqual(['db-1']);
    await resolve('db-1', 'database');
    await until('the symptom, once its cause resolved', () => hook.calls.some((c) => c.body.incident.id === 'fe-1'));
  });
});

describe('routing file', () => {
  const good = `receivers:
  - name: oncall
    webhook:
      url: http://127.0.0.1:9/hook
route:
  receiver: oncall
  group_by: [service]
  routes:
    - matchers: ['team="payments"']
      receiver: oncall
`;

  it('parses a file and fills in what routes inherit', () => {
    const result = parseRouting('routing.yaml', good);
    expect(result.ok && result.routing.route.routes[0]).toMatchObject({
      key: '{}/{team="payments"}',
      receiver: 'oncall',
      groupBy: ['service'],
      groupWaitMs: 30_000,
      groupIntervalMs: 300_000,
      matchers: [{ name: 'team', value: 'payments', isRegex: false, isEqual: true }],
    });
  });

  it.each([
    ['an unknown receiver', good.replace("      receiver: oncall\n", '      receiver: pager\n'), 10, "route.routes.0.receiver: no receiver named 'pager'"],
    ['a bad duration', good.replace('  group_by: [service]', '  group_by: [service]\n  group_wait: 30 seconds'), 8, "route.group_wait: expected a duration such as 30s, 5m or 4h, got '30 seconds'"],
    ['a bad matcher', good.replace('team="payments"', 'team'), 9, "route.routes.0.matchers.0: expected a matcher like service=\"checkout\" or service=~\"pay.*\", got 'team'"],
    ['an unknown key', good.replace('  group_by: [service]', '  group_by: [service]\n  group_wiat: 30s'), 8, 'route: Unrecognized key: "group_wiat"'],
    ['a webhook without a URL', good.replace('      url: http://127.0.0.1:9/hook\n', '      secretEnv: KEY\n'), 3, 'receivers.0.webhook.url'],
    ['broken YAML', good.replace('  group_by: [service]', '  group_by: [service'), 8, ''],
  ])('names the line of %s', (_what, text, line, reason) => {
    const result = parseRouting('routing.yaml', text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.line).toBe(line);
    expect(result.error.reason).toContain(reason);
  });

  it('loads the documented example, and defaults without a file', async () => {
    const example = join(import.meta.dirname, '../../../../config/routing.yaml');
    const result = parseRouting(example, await readFile(example, 'utf8'));
    expect(result.ok).toBe(true);
    const routing = await loadRouting(example);
    expect(routing.receivers.map((r) => r.name)).toEqual(['platform-webhook', 'payments-slack', 'payments-pager', 'log']);
    expect(routing.route.routes.map((r) => r.receiver)).toEqual(['payments-pager', 'payments-slack', 'log']);
    expect(routing.inhibitRules).toHaveLength(1);
    expect((await loadRouting(undefined, { webhookUrl: 'http://127.0.0.1:9/hook' })).route).toMatchObject({ receiver: 'webhook', groupBy: ['alertname', 'service'], groupWaitMs: 0 });
    await expect(loadRouting('/nonexistent/routing.yaml')).rejects.toThrow(/ENOENT/);
  });
});
