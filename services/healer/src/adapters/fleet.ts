// What the healer reads of the others' records, through their read models and event streams: the signal
// to verify with, the fleet seen lately, the recent remediations for the guard, an incident's evidence.
import { readSignal, recentRemediations, servicesSeenSince } from '@hephaestus/aggregates';
import { readStream, type Sql, type TransactionSql } from '@hephaestus/platform';
import { foldEvidence, type IncidentEvidence } from '../domain/evidence.ts';
import type { RecentRemediation } from '../domain/guard.ts';
import type { VerifyPoint } from '../domain/verify.ts';

/** Playbooks name the p99 latency `latency_p99`; the signal read model calls it `latency.p99_ms`. */
const readModelSignal: Record<string, string> = { latency_p99: 'latency.p99_ms' };

/**
 * Closed intervals of one service's signal in [fromMs, toMs) at the analyzer's resolution, as
 * verification weighs them (see readSignal): an interval without a latency counts 0 over 0 calls.
 */
export const verifyPoints = async (sql: Sql, resolutionSeconds: number, service: string, signal: string, fromMs: number, toMs: number): Promise<VerifyPoint[]> =>
  (await readSignal(sql, { service, signal: readModelSignal[signal] ?? signal, resolutionSeconds, fromMs, toMs })).map((p) => ({ startMs: p.startMs, value: p.value ?? 0, count: p.count }));

/** Services that sent telemetry in the last 10 minutes: the fleet the blast radius is a share of. */
export const fleetServices = (sql: Sql | TransactionSql, nowMs: number): Promise<string[]> => servicesSeenSince(sql, nowMs - 600_000);

/** Remediations that may bear on the guard: unfinished ones and those touched since `sinceMs`. */
export const guardRemediations = async (sql: Sql | TransactionSql, sinceMs: number): Promise<RecentRemediation[]> =>
  (await recentRemediations(sql, sinceMs)).map((r) => ({ id: r.id, playbookId: r.playbookId, service: r.service, status: r.status, startedAtMs: Date.parse(r.startedAt), updatedAtMs: Date.parse(r.updatedAt) }));

/**
 * The incident's evidence (signals per service with their side, value, baseline and signature; severity;
 * ranking) folded from its stream up to `throughVersion`: the settled ranking's version, so that what
 * the healer decides on does not depend on how far behind it reads.
 */
export const incidentFacts = async (sql: Sql, incidentId: string, throughVersion = Number.POSITIVE_INFINITY): Promise<IncidentEvidence | undefined> =>
  foldEvidence((await readStream(sql, `incident-${incidentId}`)).filter((e) => e.version <= throughVersion));
