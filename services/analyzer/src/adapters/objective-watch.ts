// detect (objectives): each service's availability and latency objectives judged by multiwindow,
// multi-burn-rate rules over the rollups; a firing rule is an observation for the incident policy.
// Buckets are kept in memory over the longest window and re-read only where they may still change.
import type { Sql } from '@hephaestus/platform';
import { objectivesFor, type Objective, type ObjectivesConfig } from '@hephaestus/schemas';
import { evaluateObjective, lookbackMs, type EventBucket } from '../domain/burn-rate.ts';
import type { Observation } from '../domain/incident-policy.ts';
import { readObjectiveBuckets } from './burn-rate-source.ts';

export type ObjectiveWatchOptions = { sql: Sql; resolutionSeconds: number; objectives: ObjectivesConfig };

/** The signal a firing rule raises: pages (`burn_rate.availability`), or a ticket (`….ticket`, evidence only). */
export const burnRateSignal = (kind: Objective['kind'], severity: 'critical' | 'warning') => `burn_rate.${kind}${severity === 'critical' ? '' : '.ticket'}`;

export const createObjectiveWatch = (options: ObjectiveWatchOptions) => {
  const { sql, resolutionSeconds } = options;
  const resolutionMs = resolutionSeconds * 1000;
  const lookback = lookbackMs(options.objectives.alerting, resolutionSeconds);
  const kept = new Map<string, { objective: Objective; buckets: Map<number, EventBucket> }>();
  let readUntil: number | undefined;

  const observe = async (closedBefore: number): Promise<Observation[]> => {
    // Late spans may still change the last two buckets read.
    const fromMs = readUntil === undefined ? closedBefore - lookback : Math.min(readUntil, closedBefore) - 2 * resolutionMs;
    const fresh = await readObjectiveBuckets(sql, { resolutionSeconds, fromMs, toMs: closedBefore, objectivesOf: (s) => objectivesFor(options.objectives, s) });
    for (const [service, entries] of fresh) {
      for (const { objective, buckets } of entries) {
        const key = `${service}\u0000${objective.kind}`;
        const entry = kept.get(key) ?? { objective, buckets: new Map<number, EventBucket>() };
        for (const b of buckets) entry.buckets.set(b.startMs, b);
        kept.set(key, entry);
      }
    }
    readUntil = closedBefore;
    const out: Observation[] = [];
    for (const [key, entry] of kept) {
      for (const start of entry.buckets.keys()) if (start < closedBefore - lookback) entry.buckets.delete(start);
      if (entry.buckets.size === 0) {
        kept.delete(key);
        continue;
      }
      const buckets = [...entry.buckets.values()].sort((a, b) => a.startMs - b.startMs);
      const verdict = evaluateObjective(entry.objective, buckets, { resolutionSeconds, atMs: closedBefore });
      if (!verdict.firing) continue;
      out.push({
        service: entry.objective.service,
        signal: burnRateSignal(entry.objective.kind, verdict.severity),
        bucketStartMs: closedBefore - resolutionMs,
        value: verdict.burnRateLong,
        baseline: 1,
        summary: verdict.summary,
        explanation: verdict.explanation,
        severity: verdict.severity,
      });
    }
    return out;
  };

  return { observe };
};
