import { describe, expect, it } from 'vitest';
import { costUsd, priceFor, usageOf } from './llm-usage.ts';

describe('usageOf', () => {
  it('reads OpenAI chat completions', () => {
    const response = { model: 'gpt-4o-mini-2024-07-18', usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } };
    expect(usageOf(response)).toEqual({ inputTokens: 12, outputTokens: 5, responseModel: 'gpt-4o-mini-2024-07-18' });
  });

  it('reads Anthropic messages and OpenAI responses', () => {
    expect(usageOf({ model: 'claude-sonnet-4', usage: { input_tokens: 30, output_tokens: 9 } })).toEqual({
      inputTokens: 30,
      outputTokens: 9,
      responseModel: 'claude-sonnet-4',
    });
  });

  it('reads Gemini usage metadata and the Vercel AI SDK', () => {
    expect(usageOf({ modelVersion: 'gemini-2.0-flash', usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2 } })).toEqual({
      inputTokens: 4,
      outputTokens: 2,
      responseModel: 'gemini-2.0-flash',
    });
    expect(usageOf({ usage: { inputTokens: 1, outputTokens: 3 }, response: { modelId: 'gpt-4.1' } })).toEqual({
      inputTokens: 1,
      outputTokens: 3,
      responseModel: 'gpt-4.1',
    });
  });

  it('reports nothing for a response without usage', () => {
    expect(usageOf('plain text')).toEqual({});
    expect(usageOf({ usage: { input_tokens: -1 } })).toEqual({});
  });
});

describe('pricing', () => {
  const prices = [
    { model: 'gpt-4o', inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 },
    { model: 'gpt-4o-mini', inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6 },
  ];

  it('prices a model by its longest matching prefix', () => {
    expect(priceFor(prices, 'gpt-4o-mini-2024-07-18')?.model).toBe('gpt-4o-mini');
    expect(priceFor(prices, 'gpt-4o-2024-08-06')?.model).toBe('gpt-4o');
    expect(priceFor(prices, 'claude-sonnet-4')).toBeUndefined();
  });

  it('charges per million input and output tokens', () => {
    expect(costUsd(prices[1]!, 1_000_000, 500_000)).toBeCloseTo(0.45);
  });
});
