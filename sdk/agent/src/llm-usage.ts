// Token usage and cost of one LLM response. Reads the usage shapes of the common client libraries,
// so most agents need no extractor of their own: OpenAI chat completions (prompt_tokens,
// completion_tokens) and responses, Anthropic messages (input_tokens, output_tokens), Google Gemini
// (usageMetadata) and the Vercel AI SDK (inputTokens, outputTokens, response.modelId).

export type LlmUsage = { inputTokens?: number; outputTokens?: number; responseModel?: string };

/** Prices as config/costs.yaml writes them: the longest matching model prefix wins. */
export type ModelPrice = { model: string; inputPerMillionUsd: number; outputPerMillionUsd: number };

type Obj = Record<string, unknown>;
const objectAt = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' ? (v as Obj) : undefined);
const count = (...values: unknown[]): number | undefined =>
  values.find((v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0);
const text = (...values: unknown[]): string | undefined => values.find((v): v is string => typeof v === 'string' && v.length > 0);

export const usageOf = (response: unknown): LlmUsage => {
  const r = objectAt(response);
  if (!r) return {};
  const u = objectAt(r.usage) ?? {};
  const gemini = objectAt(r.usageMetadata) ?? {};
  const usage: LlmUsage = {};
  const inputTokens = count(u.input_tokens, u.prompt_tokens, u.inputTokens, u.promptTokens, gemini.promptTokenCount);
  const outputTokens = count(u.output_tokens, u.completion_tokens, u.outputTokens, u.completionTokens, gemini.candidatesTokenCount);
  const responseModel = text(r.model, r.modelVersion, objectAt(r.response)?.modelId);
  if (inputTokens !== undefined) usage.inputTokens = inputTokens;
  if (outputTokens !== undefined) usage.outputTokens = outputTokens;
  if (responseModel !== undefined) usage.responseModel = responseModel;
  return usage;
};

export const priceFor = (prices: readonly ModelPrice[], model: string): ModelPrice | undefined => {
  let best: ModelPrice | undefined;
  for (const price of prices) {
    if (model.startsWith(price.model) && (!best || price.model.length > best.model.length)) best = price;
  }
  return best;
};

export const costUsd = (price: ModelPrice, inputTokens: number, outputTokens: number): number =>
  (inputTokens * price.inputPerMillionUsd + outputTokens * price.outputPerMillionUsd) / 1_000_000;
