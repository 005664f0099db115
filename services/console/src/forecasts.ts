// Forecasts on a service's page: each gauge with a limit (the service's own `heph.limit.<signal>`
// resource attribute, or HEPH_LIMITS) as its recent points (each interval's maximum, the worst
// instance, as failure prediction reads it), the line ahead with its prediction band, and when the
// line reaches the limit.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readServiceLimits, readSignal } from '@hephaestus/aggregates';
import type { Sql } from '@hephaestus/platform';
import { forecastBand, sinceReset } from '@hephaestus/schemas';
import { z } from 'zod';

type Problem = (reply: FastifyReply, status: number, title: string, detail: string) => FastifyReply;

const forecastQuery = z.object({
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
  horizonMinutes: z.coerce.number().positive().max(1440).default(15),
});

/** The line is fitted on the last this long of the window: a gauge's recent course, not its day. */
const fitWindowMs = 15 * 60_000;

export const registerForecastApi = (app: FastifyInstance, options: { sql: Sql; problem: Problem; limits: Record<string, number> }) => {
  const { sql, problem } = options;
  app.get<{ Params: { name: string } }>('/api/services/:name/forecasts', async (request, reply) => {
    const query = forecastQuery.safeParse(request.query);
    if (!query.success) return problem(reply, 400, 'Bad Request', `${query.error.issues[0]!.path.join('.')}: ${query.error.issues[0]!.message}`);
    const toMs = query.data.to ? Date.parse(query.data.to) : Date.now();
    const fromMs = query.data.from ? Date.parse(query.data.from) : toMs - 30 * 60_000;
    if (fromMs >= toMs) return problem(reply, 400, 'Bad Request', 'from: must be before to');
    const horizonMs = query.data.horizonMinutes * 60_000;
    const service = request.params.name;
    // The service's own limits win over HEPH_LIMITS, as in failure prediction.
    const limits = { ...options.limits, ...(await readServiceLimits(sql)).get(service) };
    const forecasts = [];
    for (const [signal, limit] of Object.entries(limits).sort(([a], [b]) => a.localeCompare(b))) {
      const points = (await readSignal(sql, { service, signal, operation: '', fromMs, toMs })).flatMap((p) => (p.max === null ? [] : [{ timestampMs: p.startMs, value: p.max, resolutionSeconds: p.resolutionSeconds }]));
      if (points.length === 0) continue;
      const last = points.at(-1)!;
      // Since the last restart, as the predictor reads it: the course before says nothing of the process now.
      const fitted = sinceReset(points.filter((p) => p.timestampMs > last.timestampMs - fitWindowMs));
      const forecast = forecastBand(fitted, { horizonMs, stepMs: Math.max(last.resolutionSeconds * 1000, horizonMs / 60), limit });
      forecasts.push({
        signal,
        limit,
        points: points.map((p) => ({ time: new Date(p.timestampMs).toISOString(), resolutionSeconds: p.resolutionSeconds, value: p.value })),
        fittedFrom: new Date(fitted[0]!.timestampMs).toISOString(),
        confidence: forecast?.confidence ?? null,
        slopePerHour: forecast?.slopePerHour ?? null,
        reachesLimitAt: forecast?.reachesLimitAtMs === undefined ? null : new Date(forecast.reachesLimitAtMs).toISOString(),
        forecast: (forecast?.points ?? []).map((p) => ({ time: new Date(p.timestampMs).toISOString(), value: p.value, lower: p.lower, upper: p.upper })),
      });
    }
    return { service, forecasts };
  });
};
