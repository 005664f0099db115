import { describe, expect, it } from 'vitest';
import { forecastSpend, periodEnd, periodStart } from './budget.ts';

const noon = Date.UTC(2026, 10, 25, 12);

describe('spend forecast', () => {
  it('carries the last hour\'s burn rate to the end of the day', () => {
    const forecast = forecastSpend({ service: '*', period: 'daily', limitUsd: 100 }, { spentUsd: 40, lastHourUsd: 6, nowMs: noon });
    expect(forecast.forecastUsd).toBe(40 + 6 * 12);
    expect(forecast.over).toBe(true);
    expect(forecast.explanation).toBe('LLM spend forecast $112 for the day vs budget $100 ($40 spent, $6.00 in the last hour)');
  });

  it('stays quiet when the burn rate fits the budget', () => {
    expect(forecastSpend({ service: '*', period: 'monthly', limitUsd: 1000 }, { spentUsd: 100, lastHourUsd: 0.5, nowMs: noon }).over).toBe(false);
  });

  it('bounds the periods in UTC', () => {
    expect(periodStart(noon, 'daily')).toBe(Date.UTC(2026, 10, 25));
    expect(periodEnd(noon, 'monthly')).toBe(Date.UTC(2026, 11, 1));
  });
});
