// detect for every series: each closed bucket of each service-wide series goes through the default
// detector set; an alarm opens an incident and its clearing resolves it. Gauges with a limit get a
// failure prediction, and LLM spend a budget forecast. Detectors are rebuilt from stored history at
// start (warm-up replay raises nothing).
import type { Logger, Sql } from '@hephaestus/platform';
import { deterministicId } from '@hephaestus/platform';
import { globMatches, type CostBudget } from '@hephaestus/schemas';
import { forecastSpend, periodStart } from '../domain/budget.ts';
import { createDetector, type Detector, type DetectorName } from '../domain/detectors/index.ts';
import { defaultCommonSettings } from '../domain/detectors/detector.ts';
import { predict } from '../domain/predictors/time-to-limit.ts';
import { handleIncidentCommand, openIncidents } from './incident-store.ts';
import { readSeries, type SeriesPoint } from './series-store.ts';

export type SeriesWatchOptions = {
  sql: Sql;
  logger: Logger;
  resolutionSeconds: number;
  graceSeconds: number;
  /**
   * Buckets of history replayed into fresh detectors at start. Also caps the detectors' own warm-up
   * (300 points by default, 50 min at 10 s): a short setting lets a demo or a test detect within minutes.
   */
  warmupBuckets: number;
  /** Limits per signal (e.g. process.memory.usage → bytes) for failure prediction. */
  limits: Record<string, number>;
  budgets: CostBudget[];
  /** Which detector judges which signals (first matching glob); the rest get the default set. */
  detectors?: Array<{ glob: string; detector: DetectorName }>;
  now: () => number;
};

const unitOf = (signal: string) => (signal.endsWith('_ms') ? 'ms' : signal.includes('memory') || signal.endsWith('.bytes') ? 'bytes' : signal.endsWith('_usd') ? 'USD' : '');


