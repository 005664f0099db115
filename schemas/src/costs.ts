// The LLM price table and cost budgets (config/costs.yaml), validated at load.
import { z } from 'zod';

export const modelPrice = z.object({
  /** A model name as agents report it; the longest matching prefix wins ("gpt-4o-mini" prices "gpt-4o-mini-2024-07-18"). */
  model: z.string().min(1),
  inputPerMillionUsd: z.number().nonnegative(),
  outputPerMillionUsd: z.number().nonnegative(),
});
export type ModelPrice = z.infer<typeof modelPrice>;

export const costBudget = z.object({
  /** A glob over service.name. */
  service: z.string().default('*'),
  period: z.enum(['daily', 'monthly']),
  limitUsd: z.number().positive(),
});
export type CostBudget = z.infer<typeof costBudget>;

export const costsFile = z.object({
  prices: z.array(modelPrice).default([]),
  budgets: z.array(costBudget).default([]),
});
export type CostsConfig = z.infer<typeof costsFile>;
