import { describe, expect, it } from 'vitest';
import { holt, leastSquares } from './linear-fit.ts';
import { sinceReset } from '@hephaestus/schemas';
import { envelope, predict, type Point } from './time-to-limit.ts';

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

describe('a recent ramp', () => {
  // The demo fleet's memory: 256 MiB within ±1.5 % against a 1 GiB limit; a leak adds 1 % of the limit
  // every 10 s. One point per interval, the bucket's maximum of one sample every 5 s.
  const MiB = 1024 * 1024;
  const limit = 1024 * MiB;
  const gauge = (seed: number, resolutionS: number, intervals: number, leakFromMs = Infinity) => {
    const r = random(seed);
    return Array.from({ length: intervals }, (_, i) => {
      const start = i * resolutionS * 1000;
      let max = 0;
      for (let at = start + 5000; at <= start + resolutionS * 1000; at += 5000) {
        const leaked = (Math.max(0, at - leakFromMs) / 10_000) * 0.01 * limit;
        max = Math.max(max, Math.min(limit, 256 * MiB * (1 + (r() - 0.5) * 0.03) + leaked));
      }
      return { timestampMs: 1_700_000_000_000 + start, value: max };
    });
  };
  /** Seconds from the onset until a prediction within 30 minutes: the analyzer's last hour, every interval. */
  const detectedAfter = (seed: number, resolutionS: number) => {
    const history = 3600 / resolutionS;
    const onsetMs = history * resolutionS * 1000 + 1234;
    const points = gauge(seed, resolutionS, history + 120, onsetMs);
    for (let i = history; i < points.length; i++) {
      const p = predict(sinceReset(points.slice(i + 1 - history, i + 1)), limit, { minPoints: 12, horizonMs: hour, recentPoints: Math.max(4, Math.ceil(25 / resolutionS)) });
      if (p && p.etaMs <= 30 * minute) return { seconds: (points[i]!.timestampMs - 1_700_000_000_000 + resolutionS * 1000 - onsetMs) / 1000, prediction: p };
    }
    return undefined;
  };

  it('predicts a leak that began after an hour of flat memory within a few intervals, at 5 s and at 10 s', () => {
    for (const [resolutionS, within] of [
      [5, 30],
      [10, 40],
    ] as const) {
      for (const seed of [1, 2, 3]) {
        const found = detectedAfter(seed, resolutionS)!;
        expect(found, `${resolutionS} s, seed ${seed}`).toBeDefined();
        expect(found.seconds).toBeLessThanOrEqual(within);
        // The limit is about 750 s after the onset: a lead of minutes, with the confidence the policy needs.
        expect(found.prediction.etaMs / 1000).toBeGreaterThan(600);
        expect(found.prediction.confidence).toBeGreaterThan(0.99);
      }
    }
    // The whole-window envelope alone waits until the ramp fills half the hour.
    const history = gauge(4, 5, 720 + 24, 720 * 5000);
    expect(predict(history.slice(-720), limit, { minPoints: 12, horizonMs: hour, recentPoints: 0 })).toBeUndefined();
    expect(predict(history.slice(-720), limit, { minPoints: 12, horizonMs: hour })).toBeDefined();
  });

  it('predicts nothing over 50 healthy hours of the same noisy gauge, checked every interval', () => {
    for (const resolutionS of [5, 10]) {
      const points = gauge(99, resolutionS, (50 * 3600) / resolutionS);
      const window = 3600 / resolutionS;
      let predicted = 0;
      // The recent ramp as the analyzer sets it: about 25 s, at least 4 points.
      const recentPoints = Math.max(4, Math.ceil(25 / resolutionS));
      for (let i = 12; i < points.length; i++) if (predict(sinceReset(points.slice(Math.max(0, i + 1 - window), i + 1)), limit, { minPoints: 12, horizonMs: hour, recentPoints })) predicted++;
      expect(predicted, `${resolutionS} s`).toBe(0);
    }
  });

  it('does not take a rising edge back to an earlier level for a ramp', () => {
    // Flat at 500, a dip to 300, then a steady climb back towards 500: no point is past the history.
    const points = series(60, minute, (i) => (i < 40 ? 500 + (i % 2) : i < 45 ? 300 : 300 + 12 * (i - 45)));
    expect(points.at(-1)!.value).toBeLessThan(500);
    expect(predict(points, 1000)).toBeUndefined();
    // The same climb past the old level is a ramp.
    const past = series(60, minute, (i) => (i < 40 ? 500 + (i % 2) : 380 + 12 * (i - 40)));
    expect(past.at(-1)!.value).toBeGreaterThan(501);
    expect(predict(past, 1000)).toBeDefined();
  });

  it('needs the climb to hold one point earlier too: one high point is no ramp', () => {
    const spike = series(60, minute, (i) => (i === 59 ? 700 : 500 + (i % 3)));
    expect(predict(spike, 1000)).toBeUndefined();
  });
});

describe('after a restart', () => {
  const leak = (from: number, n: number, start: number): Point[] => Array.from({ length: n }, (_, i) => ({ timestampMs: (from + i) * minute, value: start + i * 10 }));

  it('predicts nothing for a process just restarted, however steep the ramp before it was', () => {
    const before = leak(0, 60, 200);
    const series = [...before, ...Array.from({ length: 20 }, (_, i) => ({ timestampMs: (60 + i) * minute, value: 200 + Math.sin(i) * 3 }))];
    expect(predict(before, 1000, { minPoints: 12 })).toBeDefined();
    expect(predict(sinceReset(series), 1000, { minPoints: 12 })).toBeUndefined();
  });
});
