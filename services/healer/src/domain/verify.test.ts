import { describe, expect, it } from 'vitest';
import { verifyErrorRate } from './verify.ts';

const input = { actedAtMs: 100_000, windowSeconds: 20, maxErrorRate: 0.05 };

describe('verification of a remediation', () => {
  it('waits for the window while the service looks healthy', () => {
    expect(verifyErrorRate([{ startMs: 100_000, calls: 40, errors: 0 }], { ...input, nowMs: 110_000 })).toEqual({ done: false });
  });

  it('validates when every interval after the action is under the limit', () => {
    const result = verifyErrorRate(
      [{ startMs: 90_000, calls: 40, errors: 30 }, { startMs: 100_000, calls: 40, errors: 1 }, { startMs: 110_000, calls: 40, errors: 0 }],
      { ...input, nowMs: 121_000 },
    );
    expect(result).toEqual({ done: true, ok: true, detail: 'error rate 1.3 % over 80 calls in 2 intervals after the action' });
  });

  it('fails as soon as an interval after the action is over the limit', () => {
    const result = verifyErrorRate([{ startMs: 100_000, calls: 40, errors: 20 }], { ...input, nowMs: 105_000 });
    expect(result).toMatchObject({ done: true, ok: false });
  });

  it('fails when there was no traffic to judge by', () => {
    expect(verifyErrorRate([], { ...input, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: expect.stringContaining('no traffic') });
  });
});
