import { describe, expect, it } from 'vitest';
import { claimLease, holdsLease, type Lease } from './lease.ts';

const held: Lease = { incidentId: 'i-1', owner: 'healer-a', expiresAtMs: 10_000, fence: 3 };
const claim = (owner: string, nowMs: number) => ({ incidentId: 'i-1', owner, nowMs, ttlMs: 15_000 });

describe('remediation leases', () => {
  it('gives a lease nobody holds to the first claimant, with the first fence', () => {
    expect(claimLease(undefined, claim('healer-b', 5_000))).toEqual({ ok: true, lease: { incidentId: 'i-1', owner: 'healer-b', expiresAtMs: 20_000, fence: 1 } });
  });

  it('refuses a lease another healer holds until it expires', () => {
    expect(claimLease(held, claim('healer-b', 9_999))).toEqual({ ok: false, heldBy: held });
  });

  it('hands an expired lease over with the next fence and names the healer it came from', () => {
    expect(claimLease(held, claim('healer-b', 10_000))).toEqual({ ok: true, lease: { incidentId: 'i-1', owner: 'healer-b', expiresAtMs: 25_000, fence: 4 }, takenFrom: held });
  });

  it('gives a healer restarted under the same id its own lease back at once, fenced against its earlier run', () => {
    expect(claimLease(held, claim('healer-a', 2_000))).toEqual({ ok: true, lease: { incidentId: 'i-1', owner: 'healer-a', expiresAtMs: 17_000, fence: 4 } });
  });

  it('counts a lease as held only by its holder, under its fence, before it expires', () => {
    expect(holdsLease(held, held, 9_999)).toBe(true);
    expect(holdsLease(held, held, 10_000)).toBe(false);
    expect(holdsLease({ ...held, owner: 'healer-b', fence: 4 }, held, 5_000)).toBe(false);
    expect(holdsLease({ ...held, fence: 4 }, held, 5_000)).toBe(false);
    expect(holdsLease(undefined, held, 5_000)).toBe(false);
  });
});
