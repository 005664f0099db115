// LLM usage from spans under the OpenTelemetry GenAI conventions: model, provider, tokens and cost.
// Reads the current attribute names and the older ones (gen_ai.system, prompt/completion tokens).
import type { ModelPrice, SpanRecord } from '@hephaestus/schemas';

export type LlmUsage = {
  service: string;
  model: string;
  provider: string;
  inputTokens: number;
  outputTokens: number;
  /** Undefined when the price table has no entry for the model. */
  costUsd: number | undefined;
  cacheHit: boolean | undefined;
  failed: boolean;
};

const number = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};

export const priceFor = (prices: ModelPrice[], model: string): ModelPrice | undefined => {
  let best: ModelPrice | undefined;
  for (const price of prices) {
    if (model.startsWith(price.model) && (!best || price.model.length > best.model.length)) best = price;
  }
  return best;
};

export const costUsd = (price: ModelPrice, inputTokens: number, outputTokens: number): number =>
  (inputTokens * price.inputPerMillionUsd + outputTokens * price.outputPerMillionUsd) / 1_000_000;

/** The usage a span reports, or undefined for a span that is not an LLM call. */
export const llmUsageOf = (span: SpanRecord, prices: ModelPrice[]): LlmUsage | undefined => {
  const a = span.attributes;
  const model = a['gen_ai.response.model'] ?? a['gen_ai.request.model'];
  if (typeof model !== 'string') return undefined;
  const inputTokens = number(a['gen_ai.usage.input_tokens'] ?? a['gen_ai.usage.prompt_tokens']) ?? 0;
  const outputTokens = number(a['gen_ai.usage.output_tokens'] ?? a['gen_ai.usage.completion_tokens']) ?? 0;
  const provider = a['gen_ai.provider.name'] ?? a['gen_ai.system'];
  const price = priceFor(prices, model);
  const cache = a['heph.cache.hit'] ?? a['gen_ai.cache.hit'];
  return {
    service: span.service,
    model,
    provider: typeof provider === 'string' ? provider : 'unknown',
    inputTokens,
    outputTokens,
    costUsd: price ? costUsd(price, inputTokens, outputTokens) : undefined,
    cacheHit: typeof cache === 'boolean' ? cache : undefined,
    failed: span.status === 'error',
  };
};
