// The HTTP API over the projections, for the on-call engineer and their tools: incidents with their
// timelines, evidence and root-cause candidates; acknowledge and resolve; services, their series and
// the dependency graph; an OpenAPI description. Errors are application/problem+json (RFC 9457).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  getIncident,
  handleIncidentCommand,
  isRequestSignal,
  listIncidents,
  readIncidentTraces,
  readOperationLatencies,
  readServiceActivity,
  readSignal,
  readTopology,
  type SignalPoint,
} from '@hephaestus/aggregates';
import { createHttpServer, databaseAnswers, readStreams, registerWebhookRoute, streamIdsWith, type Database, type Logger, type NamedToken, type Sql, type WebhookHandler } from '@hephaestus/platform';
import type { CostBudget } from '@hephaestus/schemas';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { registerAlertmanagerApi } from './alertmanager.ts';
import { guardProblem, principalOf, registerGuard } from './guard.ts';
import { registerJsonBodies } from './json-body.ts';
import { registerRemediationsApi, type RemediationsApiOptions } from './remediations.ts';
import { openApiDocument } from './openapi.ts';
import { registerConsoleUi } from './ui.ts';
import { registerEventStream } from './event-stream.ts';
import { registerSpendApi } from './spend.ts';
import { registerForecastApi } from './forecasts.ts';

const listQuery = z.object({
  status: z.enum(['open', 'resolved']).optional(),
  service: z.string().min(1).max(200).optional(),
  severity: z.enum(['critical', 'warning', 'info']).optional(),
  /** Words anywhere in the summary, service, signal or id, case-insensitively. */
  q: z.string().min(1).max(200).optional(),
});
const actionBody = z.object({ by: z.string().min(1).max(200).default('api'), reason: z.string().max(1000).optional() }).default({ by: 'api' });
const windowQuery = z.object({ from: z.iso.datetime().optional(), to: z.iso.datetime().optional() });

const seriesQuery = z.object({
  signal: z.string().min(1),
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
  operation: z.string().default(''),
});

export const problem = (reply: FastifyReply, status: number, title: string, detail: string) =>
  reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail });

export type ConsoleOptions = {
  sql: Sql;
  /** Which database `sql` reaches ('postgresql' unless told): the event stream hears appends by LISTEN, or in process on PGlite. */
  databaseKind?: Database['kind'];
  logger: Logger;
  registry: Registry;
  /**
   * What `/readyz` checks besides the console's own database (answering `SELECT 1` within 2 s), by name:
   * `heph up` adds the log its other services write to.
   */
  readiness?: Record<string, () => Promise<boolean>>;
  /** Named bearer tokens (HEPH_CONSOLE_TOKENS); none: open, and listening on loopback only. */
  tokens?: NamedToken[];
  /** The names the console answers to (HEPH_CONSOLE_ALLOWED_HOSTS); none: loopback, the listen host and consoleUrl's host. */
  allowedHosts?: string[];
  consoleUrl?: string;
  /** The healer's loaded playbooks and refused files, for GET /api/playbooks. */
  playbooks?: RemediationsApiOptions['playbooks'];
  playbookErrors?: RemediationsApiOptions['playbookErrors'];
  /** GitHub's webhook deliveries (checks, statuses, pull requests), verified by their signature, not a token. */
  githubWebhooks?: WebhookHandler;
  /** LLM spend budgets (`budgets` of the costs file, HEPH_COSTS_FILE), for the spend view's burn and run-out forecast. */
  budgets?: CostBudget[];
  /** Gauge limits (HEPH_LIMITS, signal → limit) beside those services report themselves, for the forecasts on service pages. */
  limits?: Record<string, number>;
  /** A request (headers and body) must arrive within this long (60 s): a trickled body is cut with 408. */
  requestTimeoutMs?: number;
  /** A keep-alive comment on each event stream this often (15 s). */
  eventStreamHeartbeatMs?: number;
};

