import type { SpanRecord } from '@hephaestus/schemas';
import { describe, expect, it } from 'vitest';
import { llmUsageOf, priceFor } from './llm-usage.ts';

const prices = [
  { model: 'gpt-4o', inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 },
  { model: 'gpt-4o-mini', inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6 },
];

const span = (attributes: SpanRecord['attributes'], status: SpanRecord['status'] = 'ok'): SpanRecord => ({
  service: 'planner',
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId: 'eee19b7ec3c1b174',
  name: 'chat',
  kind: 'client',
  startTimeUnixNano: '0',
  endTimeUnixNano: '0',
  startTimeMs: 0,
  durationMs: 1,
  status,
  attributes,
  resource: {},
  scope: { name: 'x' },
  events: [],
  links: [],
});

describe('LLM usage from GenAI spans', () => {
  it('reads the current conventions and prices by the response model', () => {
    const usage = llmUsageOf(span({ 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 500, 'heph.cache.hit': false }), prices);
    expect(usage).toEqual({ service: 'planner', model: 'gpt-4o-mini-2024-07-18', provider: 'openai', inputTokens: 1000, outputTokens: 500, costUsd: (1000 * 0.15 + 500 * 0.6) / 1e6, cacheHit: false, failed: false });
  });

  it('reads the older attribute names (gen_ai.system, prompt and completion tokens)', () => {
    const usage = llmUsageOf(span({ 'gen_ai.request.model': 'gpt-4o', 'gen_ai.system': 'openai', 'gen_ai.usage.prompt_tokens': '2000', 'gen_ai.usage.completion_tokens': 100 }, 'error'), prices);
    expect(usage).toMatchObject({ model: 'gpt-4o', provider: 'openai', inputTokens: 2000, outputTokens: 100, costUsd: (2000 * 2.5 + 100 * 10) / 1e6, failed: true });
  });

  it('leaves the cost unknown for a model without a price, and ignores spans that are not LLM calls', () => {
    expect(llmUsageOf(span({ 'gen_ai.request.model': 'llama-3-70b', 'gen_ai.usage.input_tokens': 5 }), prices)?.costUsd).toBeUndefined();
    expect(llmUsageOf(span({ 'http.route': '/x' }), prices)).toBeUndefined();
  });

  it('picks the longest matching price prefix', () => {
    expect(priceFor(prices, 'gpt-4o-mini-2024')?.model).toBe('gpt-4o-mini');
    expect(priceFor(prices, 'gpt-4o-2024')?.model).toBe('gpt-4o');
    expect(priceFor(prices, 'o1')).toBeUndefined();
  });
});
