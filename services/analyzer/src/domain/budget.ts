// Spend forecasts: at the current burn rate, how much will this period cost? The forecast is a signal,
// so the alert comes before the money is gone.
import type { CostBudget } from '@hephaestus/schemas';

export const periodStart = (nowMs: number, period: CostBudget['period']): number => {
  const d = new Date(nowMs);
  return period === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

export const periodEnd = (nowMs: number, period: CostBudget['period']): number => {
  const d = new Date(nowMs);
  return period === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

export type SpendForecast = { spentUsd: number; forecastUsd: number; limitUsd: number; over: boolean; explanation: string };

/** Spent so far plus the last hour's burn rate carried to the end of the period (UTC). */
export const forecastSpend = (budget: CostBudget, input: { spentUsd: number; lastHourUsd: number; nowMs: number }): SpendForecast => {
  const remainingHours = (periodEnd(input.nowMs, budget.period) - input.nowMs) / 3_600_000;
  const forecastUsd = input.spentUsd + input.lastHourUsd * remainingHours;
  const money = (usd: number) => `$${usd.toFixed(usd < 10 ? 2 : 0)}`;
  return {
    spentUsd: input.spentUsd,
    forecastUsd,
    limitUsd: budget.limitUsd,
    over: forecastUsd > budget.limitUsd,
    explanation: `LLM spend forecast ${money(forecastUsd)} for the ${budget.period === 'daily' ? 'day' : 'month'} vs budget ${money(budget.limitUsd)} (${money(input.spentUsd)} spent, ${money(input.lastHourUsd)} in the last hour)`,
  };
};
