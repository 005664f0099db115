import { describe, expect, it } from 'vitest';
import { closeQuietGroups, correlate, correlateBatch, groupIdOf, rankRootCauses, shouldPage, type Group, type Signal } from './grouping.ts';
import { sid, span } from './test-spans.ts';
import type { Edge, TopologyView } from './topology.ts';

/** A hand-made topology: `caller>callee` pairs, with optional window counts per edge. */
const graph = (pairs: string[], counts: Record<string, [number, number]> = {}): TopologyView => {
  const list = pairs.map((p) => p.split('>') as [string, string]);
  return {
    downstreamOf: (s) => list.filter(([a]) => a === s).map(([, b]) => b),
    upstreamOf: (s) => list.filter(([, b]) => b === s).map(([a]) => a),
    edges: (): Edge[] =>
      list.map(([caller, callee]) => {
        const [calls, errors] = counts[`${caller}>${callee}`] ?? [100, 0];
        return { caller, callee, calls, errors, errorRate: errors / calls, lastSeenMs: 0 };
      }),
  };
};

const shop = graph(['web>checkout', 'checkout>payments', 'payments>db', 'web>search']);
const agents = graph(['planner>researcher', 'researcher>coder']);
const both: TopologyView = {
  downstreamOf: (s) => [...shop.downstreamOf(s), ...agents.downstreamOf(s)],
  upstreamOf: (s) => [...shop.upstreamOf(s), ...agents.upstreamOf(s)],
  edges: (now) => [...shop.edges(now), ...agents.edges(now)],
};

const signal = (service: string, onsetMs: number, extra: Partial<Signal> = {}): Signal => ({
  service,
  signal: 'error_rate',
  onsetMs,
  value: 0.5,
  summary: `${service} errors`,
  ...extra,
});

/** Runs signals through correlate the way the analyzer does: each result replaces or adds its group. */
const run = (signals: Signal[], topology: TopologyView = both, windowMs = 60_000) => {
  let groups: Group[] = [];
  const results = signals.map((s) => {
    const result = correlate(s, groups, topology, { windowMs, quietMs: 300_000 });
    groups = [...groups.filter((g) => g.id !== result.group.id), result.group];
    return result;
  });
  return { groups, results };
};

