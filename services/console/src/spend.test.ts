// A budget's burn, given/when/then on a fixed clock: spent this period, the forecast at its end, and
// when it runs out at the last hour's rate.
import { describe, expect, it } from 'vitest';
import { budgetBurn } from './spend.ts';

const at = (iso: string) => Date.parse(iso);

describe('budget burn', () => {
  it('forecasts the end of the day from the last hour and says when the budget runs out', () => {
    const burn = budgetBurn({ service: '*', period: 'daily', limitUsd: 100 }, { spentUsd: 40, lastHourUsd: 10, nowMs: at('2026-03-10T12:00:00Z') });
    expect(burn).toMatchObject({ spentUsd: 40, lastHourUsd: 10, forecastUsd: 160, periodEndsAt: '2026-03-11T00:00:00.000Z', runsOutAt: '2026-03-10T18:00:00.000Z' });
  });

  it('lasts the period when the rate does not reach the limit before it ends', () => {
    const burn = budgetBurn({ service: 'planner', period: 'monthly', limitUsd: 1000 }, { spentUsd: 100, lastHourUsd: 0.5, nowMs: at('2026-02-27T00:00:00Z') });
    expect(burn).toMatchObject({ periodEndsAt: '2026-03-01T00:00:00.000Z', runsOutAt: null, forecastUsd: 124 });
    expect(budgetBurn({ service: '*', period: 'daily', limitUsd: 5 }, { spentUsd: 1, lastHourUsd: 0, nowMs: at('2026-03-10T12:00:00Z') }).runsOutAt).toBeNull();
  });

  it('is run out now once the spend reached the limit', () => {
    const nowMs = at('2026-03-10T12:00:00Z');
    expect(budgetBurn({ service: '*', period: 'daily', limitUsd: 5 }, { spentUsd: 6, lastHourUsd: 0, nowMs }).runsOutAt).toBe('2026-03-10T12:00:00.000Z');
  });
});
