// Hand-made series for the detector tests: deterministic noise (mulberry32 + Box-Muller), a clock.
import type { Detection, Detector } from './detector.ts';

export const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

export const gaussian = (seed: number) => {
  const u = random(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
};

export const startMs = Date.UTC(2026, 0, 5);

/** Feeds values at a fixed step and returns every verdict. */
export const feed = (detector: Detector, values: ReadonlyArray<number>, stepMs = 60_000): Detection[] =>
  values.map((v, i) => detector.update(startMs + i * stepMs, v));

export const noisy = (points: number, mean: number, sd: number, seed = 1): number[] => {
  const g = gaussian(seed);
  return Array.from({ length: points }, () => mean + sd * g());
};

export const maxScore = (verdicts: ReadonlyArray<Detection>, from = 0, to = verdicts.length): number =>
  verdicts.slice(from, to).reduce((m, v) => Math.max(m, v.score), 0);

export const alarms = (verdicts: ReadonlyArray<Detection>, from = 0, to = verdicts.length): number =>
  verdicts.slice(from, to).filter((v) => v.anomalous).length;
