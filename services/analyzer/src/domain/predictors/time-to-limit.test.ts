import { describe, expect, it } from 'vitest';
import { holt, leastSquares } from './linear-fit.ts';
import { envelope, predict, sinceReset, type Point } from './time-to-limit.ts';

const minute = 60_000;
const hour = 60 * minute;

/** A deterministic pseudo-random generator (mulberry32), so the noisy series are the same every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const series = (points: number, stepMs: number, f: (i: number, t: number) => number): Point[] =>
  Array.from({ length: points }, (_, i) => ({ timestampMs: 1_700_000_000_000 + i * stepMs, value: f(i, i * stepMs) }));

describe('least squares and Holt', () => {
  it('recover the slope of an exact line, with no error', () => {
    const fit = leastSquares(series(10, minute, (i) => 5 + 2 * i))!;
    expect(fit.slope * minute).toBeCloseTo(2, 10);
    expect(fit.slopeError).toBeCloseTo(0, 10);
    expect(fit.r2).toBeCloseTo(1, 10);
    const h = holt(series(200, minute, (i) => 5 + 2 * i))!;
    expect(h.trend * minute).toBeCloseTo(2, 6);
    expect(h.level).toBeCloseTo(5 + 2 * 199, 4);
  });

  it('take the extreme of each time slice as the envelope', () => {
    const env = envelope(series(8, minute, (i) => (i % 2 === 0 ? i : -i)), 4, true);
    expect(env.map((p) => p.value)).toEqual([0, 2, 4, 6]);
  });
});

describe('time to limit', () => {
  const noise = random(42);

  it('predicts a memory leak: a linear rise with noise, with an interval around the true crossing', () => {
    // 500 MB rising 2 MB a minute (± 5 MB) towards a 1 GB limit: the mean reaches it (1024 - 500 - 2 * 119) / 2
    // = 143 minutes after the last point, its noise peaks about 2.5 minutes sooner; the envelope is what crashes.
    const leak = series(120, minute, (i) => 500 + 2 * i + (noise() - 0.5) * 10);
    const p = predict(leak, 1024)!;
    expect(p.method).toBe('least-squares');
    expect(p.etaMs / minute).toBeGreaterThan(135);
    expect(p.etaMs / minute).toBeLessThan(150);
    expect(p.lower).toBeLessThanOrEqual(p.etaMs);
    expect(p.upper).toBeGreaterThanOrEqual(p.etaMs);
    expect(p.lower / minute).toBeLessThan(141);
    expect(p.upper / minute).toBeGreaterThan(141);
    expect(p.confidence).toBeGreaterThan(0.99);
    expect(p.explanation).toMatch(/^crosses 1024 in 2\.\d h/);
  });

  it('predicts with Holt too, and Holt follows a ramp that started recently', () => {
    // Flat at 100 for two hours, then +5 a minute: Holt sees the current pace, the whole-window line a slower one.
    const ramp = series(180, minute, (i) => (i < 120 ? 100 : 100 + 5 * (i - 120)) + (noise() - 0.5));
    const h = predict(ramp, 1000, { method: 'holt' })!;
    const l = predict(ramp, 1000)!;
    // Truth: 1000 is reached 180 minutes after the ramp began, 121 minutes after the last point.
    expect(Math.abs(h.etaMs / minute - 121)).toBeLessThan(10);
    expect(l.etaMs).toBeGreaterThan(h.etaMs);
  });

  it('predicts a falling gauge against a lower limit (free disk)', () => {
    const disk = series(100, hour, (i) => 800 - 3 * i + (noise() - 0.5) * 4);
    const p = predict(disk, 50, { direction: 'down' })!;
    // (800 - 297 - 50) / 3 = 151 hours.
    expect(Math.abs(p.etaMs / hour - 151)).toBeLessThan(8);
    expect(p.explanation).toMatch(/falling (2\.9\d|3|3\.0\d) per hour/);
  });

  it('says 0 when the limit is already crossed', () => {
    expect(predict(series(30, minute, (i) => 100 + i), 50, { direction: 'up' })).toMatchObject({ etaMs: 0, confidence: 1 });
  });

  it('does not predict on a flat series', () => {
    expect(predict(series(200, minute, () => 512), 1024)).toBeUndefined();
  });

  it('does not predict on a noisy series without a trend', () => {
    const noisy = series(300, minute, () => 500 + (noise() - 0.5) * 200);
    expect(predict(noisy, 1024)).toBeUndefined();
    expect(predict(noisy, 1024, { method: 'holt' })).toBeUndefined();
  });

  it('does not predict a crash from a garbage-collection sawtooth whose peaks stay level', () => {
    // Heap climbs 10 MB a minute from 200 MB, collected back every 30 minutes: each rising edge is steep,
    // and it ends on one, but the envelope is flat.
    for (const phase of [0, 7, 15, 29]) {
      const gc = series(240, minute, (i) => 200 + 10 * ((i + phase) % 30) + (noise() - 0.5) * 4);
      expect(predict(gc, 1024)).toBeUndefined();
      expect(predict(gc, 1024, { method: 'holt' })).toBeUndefined();
    }
  });

  it('predicts from a sawtooth whose peaks climb (a leak under garbage collection), by the peaks', () => {
    const leakyGc = series(240, minute, (i) => 200 + 10 * (i % 30) + 1.5 * i);
    const p = predict(leakyGc, 1024)!;
    expect(p).toBeDefined();
    // The last peak is 848.5 MB and the peaks climb 1.5 MB a minute: 1024 about 117 minutes out (the troughs, much later).
    expect(p.etaMs / minute).toBeGreaterThan(105);
    expect(p.etaMs / minute).toBeLessThan(130);
  });

  it('needs enough points and ignores crossings beyond the horizon', () => {
    expect(predict(series(10, minute, (i) => i), 100)).toBeUndefined();
    expect(predict(series(100, minute, (i) => 100 + i * 0.001), 1e9)).toBeUndefined();
  });
});

describe('after a restart', () => {
  const leak = (from: number, n: number, start: number): Point[] => Array.from({ length: n }, (_, i) => ({ timestampMs: (from + i) * minute, value: start + i * 10 }));

  it('keeps only the points since the gauge last halved or fell further', () => {
    const before = leak(0, 60, 200);
    const after = leak(60, 5, 200);
    expect(sinceReset([...before, ...after])).toEqual(after);
    expect(sinceReset(before)).toEqual(before);
    // A sawtooth's shallow drops are not restarts.
    const saw = Array.from({ length: 40 }, (_, i) => ({ timestampMs: i * minute, value: 500 + (i % 5) * 40 }));
    expect(sinceReset(saw)).toHaveLength(40);
  });

  it('predicts nothing for a process just restarted, however steep the ramp before it was', () => {
    const before = leak(0, 60, 200);
    const series = [...before, ...Array.from({ length: 20 }, (_, i) => ({ timestampMs: (60 + i) * minute, value: 200 + Math.sin(i) * 3 }))];
    expect(predict(before, 1000, { minPoints: 12 })).toBeDefined();
    expect(predict(sinceReset(series), 1000, { minPoints: 12 })).toBeUndefined();
  });
});
