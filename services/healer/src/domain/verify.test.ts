import { describe, expect, it } from 'vitest';
import { baselineOf, verifySignal } from './verify.ts';

const input = { signal: 'error_rate', startedAtMs: 100_000, windowSeconds: 20, max: 0.05 };
const p = (startMs: number, value: number, count = 40) => ({ startMs, value, count });

describe('verification of a remediation', () => {
  it('waits for the window while the service looks healthy', () => {
    expect(verifySignal([p(100_000, 0)], { ...input, nowMs: 110_000 })).toEqual({ done: false });
  });

  it('validates when the window, weighted by samples, is under the ceiling (intervals before the action ignored)', () => {
    const result = verifySignal([p(90_000, 0.75), p(100_000, 0.025), p(110_000, 0)], { ...input, nowMs: 121_000 });
    expect(result).toEqual({ done: true, ok: true, detail: 'error_rate 1.3 % over 2 intervals (80 samples, worst 2.5 %) in the 20 s after the action, expected at most 5.0 %' });
  });

  it('does not fail a fix for one small interval of stragglers, but does fail a window over the ceiling', () => {
    // 2 errors of 16 calls right after the action, then 60 clean calls: 2.6 % over the window.
    expect(verifySignal([p(100_000, 0.125, 16), p(110_000, 0, 60)], { ...input, nowMs: 121_000 })).toMatchObject({ done: true, ok: true });
    expect(verifySignal([p(100_000, 0.5), p(110_000, 0.02)], { ...input, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: expect.stringContaining('26.0 %') });
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
    expect(verifySignal([p(100_000, 300), p(110_000, 300)], { ...latency, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: 'latency_p99 300 ms over 2 intervals (80 samples, worst 300 ms) in the 20 s after the action, expected under 300 ms (baseline 200 ms × 1.5)' });
    expect(verifySignal([p(100_000, 1)], { ...latency, baseline: undefined, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: expect.stringContaining('baseline') });
  });

  it('lets the first of three or more intervals settle: calls in flight at the action end there', () => {
    // At 5 s: four intervals in the window. The pool drains slow calls from before the action into the first.
    const latency = { signal: 'gen_ai.client.operation.duration', startedAtMs: 100_000, windowSeconds: 20, baselineFactor: 2, baseline: 0.5 };
    const drained = [p(105_000, 0.6), p(100_000, 2.2), p(110_000, 0.55), p(115_000, 0.5)];
    expect(verifySignal(drained, { ...latency, nowMs: 121_000 })).toEqual({
      done: true,
      ok: true,
      detail: 'gen_ai.client.operation.duration 0.55 over 3 intervals (120 samples, worst 0.6, the first of 4 (2.2) settling) in the 20 s after the action, expected under 1 (baseline 0.5 × 2)',
    });
    // Still slow after it: the fix did not work.
    expect(verifySignal([p(100_000, 2.2), p(105_000, 1.9), p(110_000, 1.2), p(115_000, 1.1)], { ...latency, nowMs: 121_000 })).toMatchObject({ done: true, ok: false });
    // Two intervals: both judged, the first too.
    expect(verifySignal([p(100_000, 2.2), p(110_000, 0.5)], { ...latency, nowMs: 121_000 })).toMatchObject({ done: true, ok: false });
  });

  it('fails an error rate over its ceiling only when more errors came than chance allows there', () => {
    // At 5 s, after the settling interval: 4 errors in 72 calls (5.6 %) is what a 5 % ceiling gives by chance.
    const stragglers = [p(100_000, 0.048, 21), p(105_000, 0.087, 23), p(110_000, 0.04, 25), p(115_000, 0.042, 24)];
    const few = verifySignal(stragglers, { ...input, nowMs: 121_000 });
    expect(few).toMatchObject({ done: true, ok: true });
    expect(few.done && few.detail).toMatch(/^error_rate 5\.6 % over 3 intervals \(72 samples, worst 8\.7 %, the first of 4 \(4\.8 %\) settling\) in the 20 s after the action, expected at most 5\.0 %; 4 errors in 72 calls are within what 5\.0 % gives by chance \(p = 0\.\d{3}\)$/);
    // 12 in 72 (17 %) is not chance: the fix did not work.
    const many = verifySignal([p(100_000, 0.2, 24), p(105_000, 0.17, 24), p(110_000, 0.17, 24), p(115_000, 0.17, 24)], { ...input, nowMs: 121_000 });
    expect(many).toMatchObject({ done: true, ok: false });
    expect(many.done && many.detail).toMatch(/12 errors in 72 calls are more than what 5\.0 % gives by chance \(p < 0\.001\)$/);
    // Under 20 calls the rate itself is judged: 2 errors in 10 calls fail, as before.
    expect(verifySignal([p(100_000, 0.2, 10)], { ...input, nowMs: 121_000 })).toMatchObject({ done: true, ok: false, detail: expect.not.stringContaining('chance') });
  });
});
