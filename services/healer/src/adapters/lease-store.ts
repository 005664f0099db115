// The `remediation_leases` table: who drives which remediation (the decisions are in domain/lease.ts).
// Every change to one lease runs under that lease's advisory lock, so two healers claiming, renewing or
// appending on one remediation go one after the other.
import { remediationsWithStatus, type RemediationRecord } from '@hephaestus/aggregates';
import type { Sql, TransactionSql } from '@hephaestus/platform';
import { claimLease, holdsLease, type Claim, type Lease } from '../domain/lease.ts';

type LeaseRow = { incident_id: string; owner: string; expires_at: Date; fence: string };

/** A fenced write found the lease gone: another healer drives the remediation now. */
export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  readonly lease: Lease;
  readonly current: Lease | undefined;
  constructor(lease: Lease, current: Lease | undefined) {
    super(`lease of the remediation of incident ${lease.incidentId} lost${current && current.owner !== lease.owner ? ` to healer ${current.owner}` : ''}`);
    this.lease = lease;
    this.current = current;
  }
}

const toLease = (row: LeaseRow | undefined): Lease | undefined =>
  row && { incidentId: row.incident_id, owner: row.owner, expiresAtMs: row.expires_at.getTime(), fence: Number(row.fence) };

const lockedLease = async (tx: TransactionSql, incidentId: string): Promise<Lease | undefined> => {
  await tx`SELECT pg_advisory_xact_lock(hashtext(${`heph-remediation-lease:${incidentId}`}))`;
  const [row] = await tx<LeaseRow[]>`SELECT incident_id, owner, expires_at, fence FROM remediation_leases WHERE incident_id = ${incidentId}`;
  return toLease(row);
};

const store = async (tx: TransactionSql, lease: Lease) => {
  await tx`
    INSERT INTO remediation_leases (incident_id, owner, expires_at, fence)
    VALUES (${lease.incidentId}, ${lease.owner}, ${new Date(lease.expiresAtMs)}, ${lease.fence})
    ON CONFLICT (incident_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, fence = excluded.fence`;
};

export const acquireLease = (sql: Sql, claim: { incidentId: string; owner: string; nowMs: number; ttlMs: number }): Promise<Claim> =>
  sql.begin(async (tx) => {
    const claimed = claimLease(await lockedLease(tx, claim.incidentId), claim);
    if (claimed.ok) await store(tx, claimed.lease);
    return claimed;
  });

/** Extends a lease still held to `nowMs + ttlMs`; false when it was lost (expired, or taken over). */
export const renewLease = (sql: Sql, lease: Lease, nowMs: number, ttlMs: number): Promise<boolean> =>
  sql.begin(async (tx) => {
    if (!holdsLease(await lockedLease(tx, lease.incidentId), lease, nowMs)) return false;
    await store(tx, { ...lease, expiresAtMs: nowMs + ttlMs });
    return true;
  });

/** The fence of a write: inside the append's transaction, throws LeaseLostError unless `lease` is still held. */
export const checkLease = async (tx: TransactionSql, lease: Lease, nowMs: number): Promise<void> => {
  const current = await lockedLease(tx, lease.incidentId);
  if (!holdsLease(current, lease, nowMs)) throw new LeaseLostError(lease, current);
};

/** Gives a lease up: deleted once the remediation is final, expired now when it is left unfinished (another healer takes it). */
export const releaseLease = (sql: Sql, lease: Lease, how: { final: boolean; nowMs: number }): Promise<void> =>
  sql.begin(async (tx) => {
    const current = await lockedLease(tx, lease.incidentId);
    if (current?.owner !== lease.owner || current.fence !== lease.fence) return;
    if (how.final) await tx`DELETE FROM remediation_leases WHERE incident_id = ${lease.incidentId}`;
    else await store(tx, { ...lease, expiresAtMs: how.nowMs });
  });

/**
 * Unfinished remediations `owner` may claim at `nowMs`: without a lease, with an expired one, or with
 * its own. Only a shortlist: acquireLease decides.
 */
export const claimableRemediations = async (sql: Sql, statuses: string[], owner: string, nowMs: number): Promise<RemediationRecord[]> => {
  const unfinished = await remediationsWithStatus(sql, statuses);
  if (unfinished.length === 0) return [];
  const rows = await sql<LeaseRow[]>`
    SELECT incident_id, owner, expires_at, fence FROM remediation_leases WHERE incident_id IN ${sql(unfinished.map((r) => r.incidentId))}`;
  const leases = new Map(rows.map((row) => [row.incident_id, toLease(row)!]));
  return unfinished.filter((r) => {
    const lease = leases.get(r.incidentId);
    return !lease || lease.expiresAtMs <= nowMs || lease.owner === owner;
  });
};
