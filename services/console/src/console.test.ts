// The console API on real PostgreSQL: incidents, acknowledge and resolve, services, series, topology,
// problem+json errors and bearer auth.
import type { FastifyInstance } from 'fastify';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { storeIncidentTraces } from '@hephaestus/analyzer';
import type { SpanRecord } from '@hephaestus/schemas';
import { appendToStream, newRegistry, openDatabase, type Database } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { createConsoleServer } from './console.ts';

const at = new Date().toISOString();

/** A span of the exemplar trace `traceId` (32 hex digits), `startMs` after the trace began. */
const spanOf = (traceId: string, spanId: string, parentSpanId: string | undefined, service: string, name: string, startMs: number, durationMs: number, status: SpanRecord['status'] = 'unset'): SpanRecord => {
  const startTimeMs = Date.parse(at) + startMs;
  return {
    service, traceId, spanId, ...(parentSpanId ? { parentSpanId } : {}), name, kind: parentSpanId ? 'client' : 'server',
    startTimeUnixNano: String(BigInt(startTimeMs) * 1_000_000n), endTimeUnixNano: String(BigInt(startTimeMs + durationMs) * 1_000_000n), startTimeMs, durationMs,
    status, ...(status === 'error' ? { statusMessage: 'upstream timed out' } : {}), attributes: { 'http.route': '/pay' }, resource: { 'service.name': service }, scope: { name: 'test' }, events: [], links: [],
  };
};

