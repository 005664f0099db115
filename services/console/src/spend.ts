// The LLM spend API: what each service spent on each model over time, from the series the analyzer
// keeps (`gen_ai.cost_usd`, one series per model in `operation`, and their total under ''), and how
// fast each budget burns: spent this period, the forecast at its end, and when it runs out.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readSignals, type SignalPoint } from '@hephaestus/aggregates';
import type { Sql } from '@hephaestus/platform';
import { globMatches, type CostBudget } from '@hephaestus/schemas';
import { z } from 'zod';

type Problem = (reply: FastifyReply, status: number, title: string, detail: string) => FastifyReply;

// Budget periods are calendar days and months in UTC, as the analyzer's budget signal counts them.
const periodStart = (nowMs: number, period: CostBudget['period']): number => {
  const d = new Date(nowMs);
  return period === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const periodEnd = (nowMs: number, period: CostBudget['period']): number => {
  const d = new Date(nowMs);
  return period === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

export type BudgetBurn = CostBudget & {
  spentUsd: number;
  lastHourUsd: number;
  /** Spent so far plus the last hour's rate carried to the end of the period. */
  forecastUsd: number;
  periodEndsAt: string;
  /** When the budget is used up at the last hour's rate; null when it lasts the period. */
  runsOutAt: string | null;
};

/** A budget's burn at `nowMs`, given what its services spent this period and in the last hour. */
export const budgetBurn = (budget: CostBudget, input: { spentUsd: number; lastHourUsd: number; nowMs: number }): BudgetBurn => {
  const endMs = periodEnd(input.nowMs, budget.period);
  const left = budget.limitUsd - input.spentUsd;
  const runsOutMs = left <= 0 ? input.nowMs : input.lastHourUsd > 0 ? input.nowMs + (left / input.lastHourUsd) * 3_600_000 : undefined;
  return {
    ...budget,
    spentUsd: input.spentUsd,
    lastHourUsd: input.lastHourUsd,
    forecastUsd: input.spentUsd + input.lastHourUsd * ((endMs - input.nowMs) / 3_600_000),
    periodEndsAt: new Date(endMs).toISOString(),
    runsOutAt: runsOutMs !== undefined && runsOutMs < endMs ? new Date(Math.round(runsOutMs)).toISOString() : null,
  };
};

const spendQuery = z.object({ from: z.iso.datetime().optional(), to: z.iso.datetime().optional() });

/** The cost signal: one series per model in `operation`, their total under ''. */
const cost = 'gen_ai.cost_usd';
const costUsd = (points: SignalPoint[]) => points.reduce((total, p) => total + (p.value ?? 0), 0);

const budgetsAt = async (sql: Sql, budgets: CostBudget[], nowMs: number): Promise<BudgetBurn[]> => {
  if (budgets.length === 0) return [];
  const earliest = Math.min(...budgets.map((b) => periodStart(nowMs, b.period)));
  // Each service's total spend (all models), each moment once.
  const totals = await readSignals(sql, { signal: cost, operation: '', fromMs: earliest, toMs: nowMs });
  return budgets.map((budget) => {
    const startMs = periodStart(nowMs, budget.period);
    const mine = totals.filter((t) => globMatches(budget.service, t.service)).flatMap((t) => t.points);
    const sum = (fromMs: number) => costUsd(mine.filter((p) => p.startMs >= fromMs));
    return budgetBurn(budget, { spentUsd: sum(startMs), lastHourUsd: sum(Math.max(startMs, nowMs - 3_600_000)), nowMs });
  });
};

export const registerSpendApi = (app: FastifyInstance, options: { sql: Sql; problem: Problem; budgets?: CostBudget[] }) => {
  const { sql, problem } = options;
  app.get('/api/spend', async (request, reply) => {
    const query = spendQuery.safeParse(request.query);
    if (!query.success) return problem(reply, 400, 'Bad Request', `${query.error.issues[0]!.path.join('.')}: ${query.error.issues[0]!.message}`);
    const to = query.data.to ? new Date(query.data.to) : new Date();
    const from = query.data.from ? new Date(query.data.from) : new Date(to.getTime() - 3_600_000);
    if (from >= to) return problem(reply, 400, 'Bad Request', 'from must be before to');
    const series = (await readSignals(sql, { signal: cost, operation: { each: true }, fromMs: from.getTime(), toMs: to.getTime() })).map((s) => ({
      service: s.service,
      model: s.operation,
      costUsd: costUsd(s.points),
      points: s.points.map((p) => ({ time: new Date(p.startMs).toISOString(), resolutionSeconds: p.resolutionSeconds, costUsd: p.value ?? 0 })),
    }));
    const totals = series.filter((s) => s.model === '');
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      /** Per service, all models together. */
      services: totals.map(({ service, costUsd, points }) => ({ service, costUsd, points })).sort((a, b) => b.costUsd - a.costUsd),
      /** Per service and model. */
      models: series.filter((s) => s.model !== '').sort((a, b) => b.costUsd - a.costUsd),
      totalUsd: totals.reduce((total, s) => total + s.costUsd, 0),
      /** The budgets the console was given (`budgets` of the costs file), burned as of now. */
      budgets: await budgetsAt(sql, options.budgets ?? [], Date.now()),
    };
  });
};
