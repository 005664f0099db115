import { describe, expect, it } from 'vitest';
import { sid, span } from './test-spans.ts';
import { connectedWithin, createTopology, topologyFromJSON } from './topology.ts';

const call = (n: number, caller: string, callee: string, at: number, opts: { clientError?: boolean; serverError?: boolean } = {}) => [
  span({ service: caller, spanId: sid(n), kind: 'client', startTimeMs: at, status: opts.clientError ? 'error' : 'unset' }),
  span({ service: callee, spanId: sid(n + 1), parentSpanId: sid(n), kind: 'server', startTimeMs: at + 1, durationMs: 3, status: opts.serverError ? 'error' : 'unset' }),
];

describe('topology', () => {
  it('learns caller → callee from a client span and its server child, whichever arrives first', () => {
    const inOrder = createTopology({ maxPending: 100, windowMs: 60_000 });
    const reversed = createTopology({ maxPending: 100, windowMs: 60_000 });
    const [client, server] = call(1, 'checkout', 'payments', 1_000);
    inOrder.observe(client!);
    inOrder.observe(server!);
    reversed.observe(server!);
    reversed.observe(client!);
    for (const t of [inOrder, reversed]) {
      expect(t.edges(2_000)).toEqual([{ caller: 'checkout', callee: 'payments', calls: 1, errors: 0, errorRate: 0, lastSeenMs: 1_005 }]);
      expect(t.downstreamOf('checkout')).toEqual(['payments']);
      expect(t.upstreamOf('payments')).toEqual(['checkout']);
    }
  });

  it('counts a call as failed when the server child or the client span failed', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000 });
    for (const s of [...call(1, 'web', 'search', 1_000, { serverError: true }), ...call(3, 'web', 'search', 1_100, { clientError: true }), ...call(5, 'web', 'search', 1_200)]) t.observe(s);
    expect(t.edges(2_000)[0]).toMatchObject({ calls: 3, errors: 2, errorRate: 2 / 3 });
  });

  it('draws no edge for a call inside one service', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000 });
    for (const s of call(1, 'web', 'web', 1_000)) t.observe(s);
    expect(t.edges(2_000)).toEqual([]);
  });

  it('falls back to peer.service, then server.address, when no child span comes in time', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000, pendingMs: 5_000 });
    t.observe(span({ service: 'payments', spanId: sid(1), kind: 'client', startTimeMs: 1_000, attributes: { 'peer.service': 'postgres', 'server.address': 'db.internal' } }));
    t.observe(span({ service: 'coder', spanId: sid(2), kind: 'client', startTimeMs: 1_000, status: 'error', attributes: { 'server.address': 'api.openai.com' } }));
    t.observe(span({ service: 'coder', spanId: sid(3), kind: 'client', startTimeMs: 1_000 }));
    expect(t.edges(2_000)).toEqual([]);
    t.flush(6_100);
    expect(t.edges(6_100).map((e) => [e.caller, e.callee, e.errors])).toEqual([
      ['coder', 'api.openai.com', 1],
      ['payments', 'postgres', 0],
    ]);
  });

  it('gives pending spans up as later spans move time on', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000, pendingMs: 5_000 });
    t.observe(span({ service: 'payments', spanId: sid(1), kind: 'client', startTimeMs: 1_000, attributes: { 'peer.service': 'postgres' } }));
    t.observe(span({ service: 'web', spanId: sid(9), kind: 'server', startTimeMs: 7_000 }));
    expect(t.downstreamOf('payments')).toEqual(['postgres']);
  });

  it('links a consumer span to the producer span it names in its links', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000 });
    t.observe(span({ service: 'checkout', spanId: sid(1), kind: 'producer', startTimeMs: 1_000 }));
    t.observe(span({ service: 'notifier', spanId: sid(2), traceId: 'b'.repeat(32), kind: 'consumer', startTimeMs: 1_500, links: [{ traceId: 'a'.repeat(32), spanId: sid(1), attributes: {} }] }));
    expect(t.downstreamOf('checkout')).toEqual(['notifier']);
  });

  it('holds at most maxPending spans, giving the oldest up first', () => {
    const t = createTopology({ maxPending: 2, windowMs: 60_000 });
    t.observe(span({ service: 'a', spanId: sid(1), kind: 'client', startTimeMs: 1_000, attributes: { 'peer.service': 'x' } }));
    t.observe(span({ service: 'b', spanId: sid(2), kind: 'client', startTimeMs: 1_001 }));
    t.observe(span({ service: 'c', spanId: sid(3), kind: 'client', startTimeMs: 1_002 }));
    expect(t.toJSON().pending.map((p) => p.service)).toEqual(['b', 'c']);
    expect(t.downstreamOf('a')).toEqual(['x']);
  });

  it('counts calls over the sliding window only', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000 });
    for (const s of [...call(1, 'web', 'checkout', 1_000, { serverError: true }), ...call(3, 'web', 'checkout', 50_000)]) t.observe(s);
    expect(t.edges(55_000)[0]).toMatchObject({ calls: 2, errors: 1 });
    for (const s of call(5, 'web', 'checkout', 90_000)) t.observe(s);
    expect(t.edges(95_000)[0]).toMatchObject({ calls: 2, errors: 0 });
    expect(t.toJSON().edges[0]!.slots.length).toBeLessThanOrEqual(11);
  });

  it('forgets an edge with no call for forgetMs', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000, forgetMs: 600_000 });
    for (const s of [...call(1, 'web', 'legacy', 1_000), ...call(3, 'web', 'checkout', 700_000)]) t.observe(s);
    expect(t.downstreamOf('web')).toEqual(['checkout']);
    expect(t.upstreamOf('legacy')).toEqual([]);
  });

  it('keeps at most maxEdges, dropping the least recently called', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000, maxEdges: 2 });
    for (const s of [...call(1, 'web', 'a', 1_000), ...call(3, 'web', 'b', 2_000), ...call(5, 'web', 'a', 3_000), ...call(7, 'web', 'c', 4_000)]) t.observe(s);
    expect(t.downstreamOf('web')).toEqual(['a', 'c']);
  });

  it('survives a JSON round trip, pending spans included', () => {
    const t = createTopology({ maxPending: 100, windowMs: 60_000 });
    for (const s of call(1, 'web', 'checkout', 1_000)) t.observe(s);
    const [client, server] = call(3, 'checkout', 'payments', 1_100, { serverError: true });
    t.observe(client!);
    const restored = topologyFromJSON(JSON.parse(JSON.stringify(t.toJSON())), { maxPending: 100, windowMs: 60_000 });
    restored.observe(server!);
    expect(restored.edges(2_000).map((e) => [e.caller, e.callee, e.calls, e.errors])).toEqual([
      ['checkout', 'payments', 1, 1],
      ['web', 'checkout', 1, 0],
    ]);
    expect(restored.upstreamOf('checkout')).toEqual(['web']);
  });

  it('tells the services one calls or is called by, through a number of calls, and not those that only share a callee', () => {
    const calls: Record<string, string[]> = { edge: ['web'], web: ['api'], api: ['db', 'cache'], db: [], cache: [], batch: ['db'] };
    const view = { downstreamOf: (s: string) => calls[s] ?? [], upstreamOf: (s: string) => Object.keys(calls).filter((c) => calls[c]!.includes(s)) };
    expect([...connectedWithin(view, 'api', 1)].sort()).toEqual(['cache', 'db', 'web']);
    expect([...connectedWithin(view, 'api', 4)].sort()).toEqual(['cache', 'db', 'edge', 'web']);
    // batch shares db with api: a fault of api does not reach it.
    expect(connectedWithin(view, 'api', 4).has('batch')).toBe(false);
    expect([...connectedWithin(view, 'db', 4)].sort()).toEqual(['api', 'batch', 'edge', 'web']);
    expect(connectedWithin(view, 'lonely', 4).size).toBe(0);
  });
});
