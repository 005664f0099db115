// Cache and merge keys for LLM requests: the provider, the model and a hash of the request that does not
// depend on the order its object keys were written in.
import { createHash } from 'node:crypto';

const sortKeys = (_key: string, value: unknown): unknown => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
};

/** The request as JSON would serialize it, with every object's keys sorted. */
export const stableStringify = (value: unknown): string => JSON.stringify(value, sortKeys) ?? 'undefined';

export const requestKey = (provider: string, model: string, request: unknown): string =>
  `${provider}:${model}:${createHash('sha256').update(stableStringify(request)).digest('hex')}`;
