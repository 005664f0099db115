// Error-rate math shared by detection (the analyzer's count-aware error-rate test) and verification
// (the healer's check that a fix brought the error rate under its ceiling), pure: a count of errors is
// judged against a rate with the number of calls it came from, so 1 error in 2 calls is not 50 %.
import { binomialDistribution, cumulativeStdNormalProbability } from 'simple-statistics';

/** P(X >= errors) for X ~ Binomial(calls, rate). */
export const binomialUpperTail = (calls: number, errors: number, rate: number): number => {
  if (errors <= 0) return 1;
  const table = calls <= 100_000 ? binomialDistribution(calls, rate) : undefined;
  if (table) return Math.min(1, table.slice(errors).reduce((sum, p) => sum + p, 0));
  const mean = calls * rate;
  const sd = Math.sqrt(calls * rate * (1 - rate));
  return 1 - cumulativeStdNormalProbability((errors - 0.5 - mean) / sd);
};
