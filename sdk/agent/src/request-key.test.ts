import { describe, expect, it } from 'vitest';
import { requestKey, stableStringify } from './request-key.ts';

describe('requestKey', () => {
  it('gives the same key for requests whose object keys come in another order', () => {
    const a = { messages: [{ role: 'user', content: 'hi' }], temperature: 0, tools: { b: 1, a: 2 } };
    const b = { tools: { a: 2, b: 1 }, temperature: 0, messages: [{ content: 'hi', role: 'user' }] };
    expect(requestKey('openai', 'gpt-4o-mini', a)).toBe(requestKey('openai', 'gpt-4o-mini', b));
  });

  it('separates models, providers, array orders and values', () => {
    const request = { messages: ['a', 'b'] };
    const key = requestKey('openai', 'gpt-4o-mini', request);
    expect(requestKey('openai', 'gpt-4o', request)).not.toBe(key);
    expect(requestKey('anthropic', 'gpt-4o-mini', request)).not.toBe(key);
    expect(requestKey('openai', 'gpt-4o-mini', { messages: ['b', 'a'] })).not.toBe(key);
    expect(requestKey('openai', 'gpt-4o-mini', { messages: ['a', 'c'] })).not.toBe(key);
    expect(key).toMatch(/^openai:gpt-4o-mini:[0-9a-f]{64}$/);
  });

  it('serializes like JSON: undefined properties drop out, dates become strings', () => {
    expect(stableStringify({ b: undefined, a: new Date(0) })).toBe('{"a":"1970-01-01T00:00:00.000Z"}');
    expect(stableStringify(undefined)).toBe('undefined');
  });
});
