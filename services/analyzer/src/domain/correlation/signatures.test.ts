import { describe, expect, it } from 'vitest';
import { createSurgeTracker, createTemplateMiner, maskMessage, poissonUpperTail, signatureIdOf, surgeTrackerFromJSON, templateMinerFromJSON } from './signatures.ts';

describe('maskMessage', () => {
  it.each([
    ['timeout after 3012 ms calling 10.0.0.7', 'timeout after <DURATION> calling <IP>'],
    ['deadline exceeded after 1.5s (retry 3)', 'deadline exceeded after <DURATION> (retry <NUM>)'],
    ['order 9b2c7f3e-1a4d-4e0b-9c1f-2b3a4c5d6e7f not found', 'order <UUID> not found'],
    ['connect ECONNREFUSED 10.0.3.4:5432', 'connect ECONNREFUSED <IP>'],
    ['segfault at 0x7ffd3a2c in libc, build 3fa9c0d1e2', 'segfault at <HEX> in libc, build <HEX>'],
    ['open /var/lib/app/data.db: permission denied', 'open <PATH>: permission denied'],
    ['GET https://api.example.com/v1/users?id=7 returned 503', 'GET <URL> returned <NUM>'],
    ['pod checkout-7d9f8b-x2k4 evicted at 2025-03-01T12:00:03.120Z', 'pod <ID> evicted at <TIME>'],
    ['mail to ops@example.com bounced', 'mail to <EMAIL> bounced'],
    ['rate limited: 429 Too Many Requests, used 41250 tokens', 'rate limited: <NUM> Too Many Requests, used <NUM> tokens'],
  ])('masks %j', (message, masked) => {
    expect(maskMessage(message)).toBe(masked);
  });

  it('leaves words and short versions alone', () => {
    expect(maskMessage('I/O error in and/or gpt-4o call over HTTP/1.1')).toBe('I/O error in and/or gpt-4o call over HTTP/1.1');
  });
});

describe('template miner', () => {
  it('gives messages that differ only in their variables one signature', () => {
    const miner = createTemplateMiner();
    const first = miner.add('timeout after 3012 ms calling 10.0.0.7');
    const second = miner.add('timeout after 2950 ms calling 10.0.0.9');
    expect(first).toEqual({ signatureId: signatureIdOf('timeout after <DURATION> calling <IP>'), template: 'timeout after <DURATION> calling <IP>', isNew: true });
    expect(second).toEqual({ ...first, isNew: false });
  });

  it('generalises a template to a wildcard where similar messages differ, naming the id it replaces', () => {
    const miner = createTemplateMiner();
    const alice = miner.add('login failed for user alice');
    const bob = miner.add('login failed for user bob');
    expect(bob).toEqual({ signatureId: signatureIdOf('login failed for user <*>'), template: 'login failed for user <*>', isNew: false, replaces: alice.signatureId });
    expect(miner.add('login failed for user carol')).toEqual({ signatureId: bob.signatureId, template: bob.template, isNew: false });
  });

  it('keeps dissimilar messages and messages of other lengths apart', () => {
    const miner = createTemplateMiner();
    const ids = new Set(
      ['connection refused by payments', 'deadlock detected on orders', 'connection refused by payments service', 'connection reset by peer host'].map((m) => miner.add(m).signatureId),
    );
    expect(ids.size).toBe(4);
    expect(miner.size).toBe(4);
  });

  it('gives the same template the same id in any process', () => {
    const a = createTemplateMiner().add('disk full on /dev/sda1');
    const b = createTemplateMiner().add('disk full on /dev/nvme0n1');
    expect(a.signatureId).toBe(b.signatureId);
  });

  it('keeps at most maxClusters templates, dropping the least recently matched', () => {
    const miner = createTemplateMiner({ maxClusters: 2 });
    miner.add('alpha failed hard');
    miner.add('beta broke down badly now');
    miner.add('alpha failed hard');
    miner.add('gamma');
    expect(miner.size).toBe(2);
    expect(miner.add('alpha failed hard').isNew).toBe(false);
    expect(miner.add('beta broke down badly now').isNew).toBe(true);
  });

  it('shares the wildcard branch once a node has maxChildren children', () => {
    const miner = createTemplateMiner({ maxChildren: 2 });
    miner.add('alpha one two');
    miner.add('beta one two');
    const overflow = miner.add('gamma one two');
    expect(miner.add('delta one two')).toMatchObject({ isNew: false, template: '<*> one two', replaces: overflow.signatureId });
  });

  it('restores from JSON with the same ids and nothing new', () => {
    const miner = createTemplateMiner();
    miner.add('payment 4411 declined: insufficient funds');
    const general = miner.add('payment 4412 declined: card expired');
    miner.add('cache miss storm');
    const restored = templateMinerFromJSON(JSON.parse(JSON.stringify(miner.toJSON())));
    expect(restored.size).toBe(2);
    expect(restored.add('payment 9000 declined: insufficient funds')).toEqual({ signatureId: general.signatureId, template: 'payment <NUM> declined: <*> <*>', isNew: false });
    expect(restored.add('cache miss storm').isNew).toBe(false);
  });
});

