// Remediation leases, decided on the lease as stored and the time (both arguments): a healer drives a
// remediation only while it holds the lease; another takes it over once it expires, and every new
// holder gets the next fence, so the one before can no longer append.
export type Lease = { incidentId: string; owner: string; expiresAtMs: number; fence: number };

export type Claim = { ok: true; lease: Lease; takenFrom?: Lease } | { ok: false; heldBy: Lease };

/**
 * `owner` claims the lease of a remediation at `nowMs`: it gets it when there is none, when it expired,
 * or when it is already the owner's (a healer restarted under the same HEPH_HEALER_ID takes its own
 * back at once); `takenFrom` names another healer whose lease expired.
 */
export const claimLease = (current: Lease | undefined, claim: { incidentId: string; owner: string; nowMs: number; ttlMs: number }): Claim => {
  if (current && current.owner !== claim.owner && current.expiresAtMs > claim.nowMs) return { ok: false, heldBy: current };
  const lease: Lease = { incidentId: claim.incidentId, owner: claim.owner, expiresAtMs: claim.nowMs + claim.ttlMs, fence: (current?.fence ?? 0) + 1 };
  return current && current.owner !== claim.owner ? { ok: true, lease, takenFrom: current } : { ok: true, lease };
};

/** Whether `mine` is still the lease at `nowMs`: same holder, same fence, not expired. */
export const holdsLease = (current: Lease | undefined, mine: Lease, nowMs: number): boolean =>
  current !== undefined && current.owner === mine.owner && current.fence === mine.fence && current.expiresAtMs > nowMs;

/** A holder renews every third of the lease's time: two renewals can fail before it lapses. */
export const renewalIntervalMs = (ttlMs: number): number => ttlMs / 3;