export const createSeriesWatch = (options: SeriesWatchOptions) => {
  const { sql, logger } = options;
  const resolutionMs = options.resolutionSeconds * 1000;
  const watched = new Map<string, { detector: Detector; alarm: boolean }>();
  let processedUntil: number | undefined;
  // Only a shorter warm-up than the detectors' own is passed: production defaults stay as they are.
  const learning = options.warmupBuckets < defaultCommonSettings.warmupPoints ? { warmupPoints: options.warmupBuckets } : {};

  /** Service-wide series plus the request rollups' throughput and p95 latency. */
  const load = async (fromMs: number, toMs: number): Promise<SeriesPoint[]> => {
    const series = (await readSeries(sql, options.resolutionSeconds, fromMs, toMs)).filter((p) => p.operation === '');
    const rollups = await sql<{ service: string; bucket_start: Date; calls: string; p95_ms: number | null }[]>`
      SELECT service, bucket_start, calls, p95_ms FROM rollups
      WHERE resolution_seconds = ${options.resolutionSeconds} AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}`;
    for (const r of rollups) {
      const startMs = r.bucket_start.getTime();
      series.push({ service: r.service, operation: '', signal: 'calls', startMs, value: Number(r.calls), max: Number(r.calls), count: 1 });
      if (r.p95_ms !== null) series.push({ service: r.service, operation: '', signal: 'latency.p95_ms', startMs, value: r.p95_ms, max: r.p95_ms, count: 1 });
    }
    return series.sort((a, b) => a.startMs - b.startMs);
  };

  const open = async (service: string, signal: string, startMs: number, closedBefore: number, fields: { summary: string; value: number; baseline: number; severity: 'critical' | 'warning'; etaSeconds?: number }) => {
    const incidentId = deterministicId(service, signal, startMs);
    const events = await handleIncidentCommand(sql, {
      type: 'OpenIncident',
      at: new Date(closedBefore).toISOString(),
      incidentId,
      service,
      signal,
      windowStart: new Date(startMs).toISOString(),
      ...fields,
    });
    if (events.length > 0) logger.info({ incidentId, service, signal }, `incident opened: ${service} ${fields.summary}`);
  };

  const resolve = async (incidentId: string, service: string, signal: string, closedBefore: number, reason: string, value: number) => {
    const events = await handleIncidentCommand(sql, { type: 'ResolveIncident', at: new Date(closedBefore).toISOString(), incidentId, service, signal, reason, value });
    if (events.length > 0) logger.info({ incidentId, service, signal }, `incident resolved: ${service} ${signal} ${reason}`);
  };

  const tick = async () => {
    const closedBefore = Math.floor((options.now() - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
    const warming = processedUntil === undefined;
    const from = processedUntil ?? closedBefore - options.warmupBuckets * resolutionMs;
    if (from >= closedBefore) return;
    const points = await load(from, closedBefore);
    const incidents = new Map((await openIncidents(sql)).map((i) => [`${i.service}\u0000${i.signal}`, i]));

    // detect → decide
    for (const point of points) {
      const key = `${point.service}\u0000${point.signal}`;
      let entry = watched.get(key);
      if (!entry) {
        const name = options.detectors?.find((rule) => globMatches(rule.glob, point.signal))?.detector ?? 'default';
        entry = { detector: createDetector(name, { label: point.signal, unit: unitOf(point.signal), ...learning }), alarm: false };
        watched.set(key, entry);
      }
      const verdict = entry.detector.update(point.startMs, point.value);
      const was = entry.alarm;
      entry.alarm = verdict.anomalous;
      if (warming) continue;
      const incident = incidents.get(key);
      if (verdict.anomalous && !was && !incident) {
        await open(point.service, point.signal, point.startMs, closedBefore, { summary: verdict.explanation, value: point.value, baseline: verdict.usual, severity: 'warning' });
      } else if (!verdict.anomalous && was && incident) {
        await resolve(incident.id, point.service, point.signal, closedBefore, 'back within its usual range', point.value);
      }
    }
    // After a restart, an incident whose alarm cleared in the replayed history resolves now.
    if (warming) {
      for (const [key, incident] of incidents) {
        const entry = watched.get(key);
        if (entry && !entry.alarm) await resolve(incident.id, incident.service, incident.signal, closedBefore, 'back within its usual range', 0);
      }
    }
    processedUntil = closedBefore;
    await predictFailures(closedBefore, incidents);
    await forecastBudgets(closedBefore, incidents);
  };

  // predict: gauges with a limit, over the last hour of buckets (their maxima: the worst instance).
  const predictFailures = async (closedBefore: number, incidents: Map<string, { id: string }>) => {
    const signals = Object.keys(options.limits);
    if (signals.length === 0) return;
    const history = (await readSeries(sql, options.resolutionSeconds, closedBefore - 360 * resolutionMs, closedBefore)).filter((p) => p.operation === '' && signals.includes(p.signal));
    const bySeries = new Map<string, SeriesPoint[]>();
    for (const p of history) bySeries.set(`${p.service}\u0000${p.signal}`, [...(bySeries.get(`${p.service}\u0000${p.signal}`) ?? []), p]);
    for (const points of bySeries.values()) {
      const { service, signal } = points[0]!;
      const limit = options.limits[signal]!;
      const prediction = predict(points.map((p) => ({ timestampMs: p.startMs, value: p.max })), limit, { minPoints: 12, horizonMs: 3_600_000 });
      const incidentKey = `${service}\u0000failure.predicted`;
      if (prediction && prediction.confidence >= 0.9 && !incidents.has(incidentKey)) {
        const etaSeconds = Math.round(prediction.etaMs / 1000);
        await open(service, 'failure.predicted', points.at(-1)!.startMs, closedBefore, {
          summary: `${signal} predicted to reach its limit in ${etaSeconds} s: ${prediction.explanation}`,
          value: points.at(-1)!.max,
          baseline: limit,
          severity: 'critical',
          etaSeconds,
        });
      }
    }
  };

  // forecast: LLM spend per service against the budgets that match it.
  const forecastBudgets = async (closedBefore: number, incidents: Map<string, { id: string }>) => {
    for (const budget of options.budgets) {
      const since = periodStart(closedBefore, budget.period);
      const rows = await sql<{ service: string; spent: number; last_hour: number }[]>`
        SELECT service, sum(sum) AS spent,
               sum(sum) FILTER (WHERE bucket_start >= ${new Date(closedBefore - 3_600_000)}) AS last_hour
        FROM series
        WHERE signal = 'gen_ai.cost_usd' AND operation = '' AND bucket_start >= ${new Date(since)} AND bucket_start < ${new Date(closedBefore)}
          AND resolution_seconds = ${options.resolutionSeconds}
        GROUP BY service`;
      for (const row of rows) {
        if (!globMatches(budget.service, row.service) || incidents.has(`${row.service}\u0000gen_ai.budget`)) continue;
        const forecast = forecastSpend(budget, { spentUsd: row.spent ?? 0, lastHourUsd: row.last_hour ?? 0, nowMs: closedBefore });
        if (forecast.over) {
          await open(row.service, 'gen_ai.budget', since, closedBefore, { summary: forecast.explanation, value: forecast.forecastUsd, baseline: forecast.limitUsd, severity: 'warning' });
        }
      }
    }
  };

  return { tick };
};