export const createConsoleServer = (options: ConsoleOptions): FastifyInstance => {
  const { sql } = options;
  const app = createHttpServer({ log: options.logger, registry: options.registry, readiness: { database: () => databaseAnswers(options.sql), ...options.readiness }, requestTimeoutMs: options.requestTimeoutMs });
  // Every route needs a token (when tokens are set) unless it is marked public; see guard.ts.
  // Refusals are problem+json, but in Alertmanager's `{code, message}` on its API v2 so amtool can read them.
  registerGuard(app, { tokens: options.tokens ?? [], allowedHosts: options.allowedHosts ?? [], consoleUrl: options.consoleUrl }, (reply, error) => {
    const { status, title, detail } = guardProblem(error);
    if (reply.request.routeOptions.url?.startsWith('/api/v2/')) return reply.code(status).type('application/json').send({ code: status, message: detail });
    return problem(reply, status, title, detail);
  });
  registerJsonBodies(app);

  app.setNotFoundHandler((request, reply) => problem(reply, 404, 'Not Found', `no route ${request.method} ${request.url.split('?')[0]}`));
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) options.logger.error({ err: error }, 'console request failed');
    return problem(reply, status, status >= 500 ? 'Internal Server Error' : 'Bad Request', status >= 500 ? 'internal error' : error.message);
  });

  // Alertmanager's API v2 (silences, alerts, status) so amtool and Alertmanager clients work unchanged.
  registerAlertmanagerApi(app, { sql, logger: options.logger, consoleUrl: options.consoleUrl ?? 'http://127.0.0.1:8080', principalOf });

  registerConsoleUi(app);
  registerEventStream(app, { sql, databaseKind: options.databaseKind ?? 'postgresql', logger: options.logger, heartbeatMs: options.eventStreamHeartbeatMs });
  registerSpendApi(app, { sql, problem, budgets: options.budgets });
  registerForecastApi(app, { sql, problem, limits: options.limits ?? {} });
  if (options.githubWebhooks) registerWebhookRoute(app, '/github/webhooks', options.githubWebhooks, options.logger);
  app.get('/api/openapi.json', { config: { public: true } }, async () => openApiDocument);
  registerRemediationsApi(app, { sql, logger: options.logger, problem, principalOf, playbooks: options.playbooks, playbookErrors: options.playbookErrors });

  app.get('/api/incidents', async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) return problem(reply, 400, 'Bad Request', `${query.error.issues[0]!.path.join('.')}: ${query.error.issues[0]!.message}`);
    return { incidents: await listIncidents(sql, { ...query.data, limit: 500 }) };
  });

  const incidentDetail = async (id: string) => {
    const row = await getIncident(sql, id);
    if (!row) return undefined;
    // The timeline is the incident's own stream plus the alerts, the remediation and the fix pull
    // requests it caused (a fix's stream names its incident in its first event).
    const fixes = await streamIdsWith(sql, 'fix.pr_opened', { incidentId: id });
    const timeline = await readStreams(sql, [`incident-${id}`, `alert-${id}`, `remediation-${id}`, ...fixes]);
    const ofType = (type: string) => timeline.filter((e) => e.type === type).map((e) => e.data as Record<string, unknown>);
    const opened = ofType('incident.opened')[0] ?? {};
    const attached = ofType('incident.signal_attached');
    const ranked = ofType('incident.root_cause_ranked').at(-1);
    // Each signal with how it was judged (detector, baseline, threshold, window) and why it is here.
    const evidence = [
      { service: row.service, signal: row.signal, summary: opened.summary, value: opened.value, baseline: opened.baseline, direction: opened.direction, onsetAt: opened.windowStart, explanation: opened.explanation, reason: opened.reason },
      ...attached.map((a) => ({ service: a.service, signal: a.signal, summary: a.summary, value: a.value, baseline: a.baseline, direction: a.direction, onsetAt: a.onsetAt, explanation: a.explanation, reason: a.reason })),
    ];
    const started = ofType('remediation.started')[0];
    const traceIds = [...new Set([opened, ...attached].flatMap((d) => (Array.isArray(d.traceIds) ? (d.traceIds as string[]) : [])))];
    return {
      ...row,
      evidence,
      /** Why it paged: the rule of the incident policy that opened it. */
      pagedBecause: opened.reason,
      rootCauseCandidates: (ranked?.candidates as unknown[]) ?? [],
      /** Why the healer chose its playbook and target, when it acted. */
      remediationChoice: started?.targetReason,
      exemplarTraceIds: traceIds,
      timeline: timeline.map((e) => ({ type: e.type, occurredAt: e.occurredAt, data: e.data })),
    };
  };

  app.get<{ Params: { id: string } }>('/api/incidents/:id', async (request, reply) => {
    const detail = await incidentDetail(request.params.id);
    return detail ?? problem(reply, 404, 'Not Found', `no incident ${request.params.id}`);
  });

  // The exemplar traces the analyzer kept with the incident, span by span, for the waterfall.
  app.get<{ Params: { id: string } }>('/api/incidents/:id/traces', async (request, reply) => {
    const row = await getIncident(sql, request.params.id);
    if (!row) return problem(reply, 404, 'Not Found', `no incident ${request.params.id}`);
    return { incidentId: row.id, traces: await readIncidentTraces(sql, row.id) };
  });

  const act = (action: 'ack' | 'resolve') =>
    async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const parsed = actionBody.safeParse(request.body ?? undefined);
      if (!parsed.success) return problem(reply, 400, 'Bad Request', parsed.error.issues[0]!.message);
      // With tokens, who acts is the token's name; a `by` in the body is ignored.
      const by = principalOf(request) ?? parsed.data.by;
      const { reason } = parsed.data;
      const row = await getIncident(sql, request.params.id);
      if (!row) return problem(reply, 404, 'Not Found', `no incident ${request.params.id}`);
      if (row.status !== 'open') return problem(reply, 409, 'Conflict', `incident ${row.id} is ${row.status}`);
      const at = new Date().toISOString();
      await handleIncidentCommand(
        sql,
        action === 'ack'
          ? { type: 'AcknowledgeIncident', at, incidentId: row.id, by }
          : { type: 'ResolveIncident', at, incidentId: row.id, service: row.service, signal: row.signal, reason: reason ?? `resolved by ${by}`, value: 0 },
      );
      options.logger.info({ incidentId: row.id, by }, action === 'ack' ? 'incident acknowledged' : 'incident resolved by hand');
      return incidentDetail(row.id);
    };
  app.post<{ Params: { id: string } }>('/api/incidents/:id/ack', act('ack'));
  app.post<{ Params: { id: string } }>('/api/incidents/:id/resolve', act('resolve'));

  app.get('/api/topology', async () => {
    const edges = await readTopology(sql);
    const services = [...new Set(edges.flatMap((e) => [e.caller, e.callee]))].sort();
    return {
      services,
      edges: edges.map((e) => ({ caller: e.caller, callee: e.callee, calls: e.calls, errors: e.errors, errorRate: e.calls > 0 ? e.errors / e.calls : 0, updatedAt: e.updatedAt.toISOString() })),
    };
  });

  app.get('/api/services', async () => {
    const open = await listIncidents(sql, { status: 'open' });
    return {
      services: (await readServiceActivity(sql)).map((s) => ({
        name: s.service,
        lastSeen: s.lastSeen.toISOString(),
        callsLast5m: s.callsLast5m,
        errorRateLast5m: s.callsLast5m > 0 ? s.errorsLast5m / s.callsLast5m : 0,
        openIncidents: open.filter((i) => i.service === s.service).length,
      })),
    };
  });

  // The operations a service's calls go to (span names, as the analyzer keeps their latency), busiest first.
  app.get<{ Params: { name: string } }>('/api/services/:name/operations', async (request, reply) => {
    const query = windowQuery.safeParse(request.query);
    if (!query.success) return problem(reply, 400, 'Bad Request', `${query.error.issues[0]!.path.join('.')}: ${query.error.issues[0]!.message}`);
    const to = query.data.to ? new Date(query.data.to) : new Date();
    const from = query.data.from ? new Date(query.data.from) : new Date(to.getTime() - 3_600_000);
    return { service: request.params.name, signal: 'latency.mean_ms', operations: await readOperationLatencies(sql, request.params.name, from.getTime(), to.getTime()) };
  });

  app.get<{ Params: { name: string } }>('/api/services/:name/series', async (request, reply) => {
    const query = seriesQuery.safeParse(request.query);
    if (!query.success) return problem(reply, 400, 'Bad Request', `${query.error.issues[0]!.path.join('.')}: ${query.error.issues[0]!.message}`);
    const to = query.data.to ? new Date(query.data.to) : new Date();
    const from = query.data.from ? new Date(query.data.from) : new Date(to.getTime() - 3_600_000);
    const service = request.params.name;
    // `latency.mean_ms{GET /cart}`, as incidents name an operation's series, is that operation's series.
    const named = query.data.operation === '' ? /^(.+)\{(.+)\}$/.exec(query.data.signal) : null;
    const [signal, operation] = named ? [named[1]!, named[2]!] : [query.data.signal, query.data.operation];
    // Request signals come from the rollups, a service's as a whole; every other signal from the series.
    const points = await readSignal(sql, { service, signal, operation, fromMs: from.getTime(), toMs: to.getTime() });
    const time = (p: SignalPoint) => new Date(p.startMs).toISOString();
    if (isRequestSignal(signal)) return { service, signal, points: points.map((p) => ({ time: time(p), resolutionSeconds: p.resolutionSeconds, value: p.value })) };
    return { service, signal, operation, points: points.map((p) => ({ time: time(p), resolutionSeconds: p.resolutionSeconds, value: p.value, min: p.min, max: p.max })) };
  });

  return app;
};
