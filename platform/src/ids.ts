// Ids derived from their inputs (UUID version 5 layout over SHA-1), so a replay produces the same ids
// and the event store's unique id makes the second append a no-op.
import { createHash, randomUUID } from 'node:crypto';

export const deterministicId = (...parts: Array<string | number | bigint>): string => {
  const hash = createHash('sha1').update(parts.join('\u001f')).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export const randomId = (): string => randomUUID();