describe('correlate', () => {
  it('opens a group named after its first signal when nothing related is open', () => {
    const { results } = run([signal('payments', 10_000)]);
    expect(results[0]).toMatchObject({ isNew: true, attached: true, reason: 'no related open group' });
    expect(results[0]!.group).toMatchObject({ id: groupIdOf(signal('payments', 10_000)), openedMs: 10_000, lastActivityMs: 10_000 });
  });

  it('joins a cascade along the topology into one group', () => {
    const { groups, results } = run([signal('db', 0), signal('payments', 10_000), signal('checkout', 20_000), signal('web', 30_000)]);
    expect(groups).toHaveLength(1);
    expect(results.map((r) => r.reason)).toEqual(['no related open group', 'topology neighbour of db (1 hop)', 'topology neighbour of payments (1 hop)', 'topology neighbour of checkout (1 hop)']);
    expect(groups[0]!.signals.map((s) => s.service)).toEqual(['db', 'payments', 'checkout', 'web']);
  });

  it('keeps unrelated services apart', () => {
    const { groups } = run([signal('db', 0), signal('coder', 5_000)]);
    expect(groups).toHaveLength(2);
  });

  it('does not relate services further apart than maxHops', () => {
    const first = correlate(signal('db', 0), [], shop, { windowMs: 60_000, maxHops: 2 });
    expect(correlate(signal('web', 10_000), [first.group], shop, { windowMs: 60_000, maxHops: 2 }).isNew).toBe(true);
    expect(correlate(signal('web', 10_000), [first.group], shop, { windowMs: 60_000, maxHops: 3 }).isNew).toBe(false);
  });

  it('joins on a shared exemplar trace or error signature even without a topology path', () => {
    const { groups, results } = run([
      signal('db', 0, { traceIds: ['t1', 't2'] }),
      signal('coder', 5_000, { traceIds: ['t9', 't2'] }),
      signal('planner', 6_000, { signal: 'error_signature', signature: 'sig-1' }),
      signal('search', 7_000, { signal: 'error_signature', signature: 'sig-1' }),
    ]);
    expect(results.map((r) => r.reason)).toEqual(['no related open group', 'shares exemplar trace t2', 'topology neighbour of coder (2 hops)', 'same error signature as planner']);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.traceIds).toEqual(['t1', 't2', 't9']);
  });

  it('refreshes a signal raised again instead of attaching it twice', () => {
    const { groups, results } = run([signal('search', 0), signal('search', 20_000, { value: 0.7, traceIds: ['t3'] })]);
    expect(results[1]).toMatchObject({ isNew: false, attached: false, reason: 'same service as the open group (search)' });
    expect(groups[0]!.signals).toEqual([expect.objectContaining({ onsetMs: 0, lastSeenMs: 20_000, occurrences: 2, value: 0.7, traceIds: ['t3'] })]);
    expect(groups[0]!.lastActivityMs).toBe(20_000);
  });

  it('keeps a flapping service in its incident past the window until the incident has been quiet', () => {
    const { groups } = run([signal('search', 0), signal('search', 10_000), signal('search', 200_000), signal('search', 450_000)]);
    expect(groups).toHaveLength(1);
    expect(run([signal('search', 0), signal('search', 10_000), signal('search', 311_000)]).groups).toHaveLength(2);
  });

  it('lets a blip that never became an incident go after the window', () => {
    expect(run([signal('search', 0), signal('search', 61_000)]).groups).toHaveLength(2);
  });

  it('relates neighbours only within the window', () => {
    expect(run([signal('db', 0), signal('payments', 59_999)]).groups).toHaveLength(1);
    expect(run([signal('db', 0), signal('payments', 60_000)]).groups).toHaveLength(2);
    expect(run([signal('db', 100_000), signal('payments', 30_000)]).groups).toHaveLength(2);
  });

  it('prefers the strongest relation, then the most recently active group', () => {
    const traceGroup = correlate(signal('coder', 0, { traceIds: ['t7'] }), [], both, { windowMs: 60_000 }).group;
    const neighbourGroup = correlate(signal('checkout', 1_000), [], both, { windowMs: 60_000 }).group;
    const joined = correlate(signal('payments', 2_000, { traceIds: ['t7'] }), [neighbourGroup, traceGroup], both, { windowMs: 60_000 });
    expect(joined.group.id).toBe(traceGroup.id);
    const later = correlate(signal('checkout', 3_000), [], both, { windowMs: 60_000 }).group;
    expect(correlate(signal('payments', 4_000), [neighbourGroup, later], both, { windowMs: 60_000 }).group.openedMs).toBe(3_000);
  });

  it('holds at most maxSignals signals and maxTraceIds trace ids', () => {
    let group = correlate(signal('s0', 0, { traceIds: ['a', 'b', 'c'] }), [], both, { windowMs: 60_000, maxSignals: 2, maxTraceIds: 2 }).group;
    for (const s of ['s0', 's0']) group = correlate(signal(s, 1_000, { signal: `other-${group.signals.length}`, traceIds: ['d'] }), [group], both, { windowMs: 60_000, maxSignals: 2, maxTraceIds: 2 }).group;
    expect(group.signals).toHaveLength(2);
    expect(group.traceIds).toEqual(['a', 'b']);
  });

  it('keeps one pass\'s related signals together whatever order they come in', () => {
    // search and payments are 3 hops apart; checkout and web link them within the batch.
    const batch = [signal('search', 0), signal('payments', 0), signal('web', 0), signal('checkout', 0), signal('coder', 0)];
    for (const order of [batch, [...batch].reverse()]) {
      const { groups, correlations } = correlateBatch(order, [], shop, { windowMs: 60_000, maxHops: 1 });
      expect(groups.map((g) => g.signals.map((s) => s.service).sort()).sort((a, b) => b.length - a.length)).toEqual([['checkout', 'payments', 'search', 'web'], ['coder']]);
      expect(new Set(correlations.map((c) => c.group.id)).size).toBe(2);
    }
    const { correlations } = correlateBatch(batch, [], shop, { windowMs: 60_000, maxHops: 1 });
    expect(correlations.map((c) => [c.isNew, c.reason])).toEqual([
      [true, 'no related open group'],
      [true, 'related through other signals of the same pass'],
      [true, 'topology neighbour of search (1 hop)'],
      [true, 'topology neighbour of payments (1 hop)'],
      [true, 'no related open group'],
    ]);
  });

  it('sends a batch to the open group most strongly related to any of its signals', () => {
    const open = correlate(signal('db', 0, { traceIds: ['t1'] }), [], shop, { windowMs: 60_000 }).group;
    const { groups, correlations } = correlateBatch([signal('web', 10_000), signal('checkout', 10_000), signal('search', 10_000, { traceIds: ['t1'] })], [open], shop, { windowMs: 60_000, maxHops: 1 });
    expect(groups).toHaveLength(1);
    expect(correlations.map((c) => [c.isNew, c.attached, c.reason])).toEqual([
      [false, true, 'topology neighbour of search (1 hop)'],
      [false, true, 'topology neighbour of web (1 hop)'],
      [false, true, 'shares exemplar trace t1'],
    ]);
  });

  it('pages a group for a corroborated detector signal, not for a log signature alone nor one echoed by a surge', () => {
    const blip = run([signal('search', 0)]).groups[0]!;
    expect(shouldPage(blip)).toBe(false);
    expect(shouldPage(run([signal('search', 0), signal('search', 10_000)]).groups[0]!)).toBe(true);
    expect(shouldPage(run([signal('search', 0), signal('web', 0)]).groups[0]!)).toBe(true);
    const surge = { signal: 'error_signature.surge', signature: 'sig-1' };
    const fresh = { signal: 'error_signature.new', signature: 'sig-2' };
    expect(shouldPage(run([signal('search', 0, surge), signal('search', 10_000, surge), signal('search', 10_000, fresh)]).groups[0]!)).toBe(false);
    expect(shouldPage(run([signal('search', 0, surge), signal('web', 0, surge), signal('search', 0)]).groups[0]!)).toBe(false);
    expect(shouldPage(run([signal('search', 0, fresh), signal('search', 0)]).groups[0]!)).toBe(true);
  });

  it('closes groups that have been quiet for quietMs', () => {
    const { groups } = run([signal('db', 0), signal('db', 10_000), signal('coder', 200_000), signal('coder', 210_000), signal('search', 220_000)]);
    const at = (nowMs: number) => closeQuietGroups(groups, nowMs, { windowMs: 60_000, quietMs: 300_000 });
    expect(at(300_000).closed.map((g) => g.signals[0]!.service)).toEqual(['search']);
    expect(at(310_000).closed.map((g) => g.signals[0]!.service)).toEqual(['db', 'search']);
    expect(at(510_000).open).toEqual([]);
  });
});

