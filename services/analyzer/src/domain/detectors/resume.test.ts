// A detector resumed from its persisted state (v8-serialized and back, as the analyzer stores it)
// judges every later point exactly as the detector that never stopped.
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createDetector, detectorNames } from './index.ts';
import { noisy, startMs } from './test-series.ts';

// Hourly points: 25 days, so the seasonal baseline learns its day and week too.
const stepMs = 3_600_000;
// Healthy noise with a step, a spike, a flat stretch and a NaN: every member's state gets exercised.
const values = [...noisy(400, 100, 5, 7), ...noisy(60, 160, 5, 8), 900, ...Array.from({ length: 40 }, () => 100), Number.NaN, ...noisy(100, 100, 5, 9)];
const verdictsOf = (detector: ReturnType<typeof createDetector>, from: number, to: number) =>
  values.slice(from, to).map((v, i) => {
    const verdict = detector.update(startMs + (from + i) * stepMs, v);
    return [verdict.score, verdict.anomalous, verdict.usual, verdict.spread];
  });

describe('detector state', () => {
  for (const name of detectorNames) {
    it(`${name}: resumed from a serialized copy at any point, it judges the rest as if it never stopped`, () => {
      const common = { label: 'latency', unit: 'ms', warmupPoints: 50 };
      const unbroken = createDetector(name, common);
      const expected = verdictsOf(unbroken, 0, values.length);
      // Something to get wrong: the detector scores this series (the default set and most members alarm on it).
      expect(expected.some(([score]) => (score as number) > 0)).toBe(true);
      for (const cut of [1, 120, 401, 461, 520]) {
        const before = createDetector(name, common);
        verdictsOf(before, 0, cut);
        const resumed = createDetector(name, common, deserialize(serialize(before.state)));
        expect(verdictsOf(resumed, cut, values.length)).toEqual(expected.slice(cut));
      }
    });
  }
});
