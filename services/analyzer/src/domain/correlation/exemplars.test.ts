import { describe, expect, it } from 'vitest';
import { createExemplarStore } from './exemplars.ts';
import { sid, span } from './test-spans.ts';

const trace = (n: number) => n.toString(16).padStart(32, '0');

describe('exemplar store', () => {
  it('keeps a failing trace whole, spans that came before the failure included', () => {
    const store = createExemplarStore();
    store.observe(span({ service: 'web', traceId: trace(1), spanId: sid(1), kind: 'server', startTimeMs: 1_000 }));
    store.observe(span({ service: 'db', traceId: trace(1), spanId: sid(2), parentSpanId: sid(1), kind: 'server', startTimeMs: 1_001, status: 'error' }));
    store.observe(span({ service: 'web', traceId: trace(1), spanId: sid(3), parentSpanId: sid(1), kind: 'internal', startTimeMs: 1_002 }));
    store.observe(span({ service: 'web', traceId: trace(2), spanId: sid(4), kind: 'server', startTimeMs: 1_003 }));
    expect(store.trace(trace(1))!.map((s) => s.spanId)).toEqual([sid(1), sid(2), sid(3)]);
    expect(store.trace(trace(2))!.map((s) => s.spanId)).toEqual([sid(4)]);
    expect(store.trace(trace(3))).toBeUndefined();
  });

  it('stays within its bounds', () => {
    const store = createExemplarStore({ maxTraces: 2, maxRecent: 2, maxSpansPerTrace: 2 });
    for (let n = 1; n <= 3; n++) store.observe(span({ service: 'db', traceId: trace(n), spanId: sid(n), kind: 'server', status: 'error' }));
    for (let n = 4; n <= 6; n++) store.observe(span({ service: 'web', traceId: trace(n), spanId: sid(n), kind: 'server' }));
    for (let i = 10; i < 13; i++) store.observe(span({ service: 'db', traceId: trace(3), spanId: sid(i), kind: 'internal' }));
    expect(store.trace(trace(1))).toBeUndefined();
    expect(store.trace(trace(4))).toBeUndefined();
    expect(store.trace(trace(3))).toHaveLength(2);
    expect(store.trace(trace(6))).toHaveLength(1);
  });
});
