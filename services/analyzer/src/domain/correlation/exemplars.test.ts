import { describe, expect, it } from 'vitest';
import { createExemplarStore, exemplarSpans, fewAttributes } from './exemplars.ts';
import { sid, span, traceA } from './test-spans.ts';

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

  it("samples each service's failing, slowest and a normal trace per window, whole", () => {
    const store = createExemplarStore({ sampleWindowMs: 60_000 });
    // checkout serves ten requests in the minute from 60 s: trace 1 to 10 take 10 … 100 ms, 3 and 7 fail
    // (in their db call), each with a db child span; then a request of another service.
    for (let n = 1; n <= 10; n++) {
      const failing = n === 3 || n === 7;
      store.observe(span({ service: 'db', traceId: trace(n), spanId: sid(100 + n), parentSpanId: sid(n), kind: 'server', startTimeMs: 60_000 + n * 1000, durationMs: 2, status: failing ? 'error' : 'unset' }));
      store.observe(span({ service: 'checkout', traceId: trace(n), spanId: sid(n), kind: 'server', startTimeMs: 60_000 + n * 1000, durationMs: n * 10, status: failing ? 'error' : 'unset' }));
    }
    store.observe(span({ service: 'search', traceId: trace(99), spanId: sid(99), kind: 'server', startTimeMs: 61_000, durationMs: 900 }));
    const picked = store.exemplars('checkout', { fromMs: 60_000, toMs: 120_000, limit: 5 });
    expect(picked.map((e) => [e.traceId, e.reason])).toEqual([
      [trace(3), 'failing'], [trace(7), 'failing'],
      [trace(10), 'slow'], [trace(9), 'slow'],
      [trace(1), 'normal'],
    ]);
    // Whole: the db span of the failing trace came with it.
    expect(picked[0]!.spans.map((s) => s.service).sort()).toEqual(['checkout', 'db']);
    // A trace the signal named comes first; outside the window there is nothing.
    expect(store.exemplars('checkout', { fromMs: 60_000, toMs: 120_000, traceIds: [trace(5)], limit: 2 }).map((e) => [e.traceId, e.reason])).toEqual([[trace(5), 'failing'], [trace(3), 'failing']]);
    expect(store.exemplars('checkout', { fromMs: 180_000, toMs: 240_000, limit: 5 })).toEqual([]);
    expect(store.exemplars('nobody', { fromMs: 0, toMs: 240_000, limit: 5 })).toEqual([]);
  });

  it('keeps the sample bounded: a few traces per window, the newest windows, the recently seen services', () => {
    const store = createExemplarStore({ sampleWindowMs: 1000, sampleWindows: 2, failingPerWindow: 1, slowPerWindow: 1, maxSampledServices: 1 });
    for (let n = 1; n <= 30; n++) store.observe(span({ service: 'web', traceId: trace(n), spanId: sid(n), kind: 'server', startTimeMs: n * 100, durationMs: n % 7, status: n % 5 === 0 ? 'error' : 'unset' }));
    // Windows 0 to 3 s seen; only 2 and 3 s kept, one failing, one slow and one normal each at most.
    const all = store.exemplars('web', { fromMs: 0, toMs: 10_000, limit: 100 });
    expect(all.length).toBeLessThanOrEqual(6);
    expect(all.every((e) => e.spans[0]!.startTimeMs >= 1900)).toBe(true);
    store.observe(span({ service: 'other', traceId: trace(40), spanId: sid(40), kind: 'server', startTimeMs: 3000 }));
    expect(store.exemplars('web', { fromMs: 0, toMs: 10_000, limit: 100 })).toEqual([]);
  });

  it('stores a few telling attributes of each span, never message content, in start order', () => {
    expect(
      fewAttributes({
        'custom.a': 1, 'http.request.method': 'POST', 'gen_ai.prompt': 'secret words', 'gen_ai.request.model': 'gpt-4o-mini', list: [1, 2], 'url.full': `https://x/${'y'.repeat(300)}`, flag: true,
      }, 4),
    ).toEqual({ 'http.request.method': 'POST', 'url.full': `https://x/${'y'.repeat(189)}…`, 'gen_ai.request.model': 'gpt-4o-mini', 'custom.a': 1 });
    const spans = exemplarSpans([
      span({ service: 'db', spanId: sid(2), parentSpanId: sid(1), kind: 'client', startTimeMs: 20, status: 'error', statusMessage: 'timeout' }),
      span({ service: 'web', spanId: sid(1), kind: 'server', startTimeMs: 10, durationMs: 40 }),
    ]);
    expect(spans).toEqual([
      { traceId: traceA, spanId: sid(1), service: 'web', name: 'server web', kind: 'server', startTimeMs: 10, durationMs: 40, status: 'unset', attributes: {} },
      { traceId: traceA, spanId: sid(2), parentSpanId: sid(1), service: 'db', name: 'client db', kind: 'client', startTimeMs: 20, durationMs: 5, status: 'error', statusMessage: 'timeout', attributes: {} },
    ]);
  });
});