describe('console API', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    app = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry() });
    for (const [incidentId, service] of [['inc-a', 'checkout'], ['inc-b', 'payments']] as const) {
      await handleIncidentCommand(db.sql, {
        type: 'OpenIncident', at, incidentId, service, signal: 'error_rate', severity: 'critical', summary: `error rate 40 % on ${service}`,
        value: 0.4, baseline: 0.01, calls: 100, errors: 40, windowStart: at, traceIds: ['5b8efff798038103d269b633813fc60c'],
        direction: 'above', reason: 'symptom users feel, confirmed by its detector', explanation: { detector: 'binomial error-rate test', baseline: 0.01, threshold: 0.11, windowSeconds: 10 },
      });
    }
    await handleIncidentCommand(db.sql, { type: 'AttachSignal', at, incidentId: 'inc-a', service: 'web', signal: 'error_rate', summary: 'error rate 12 % on web', value: 0.12, onsetAt: at, traceIds: ['aaaefff798038103d269b633813fc60c'], reason: 'topology neighbour of checkout (1 hop), in the same interval' });
    await handleIncidentCommand(db.sql, { type: 'RankRootCauses', at, incidentId: 'inc-a', candidates: [{ service: 'checkout', confidence: 0.7, evidence: ['earliest onset'] }] });
    await db.sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, p50_ms, p95_ms, p99_ms) VALUES ('checkout', 10, now() - interval '1 minute', 100, 40, '\\x00', 10, 50, 90)`;
    await db.sql`INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max) VALUES ('checkout', '', 'gen_ai.cost_usd', 10, now() - interval '1 minute', 'sum', 0.25, 5, 0.05, 0.05),
      ('checkout', 'POST /pay', 'latency.mean_ms', 10, now() - interval '1 minute', 'mean', 1500, 5, 200, 400),
      ('checkout', 'GET /cart', 'latency.mean_ms', 10, now() - interval '1 minute', 'mean', 400, 8, 40, 60),
      ('checkout', 'GET /cart', 'latency.mean_ms', 10, now() - interval '2 minutes', 'mean', 600, 12, 40, 90)`;
    await db.sql`INSERT INTO topology_edges (caller, callee, calls, errors, updated_at) VALUES ('web', 'checkout', 200, 20, now())`;
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await drop();
  });

  it('lists incidents and filters by status', async () => {
    const all = await app.inject('/api/incidents');
    expect(all.json().incidents.map((i: { id: string }) => i.id).sort()).toEqual(['inc-a', 'inc-b']);
    const bad = await app.inject('/api/incidents?status=maybe');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });

  it('filters incidents by service, severity and words of the summary, service, signal or id', async () => {
    const ids = async (query: string) => (await app.inject(`/api/incidents?${query}`)).json().incidents.map((i: { id: string }) => i.id).sort();
    expect(await ids('service=payments')).toEqual(['inc-b']);
    expect(await ids('severity=critical')).toEqual(['inc-a', 'inc-b']);
    expect(await ids('severity=warning')).toEqual([]);
    expect(await ids('q=CHECKOUT')).toEqual(['inc-a']);
    expect(await ids('q=error%20rate%2040')).toEqual(['inc-a', 'inc-b']);
    // LIKE's wildcards are searched for as themselves.
    expect(await ids('q=%25')).toEqual(['inc-a', 'inc-b']);
    expect(await ids('q=e_r')).toEqual([]);
    expect(await ids('q=inc-b&service=checkout')).toEqual([]);
    const bad = await app.inject('/api/incidents?severity=loud');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toContain('severity');
  });

  it('shows an incident with its evidence, root-cause candidates, exemplar traces and timeline', async () => {
    const detail = (await app.inject('/api/incidents/inc-a')).json();
    expect(detail.evidence.map((e: { service: string }) => e.service)).toEqual(['checkout', 'web']);
    expect(detail.pagedBecause).toBe('symptom users feel, confirmed by its detector');
    expect(detail.evidence[0]).toMatchObject({ direction: 'above', explanation: { detector: 'binomial error-rate test', threshold: 0.11, windowSeconds: 10 } });
    expect(detail.evidence[1].reason).toBe('topology neighbour of checkout (1 hop), in the same interval');
    expect(detail.rootCauseCandidates).toEqual([{ service: 'checkout', confidence: 0.7, evidence: ['earliest onset'] }]);
    expect(detail.exemplarTraceIds).toEqual(['5b8efff798038103d269b633813fc60c', 'aaaefff798038103d269b633813fc60c']);
    expect(detail.timeline.map((e: { type: string }) => e.type)).toEqual(['incident.opened', 'incident.signal_attached', 'incident.root_cause_ranked']);
    expect((await app.inject('/api/incidents/nope')).statusCode).toBe(404);
  });

  it('serves the exemplar traces kept with an incident, span by span, failing first', async () => {
    const failing = '5b8efff798038103d269b633813fc60c';
    const slow = 'aaaefff798038103d269b633813fc60c';
    await storeIncidentTraces(db.sql, 'inc-a', [
      { traceId: slow, reason: 'slow', spans: [spanOf(slow, '00000000000000a1', undefined, 'web', 'GET /pay', 0, 900)] },
      { traceId: failing, reason: 'failing', spans: [spanOf(failing, '0000000000000001', undefined, 'web', 'GET /pay', 0, 120), spanOf(failing, '0000000000000002', '0000000000000001', 'checkout', 'POST /charge', 10, 100, 'error')] },
    ], Date.parse(at));
    const { incidentId, traces } = (await app.inject('/api/incidents/inc-a/traces')).json();
    expect(incidentId).toBe('inc-a');
    expect(traces.map((t: { traceId: string; reason: string; durationMs: number }) => [t.traceId, t.reason, t.durationMs])).toEqual([[failing, 'failing', 120], [slow, 'slow', 900]]);
    expect(traces[0].startTimeMs).toBe(Date.parse(at));
    expect(traces[0].spans[1]).toEqual({
      traceId: failing, spanId: '0000000000000002', parentSpanId: '0000000000000001', service: 'checkout', name: 'POST /charge', kind: 'client',
      startTimeMs: Date.parse(at) + 10, durationMs: 100, status: 'error', statusMessage: 'upstream timed out', attributes: { 'http.route': '/pay' },
    });
    expect((await app.inject('/api/incidents/inc-b/traces')).json().traces).toEqual([]);
    const missing = await app.inject('/api/incidents/nope/traces');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
  });

  it("adds the fix pull requests an incident caused to its timeline, and no other incident's", async () => {
    const pr = (incidentId: string, fixId: string, number: number) => ({
      type: 'fix.pr_opened' as const,
      data: { fixId, remediationId: `remediation-${incidentId}`, incidentId, kind: 'fix' as const, repository: 'acme/agents', number, url: `https://github.com/acme/agents/pull/${number}`, branch: `heph/${fixId}`, headSha: 'abc', title: 'fix' },
    });
    await db.sql.begin(async (tx) => {
      await appendToStream(tx, 'fix-f-1', 0, [
        { ...pr('inc-fix', 'f-1', 7), id: '00000000-0000-4000-8000-0000000000f1', occurredAt: new Date() },
        { type: 'fix.merged', data: { fixId: 'f-1', number: 7, mergeSha: 'def', by: 'alice' }, id: '00000000-0000-4000-8000-0000000000f2', occurredAt: new Date() },
      ]);
      await appendToStream(tx, 'fix-f-2', 0, [{ ...pr('inc-other', 'f-2', 8), id: '00000000-0000-4000-8000-0000000000f3', occurredAt: new Date() }]);
    });
    await handleIncidentCommand(db.sql, {
      type: 'OpenIncident', at, incidentId: 'inc-fix', service: 'search', signal: 'error_rate', severity: 'warning', summary: 'errors on search',
      value: 0.2, baseline: 0.01, calls: 100, errors: 20, windowStart: at, traceIds: [],
    });
    const detail = (await app.inject('/api/incidents/inc-fix')).json();
    expect(detail.timeline.map((e: { type: string; data: { number?: number } }) => [e.type, e.data.number])).toEqual([['fix.pr_opened', 7], ['fix.merged', 7], ['incident.opened', undefined]]);
  });

  it('acknowledges and resolves by hand; a resolved incident cannot be acknowledged', async () => {
    const ack = await app.inject({ method: 'POST', url: '/api/incidents/inc-b/ack', payload: { by: 'alice' } });
    expect(ack.json()).toMatchObject({ acknowledgedBy: 'alice', status: 'open' });
    const resolved = await app.inject({ method: 'POST', url: '/api/incidents/inc-b/resolve', payload: { by: 'alice', reason: 'rolled back by hand' } });
    expect(resolved.json()).toMatchObject({ status: 'resolved' });
    expect(resolved.json().timeline.map((e: { type: string }) => e.type)).toEqual(['incident.opened', 'incident.acknowledged', 'incident.resolved']);
    const again = await app.inject({ method: 'POST', url: '/api/incidents/inc-b/ack', payload: { by: 'bob' } });
    expect(again.statusCode).toBe(409);
  });

  it('serves services, a signal series and the topology', async () => {
    const services = (await app.inject('/api/services')).json().services;
    expect(services).toEqual([expect.objectContaining({ name: 'checkout', callsLast5m: 100, errorRateLast5m: 0.4, openIncidents: 1 })]);
    const errorRate = (await app.inject('/api/services/checkout/series?signal=error_rate')).json();
    expect(errorRate.points.map((p: { value: number }) => p.value)).toEqual([0.4]);
    const cost = (await app.inject('/api/services/checkout/series?signal=gen_ai.cost_usd')).json();
    expect(cost.points.map((p: { value: number }) => p.value)).toEqual([0.25]);
    // An operation's series, by its name in incidents or by the operation parameter.
    const pay = (await app.inject(`/api/services/checkout/series?signal=${encodeURIComponent('latency.mean_ms{POST /pay}')}`)).json();
    expect(pay).toMatchObject({ signal: 'latency.mean_ms', operation: 'POST /pay', points: [expect.objectContaining({ value: 300 })] });
    expect((await app.inject(`/api/services/checkout/series?signal=latency.mean_ms&operation=${encodeURIComponent('POST /pay')}`)).json().points).toHaveLength(1);
    expect((await app.inject('/api/services/checkout/series')).statusCode).toBe(400);
    // Its operations, busiest first, with their calls, mean and worst interval latency over the window.
    expect((await app.inject('/api/services/checkout/operations')).json()).toEqual({
      service: 'checkout',
      signal: 'latency.mean_ms',
      operations: [
        { operation: 'GET /cart', calls: 20, meanMs: 50, worstMs: 90 },
        { operation: 'POST /pay', calls: 5, meanMs: 300, worstMs: 400 },
      ],
    });
    expect((await app.inject('/api/services/nobody/operations')).json().operations).toEqual([]);
    expect((await app.inject('/api/services/checkout/operations?from=yesterday')).statusCode).toBe(400);
    const topology = (await app.inject('/api/topology')).json();
    expect(topology).toEqual({ services: ['checkout', 'web'], edges: [expect.objectContaining({ caller: 'web', callee: 'checkout', errorRate: 0.1 })] });
  });

  it("forecasts a service's gauges that have a limit, with their prediction band and when the line reaches the limit", async () => {
    // memory climbs 10 MB a minute (with a little noise) over the last 10 minutes towards the 1 GB the service reports.
    const now = Math.floor(Date.now() / 10_000) * 10_000;
    const points = Array.from({ length: 60 }, (_, i) => ({ at: new Date(now - (60 - i) * 10_000), value: 800e6 + i * (10e6 / 6) + (i % 2 ? 1e6 : -1e6) }));
    for (const p of points) {
      await db.sql`INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max)
        VALUES ('leaky', '', 'process.memory.usage', 10, ${p.at}, 'mean', ${p.value}, 1, ${p.value}, ${p.value})`;
    }
    await db.sql`INSERT INTO service_limits (service, signal, limit_value, reported_at) VALUES ('leaky', 'process.memory.usage', 1e9, now())`;
    const { service, forecasts } = (await app.inject('/api/services/leaky/forecasts?horizonMinutes=30')).json();
    expect(service).toBe('leaky');
    expect(forecasts).toHaveLength(1);
    const [memory] = forecasts;
    expect(memory).toMatchObject({ signal: 'process.memory.usage', limit: 1e9, confidence: 0.95 });
    expect(memory.points).toHaveLength(60);
    expect(memory.slopePerHour / 600e6).toBeCloseTo(1, 1);
    // The band holds the line, starts at the last point and widens ahead.
    expect(memory.forecast[0].time).toBe(points.at(-1)!.at.toISOString());
    for (const f of memory.forecast) expect(f.lower < f.value && f.value < f.upper).toBe(true);
    const width = (f: { lower: number; upper: number }) => f.upper - f.lower;
    expect(width(memory.forecast.at(-1))).toBeGreaterThan(width(memory.forecast[0]));
    // 900 MB now, 10 MB a minute: the line meets 1 GB in about 10 minutes.
    expect((Date.parse(memory.reachesLimitAt) - Date.parse(memory.forecast[0].time)) / 60_000).toBeCloseTo(10, 0);
    // A service without limits has nothing to forecast; HEPH_LIMITS given to the console counts too.
    expect((await app.inject('/api/services/checkout/forecasts')).json().forecasts).toEqual([]);
    const withLimits = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), limits: { 'gen_ai.cost_usd': 10 } });
    expect((await withLimits.inject('/api/services/checkout/forecasts')).json().forecasts.map((f: { signal: string; forecast: unknown[] }) => [f.signal, f.forecast])).toEqual([['gen_ai.cost_usd', []]]);
    await withLimits.close();
    expect((await app.inject('/api/services/leaky/forecasts?horizonMinutes=0')).statusCode).toBe(400);
  });

  it('is ready when its database answers, and names the check that fails', async () => {
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'ready', checks: { database: true } });
    // heph up adds the log; a log that is down is named.
    const logDown = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), readiness: { log: async () => false } });
    const answer = await logDown.inject('/readyz');
    expect([answer.statusCode, answer.json()]).toEqual([503, { status: 'not ready', checks: { database: true, log: false } }]);
    // A database nobody answers at: not ready, promptly.
    const nowhere = postgres('postgres://postgres@127.0.0.1:1/none', { connect_timeout: 1, max: 1 });
    try {
      const unreachable = createConsoleServer({ sql: nowhere as unknown as typeof db.sql, logger: testLogger(), registry: newRegistry() });
      const refused = await unreachable.inject('/readyz');
      expect([refused.statusCode, refused.json()]).toEqual([503, { status: 'not ready', checks: { database: false } }]);
    } finally {
      await nowhere.end({ timeout: 1 });
    }
  });

  it('describes itself in OpenAPI and answers unknown routes with a problem', async () => {
    const doc = (await app.inject('/api/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/api/incidents/{id}/ack');
    expect(Object.keys(doc.paths)).toContain('/api/incidents/{id}/traces');
    const missing = await app.inject('/api/nothing');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('sums LLM spend per service and per model, counting each moment once across resolutions', async () => {
    // Beside the 10 s total of 0.25 from the setup: the same spend by model, a coarser bucket over the
    // same minute (already counted), and an older one only the coarse series still holds.
    await db.sql`INSERT INTO series (service, operation, signal, resolution_seconds, bucket_start, aggregation, sum, count, min, max) VALUES
      ('checkout', 'gpt-4o-mini', 'gen_ai.cost_usd', 10, now() - interval '1 minute', 'sum', 0.25, 5, 0.05, 0.05),
      ('checkout', '', 'gen_ai.cost_usd', 60, date_trunc('minute', now() - interval '1 minute'), 'sum', 0.25, 5, 0.05, 0.05),
      ('checkout', '', 'gen_ai.cost_usd', 60, date_trunc('minute', now() - interval '20 minutes'), 'sum', 1, 20, 0.05, 0.05),
      ('search', '', 'gen_ai.cost_usd', 10, now() - interval '2 hours', 'sum', 5, 1, 5, 5)`;
    const spend = (await app.inject('/api/spend')).json();
    expect(spend.services).toEqual([expect.objectContaining({ service: 'checkout', costUsd: 1.25 })]);
    expect(spend.services[0].points).toHaveLength(2);
    expect(spend.models).toEqual([expect.objectContaining({ service: 'checkout', model: 'gpt-4o-mini', costUsd: 0.25 })]);
    expect(spend.totalUsd).toBe(1.25);
    // A wider window reaches the older spend of another service.
    const day = (await app.inject(`/api/spend?from=${new Date(Date.now() - 86_400_000).toISOString()}`)).json();
    expect(day.services.map((s: { service: string }) => s.service)).toEqual(['search', 'checkout']);
    expect((await app.inject(`/api/spend?from=${new Date().toISOString()}&to=${new Date(Date.now() - 1000).toISOString()}`)).statusCode).toBe(400);
    expect((await app.inject('/api/spend?from=yesterday')).statusCode).toBe(400);
    expect(spend.budgets).toEqual([]);

    // With budgets: each burned by the services its glob matches, this period.
    const budgeted = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), budgets: [{ service: 'check*', period: 'monthly', limitUsd: 2 }, { service: 'nothing-*', period: 'daily', limitUsd: 1 }] });
    const [checkout, none] = (await budgeted.inject('/api/spend')).json().budgets;
    expect(checkout).toMatchObject({ service: 'check*', period: 'monthly', limitUsd: 2 });
    // All of checkout's last 20 minutes (1.25), less only what fell before the month began.
    expect(checkout.spentUsd).toBeGreaterThanOrEqual(0.25);
    expect(checkout.spentUsd).toBeLessThanOrEqual(1.25);
    expect(checkout.lastHourUsd).toBe(checkout.spentUsd);
    expect(none).toMatchObject({ service: 'nothing-*', spentUsd: 0, lastHourUsd: 0, runsOutAt: null });
    await budgeted.close();
  });

  it('requires a bearer token when tokens are configured', async () => {
    const guarded = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), tokens: [{ name: 'on-call', token: 'on-call' }] });
    expect((await guarded.inject('/api/incidents')).statusCode).toBe(401);
    expect((await guarded.inject({ url: '/api/incidents', headers: { authorization: 'Bearer on-call' } })).statusCode).toBe(200);
    expect((await guarded.inject('/healthz')).statusCode).toBe(200);
    await guarded.close();
  });
});
