// The HTTP API over the projections (the seed of the on-call console): incidents and their timelines.
import type { FastifyInstance } from 'fastify';
import { createHttpServer, type Logger, type Sql } from '@hephaestus/platform';
import type { Registry } from 'prom-client';
import { z } from 'zod';

type IncidentRow = {
  id: string;
  service: string;
  signal: string;
  status: string;
  severity: string;
  summary: string;
  opened_at: Date;
  resolved_at: Date | null;
};

const toIncident = (r: IncidentRow) => ({
  id: r.id,
  service: r.service,
  signal: r.signal,
  status: r.status,
  severity: r.severity,
  summary: r.summary,
  openedAt: r.opened_at.toISOString(),
  resolvedAt: r.resolved_at?.toISOString() ?? null,
});

const listQuery = z.object({ status: z.enum(['open', 'resolved']).optional() });

const problem = (status: number, title: string, detail: string) => ({ type: 'about:blank', title, status, detail });

export const createConsoleServer = (options: { sql: Sql; logger: Logger; registry: Registry; ready: () => Promise<boolean> }): FastifyInstance => {
  const { sql } = options;
  const app = createHttpServer({ log: options.logger, registry: options.registry, readiness: { database: options.ready } });

  app.get('/api/incidents', async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) {
      return reply.code(400).type('application/problem+json').send(problem(400, 'Bad Request', 'status must be open or resolved'));
    }
    const rows = await sql<IncidentRow[]>`
      SELECT id, service, signal, status, severity, summary, opened_at, resolved_at FROM incidents
      ${query.data.status ? sql`WHERE status = ${query.data.status}` : sql``}
      ORDER BY opened_at DESC LIMIT 500`;
    return { incidents: rows.map(toIncident) };
  });

  app.get<{ Params: { id: string } }>('/api/incidents/:id', async (request, reply) => {
    const [row] = await sql<IncidentRow[]>`
      SELECT id, service, signal, status, severity, summary, opened_at, resolved_at FROM incidents WHERE id = ${request.params.id}`;
    if (!row) return reply.code(404).type('application/problem+json').send(problem(404, 'Not Found', `no incident ${request.params.id}`));
    // The timeline is the incident's own stream plus the alerts and the remediation it caused.
    const timeline = await sql<{ type: string; occurred_at: Date; data: unknown; stream_id: string }[]>`
      SELECT type, occurred_at, data, stream_id FROM events
      WHERE stream_id IN (${`incident-${row.id}`}, ${`alert-${row.id}`}, ${`remediation-${row.id}`})
      ORDER BY position`;
    return {
      ...toIncident(row),
      timeline: timeline.map((e) => ({ type: e.type, occurredAt: e.occurred_at.toISOString(), data: e.data })),
    };
  });

  return app;
};
