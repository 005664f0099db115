// Hand-made spans for the correlation tests.
import type { SpanRecord } from '@hephaestus/schemas';

export const traceA = 'a'.repeat(32);

export const span = (fields: Partial<SpanRecord> & Pick<SpanRecord, 'service' | 'spanId' | 'kind'>): SpanRecord => {
  const startTimeMs = fields.startTimeMs ?? 1_000;
  const durationMs = fields.durationMs ?? 5;
  return {
    traceId: traceA,
    name: `${fields.kind} ${fields.service}`,
    startTimeUnixNano: String(BigInt(startTimeMs) * 1_000_000n),
    endTimeUnixNano: String(BigInt(startTimeMs + durationMs) * 1_000_000n),
    status: 'unset',
    attributes: {},
    resource: { 'service.name': fields.service },
    scope: { name: 'test' },
    events: [],
    links: [],
    ...fields,
    startTimeMs,
    durationMs,
  };
};

/** 16 hex digits from a small number, for readable span ids. */
export const sid = (n: number) => n.toString(16).padStart(16, '0');
