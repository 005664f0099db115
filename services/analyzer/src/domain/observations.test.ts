import { describe, expect, it } from 'vitest';
import { defaultErrorRateSettings } from './error-rate-detector.ts';
import { errorRateObservation } from './observations.ts';

const history = Array.from({ length: 30 }, (_, i) => ({ startMs: i * 10_000, calls: 100, errors: 1 }));
const at = (calls: number, errors: number) => ({ startMs: 30 * 10_000, calls, errors, errorTraceIds: ['t1'] });
const observe = (calls: number, errors: number, frozenBaseline?: number) =>
  errorRateObservation({ service: 'coder', current: at(calls, errors), history, frozenBaseline, settings: defaultErrorRateSettings, resolutionSeconds: 10 });

describe('error-rate observations', () => {
  it('turns a burst into an observation that explains its test', () => {
    expect(observe(100, 40)).toMatchObject({
      signal: 'error_rate', value: 0.4, calls: 100, errors: 40, traceIds: ['t1'], sustainOnly: false,
      explanation: { detector: 'binomial error-rate test', threshold: expect.closeTo(0.11, 5), windowSeconds: 10 },
    });
  });

  it('says nothing of a quiet interval, nor of one too small to judge', () => {
    expect(observe(100, 1)).toBeUndefined();
    expect(observe(4, 3)).toBeUndefined();
  });

  it('keeps an open incident alive while the rate stays off its frozen baseline, and lets it go once recovered', () => {
    expect(observe(100, 8, 0.01)).toMatchObject({ sustainOnly: true, baseline: 0.01, summary: 'error rate 8.0 % still above usual 1.0 %' });
    expect(observe(100, 2, 0.01)).toBeUndefined();
  });

  it('asks a service with little history to stand out twice as far: its usual errors are not known yet', () => {
    const young = (errors: number) =>
      errorRateObservation({ service: 'inventory', current: at(71, errors), history: history.slice(-3), settings: defaultErrorRateSettings, resolutionSeconds: 10 });
    expect(young(8)).toBeUndefined();
    expect(observe(71, 8)).toBeDefined();
    expect(young(30)).toMatchObject({ signal: 'error_rate' });
  });
});