describe('rankRootCauses', () => {
  const cascade = (onsets: number[]) => run(['db', 'payments', 'checkout', 'web'].map((s, i) => signal(s, onsets[i]!)), shop).groups[0]!;

  it('names the callee whose errors appeared first and propagated upstream', () => {
    const ranked = rankRootCauses(cascade([0, 10_000, 20_000, 30_000]), shop);
    expect(ranked.map((c) => c.service)).toEqual(['db', 'payments', 'checkout', 'web']);
    expect(ranked[0]!.evidence).toEqual(['earliest onset (10 s before payments)', 'errors propagate upstream: db → payments → checkout → web']);
    expect(ranked.reduce((n, c) => n + c.confidence, 0)).toBeLessThanOrEqual(1);
    expect(ranked[0]!.confidence).toBeGreaterThan(ranked[1]!.confidence * 2);
  });

  it('lets the topology decide when every service went bad in the same interval', () => {
    const ranked = rankRootCauses(cascade([0, 0, 0, 0]), shop);
    expect(ranked[0]!.service).toBe('db');
    expect(ranked[0]!.evidence[0]).toBe('earliest onset (together with payments, checkout, web)');
  });

  it('counts the deepest failing span of each exemplar trace', () => {
    const group = cascade([0, 0, 0, 0]);
    const trace = (n: number, deepest: string) => {
      const t = n.toString(16).padStart(32, '0');
      const chain = ['web', 'checkout', 'payments', 'db'];
      return chain.map((service, i) =>
        span({ service, traceId: t, spanId: sid(n * 10 + i), parentSpanId: i > 0 ? sid(n * 10 + i - 1) : undefined, kind: 'server', status: chain.indexOf(deepest) >= i ? 'error' : 'unset' }),
      );
    };
    const flatGraph = graph([]);
    const ranked = rankRootCauses(group, flatGraph, [trace(1, 'payments'), trace(2, 'payments'), trace(3, 'db')]);
    expect(ranked[0]).toMatchObject({ service: 'payments', evidence: ['earliest onset (together with db, checkout, web)', 'deepest failing span in 2 of 3 exemplar traces'] });
  });

  it('blames a dependency without telemetry when calls into it fail', () => {
    const topology = graph(['web>checkout', 'checkout>payments', 'payments>postgres'], { 'payments>postgres': [200, 180], 'checkout>payments': [150, 120] });
    const group = run([signal('payments', 0), signal('checkout', 10_000), signal('web', 20_000)], topology).groups[0]!;
    const failedCall = span({ service: 'payments', spanId: sid(3), parentSpanId: sid(2), kind: 'client', status: 'error', attributes: { 'peer.service': 'postgres' } });
    const ranked = rankRootCauses(group, topology, [[span({ service: 'payments', spanId: sid(2), kind: 'server', status: 'error' }), failedCall]]);
    expect(ranked[0]).toMatchObject({
      service: 'postgres',
      evidence: [
        'errors propagate upstream: postgres → payments → checkout → web',
        'calls from payments fail (90 % of 200)',
        'deepest failing span in 1 of 1 exemplar traces',
        'sent no signal of its own (no telemetry, or it failed silently)',
      ],
    });
    expect(ranked[1]!.service).toBe('payments');
  });

  it('blames the service whose spans fail deepest even before its own error rate crosses the line (a bad deploy restarting)', () => {
    const group = run([signal('planner', 0), signal('researcher', 0)], agents).groups[0]!;
    const trace = (n: number) => {
      const t = n.toString(16).padStart(32, '0');
      return ['planner', 'researcher', 'coder'].map((service, i) => span({ service, traceId: t, spanId: sid(n * 10 + i), parentSpanId: i > 0 ? sid(n * 10 + i - 1) : undefined, kind: 'server', status: 'error' }));
    };
    const ranked = rankRootCauses(group, agents, [trace(1), trace(2), trace(3)]);
    expect(ranked[0]!.service).toBe('coder');
    expect(ranked[0]!.confidence).toBeGreaterThan(ranked[1]!.confidence);
    expect(ranked.find((c) => c.service === 'researcher')!.evidence).toContain('depends on affected coder (its errors may come from there)');
  });

  it('takes a service downstream whose traffic fell and that reports no errors for a victim of its affected callers', () => {
    // A provider outage at the researcher: its callers fail with it, and the coder it calls gets fewer,
    // slower calls. Downstream of every other affected service, the coder would look like the source.
    const errors = { signal: 'error_rate', value: 0.3, baseline: 0.01 };
    const signals = [
      signal('researcher', 5_000, errors),
      signal('planner', 5_000, errors),
      signal('coder', 5_000, { signal: 'latency.p95_ms', value: 1980, baseline: 1210 }),
      signal('coder', 5_000, { signal: 'calls', value: 9, baseline: 21 }),
    ];
    const ranked = rankRootCauses(run(signals, agents).groups[0]!, agents);
    expect(ranked[0]!.service).toBe('researcher');
    expect(ranked[0]!.evidence).not.toContain('depends on affected coder (its errors may come from there)');
    const coder = ranked.find((c) => c.service === 'coder')!.evidence;
    expect(coder).toContain('gets less work than usual and reports no errors: a victim of affected researcher, planner upstream');
    expect(coder.filter((e) => e.startsWith('errors propagate upstream'))).toEqual([]);
    // More calls than usual is no sign of starving; nor are fewer calls on a service that errs itself.
    for (const coder of [{ signal: 'calls', value: 40, baseline: 21 }, { signal: 'gen_ai.errors', value: 5, baseline: 0 }]) {
      const busy = rankRootCauses(run([...signals.slice(0, 3), signal('coder', 5_000, coder), ...(coder.signal === 'gen_ai.errors' ? [signal('coder', 5_000, { signal: 'calls', value: 9, baseline: 21 })] : [])], agents).groups[0]!, agents);
      expect(busy[0]!.service).toBe('coder');
    }
  });

  it('ranks a lone service as its own cause', () => {
    const ranked = rankRootCauses(run([signal('search', 0)]).groups[0]!, shop);
    expect(ranked).toEqual([{ service: 'search', confidence: expect.any(Number), evidence: ['the only affected service'] }]);
    expect(ranked[0]!.confidence).toBeGreaterThan(0.7);
  });
});