describe('surge tracker', () => {
  const bucket = (i: number) => i * 10_000;
  const steady = (tracker: ReturnType<typeof createSurgeTracker>, buckets: number, perBucket: number, sig = 'sig-a') => {
    for (let i = 0; i < buckets; i++) {
      if (perBucket > 0) tracker.add('checkout', sig, bucket(i) + 5, perBucket);
      expect(tracker.close(bucket(i))).toEqual([]);
    }
  };

  it('calls a signature new only after warm-up and with enough occurrences', () => {
    const tracker = createSurgeTracker({ warmupBuckets: 5, minNewCount: 3 });
    tracker.add('checkout', 'boot-noise', 1, 10);
    steady(tracker, 5, 0);
    tracker.add('checkout', 'rare', bucket(5) + 1, 2);
    expect(tracker.close(bucket(5))).toEqual([]);
    tracker.add('checkout', 'fresh', bucket(6) + 1, 3);
    expect(tracker.close(bucket(6))).toEqual([expect.objectContaining({ service: 'checkout', signatureId: 'fresh', kind: 'new', count: 3, bucketStartMs: bucket(6) })]);
    tracker.add('checkout', 'fresh', bucket(7) + 1, 3);
    expect(tracker.close(bucket(7))).toEqual([]);
  });

  it('calls a surge when a known signature jumps far past its baseline', () => {
    const tracker = createSurgeTracker();
    steady(tracker, 30, 2);
    tracker.add('checkout', 'sig-a', bucket(30) + 1, 6);
    expect(tracker.close(bucket(30))).toEqual([]);
    tracker.add('checkout', 'sig-a', bucket(31) + 1, 40);
    const [surge] = tracker.close(bucket(31));
    expect(surge).toMatchObject({ kind: 'surge', count: 40 });
    expect(surge!.baseline).toBeCloseTo((29 * 2 + 6) / 30, 5);
  });

  it('allows for a signature that is bursty by nature', () => {
    const tracker = createSurgeTracker();
    for (let i = 0; i < 30; i++) {
      tracker.add('checkout', 'bursty', bucket(i) + 1, i % 5 === 0 ? 14 : 1);
      tracker.close(bucket(i));
    }
    tracker.add('checkout', 'bursty', bucket(30) + 1, 20);
    expect(tracker.close(bucket(30))).toEqual([]);
  });

  it('carries history over when a template is renamed, in every service', () => {
    const tracker = createSurgeTracker({ warmupBuckets: 0, minNewCount: 1 });
    tracker.add('checkout', 'old', 1, 5);
    tracker.add('payments', 'old', 1, 5);
    tracker.add('payments', 'new', 2, 1);
    expect(tracker.close(0)).toHaveLength(3);
    tracker.add('checkout', 'old', bucket(1) + 1, 2);
    tracker.rename('old', 'new');
    tracker.add('checkout', 'new', bucket(1) + 1, 5);
    tracker.add('payments', 'new', bucket(1) + 1, 5);
    expect(tracker.close(bucket(1))).toEqual([]);
    expect(tracker.toJSON().known.map(([key]) => key.replace('\u0000', ' ')).sort()).toEqual(['checkout new', 'payments new']);
  });

  it('ignores counts stamped far ahead of the last closed bucket', () => {
    const tracker = createSurgeTracker({ warmupBuckets: 0, minNewCount: 1 });
    tracker.close(bucket(0));
    tracker.add('checkout', 'skewed', bucket(100), 50);
    expect(tracker.close(bucket(100))).toEqual([]);
    expect(tracker.toJSON().open).toEqual([]);
  });

  it('drops counts for a bucket already closed', () => {
    const tracker = createSurgeTracker({ warmupBuckets: 0, minNewCount: 1 });
    tracker.close(bucket(3));
    tracker.add('checkout', 'late', bucket(2) + 1, 50);
    expect(tracker.close(bucket(4))).toEqual([]);
  });

  it('restores from JSON with its baselines and warm-up', () => {
    const tracker = createSurgeTracker();
    steady(tracker, 30, 2);
    tracker.add('checkout', 'sig-a', bucket(30) + 1, 3);
    const restored = surgeTrackerFromJSON(JSON.parse(JSON.stringify(tracker.toJSON())));
    restored.add('checkout', 'sig-a', bucket(30) + 2, 37);
    restored.add('checkout', 'sig-b', bucket(30) + 2, 5);
    expect(restored.close(bucket(30)).map((s) => [s.signatureId, s.kind, s.count])).toEqual([
      ['sig-a', 'surge', 40],
      ['sig-b', 'new', 5],
    ]);
    expect(createSurgeTracker().toJSON()).toEqual({ version: 1, lastClosed: null, known: [], open: [] });
  });

  it('computes Poisson upper tails', () => {
    expect(poissonUpperTail(0, 3)).toBe(1);
    expect(poissonUpperTail(1, 1)).toBeCloseTo(1 - Math.exp(-1), 12);
    expect(poissonUpperTail(3, 2)).toBeCloseTo(1 - Math.exp(-2) * (1 + 2 + 2), 12);
    expect(poissonUpperTail(40, 2)).toBeLessThan(1e-30);
    expect(poissonUpperTail(40, 2)).toBeGreaterThan(0);
  });
});
