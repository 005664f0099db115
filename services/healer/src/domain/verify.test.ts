import { describe, expect, it } from 'vitest';
import { baselineOf, verifySignal } from './verify.ts';

const input = { signal: 'error_rate', startedAtMs: 100_000, windowSeconds: 20, max: 0.05 };
const p = (startMs: number, value: number, count = 40) => ({ startMs, value, count });

describe('verification of a remediation', () => {
  it('waits for the window while the service looks healthy', () => {
    expect(verifySignal([p(100_000, 0)], { ...input, nowMs: 110_000 })).toEqual({ done: false });
  });

  it('validates when every interval of the window is under the ceiling', () => {
    const result = verifySignal([p(90_000, 0.75), p(100_000, 0.025), p(110_000, 0)], { ...input, nowMs: 121_000 });
    expect(result).toEqual({ done: true, ok: true, detail: 'error_rate at most 2.5 % over 2 intervals (80 samples) after the action, expected at most 5.0 %' });
  });

  it('fails as soon as an interval after the action is over the ceiling', () => {
    expect(verifySignal([p(100_000, 0.5)], { ...input, nowMs: 105_000 })).toMatchObject({ done: true, ok: false, detail: expect.stringContaining('50.0 %') });
  });

  it('fails when there was no data to judge by', () => {
    expect(verifySignal([p(100_000, 0, 0)], { ...input, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: expect.stringContaining('no error_rate data') });
  });

  it('takes the baseline from the 30 intervals before the incident window', () => {
    const points = [p(0, 100), p(10_000, 200), p(290_000, 300), p(300_000, 900), p(-10_000, 5000)];
    expect(baselineOf(points, 300_000, 10_000)).toBe(200);
    expect(baselineOf([], 300_000, 10_000)).toBeUndefined();
  });

  it('judges against the baseline times a factor, and fails without a baseline', () => {
    const latency = { signal: 'latency_p99', startedAtMs: 100_000, windowSeconds: 20, baselineFactor: 1.5, baseline: 200 };
    expect(verifySignal([p(100_000, 250), p(110_000, 280)], { ...latency, nowMs: 121_000 })).toMatchObject({ done: true, ok: true });
    expect(verifySignal([p(100_000, 300)], { ...latency, nowMs: 105_000 })).toMatchObject({ done: true, ok: false, detail: 'latency_p99 300 ms after the action, expected under 300 ms (baseline 200 ms × 1.5)' });
    expect(verifySignal([p(100_000, 1)], { ...latency, baseline: undefined, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: expect.stringContaining('baseline') });
  });
});
