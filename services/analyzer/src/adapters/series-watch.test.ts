// The series path on real PostgreSQL: stored buckets → detectors, predictors and budgets → the
// observations the incident policy judges.
import { deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '@hephaestus/platform';
import { freshDatabase, testLogger, useFreshDatabase } from '@hephaestus/platform/testing';
import type { Observation } from '../domain/incident-policy.ts';
import type { SeriesDelta } from '../domain/series.ts';
import { limitsOf, recordServiceLimits } from './rollup-store.ts';
import { mergeSeries } from './series-store.ts';
import { createSeriesWatch, levelOf } from './series-watch.ts';

const resolution = 10;
const t0 = Date.UTC(2026, 10, 25, 10);
const bucket = (i: number) => t0 + i * resolution * 1000;

/** A deterministic wiggle, so the series has a spread to learn. */
const wiggle = (i: number) => Math.sin(i * 1.7) * 3 + Math.cos(i * 0.3) * 2;

const delta = (service: string, signal: string, i: number, value: number, aggregation: 'mean' | 'sum' = 'mean'): SeriesDelta => ({
  service,
  operation: '',
  signal,
  aggregation,
  bucketStartMs: bucket(i),
  sum: value,
  count: 1,
  min: value,
  max: value,
});

describe('series watch', () => {
  const db = useFreshDatabase();

  it('observes a learned series jumping, with its baseline and detector, and stops once it settles', async () => {
    // 400 healthy buckets of queue depth around 100, stored before the watch starts.
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 400 }, (_, i) => delta('worker', 'queue.depth', i, 100 + wiggle(i)))));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 400, limits: {}, budgets: [] });
    expect(await watch.observe(bucket(400))).toEqual([]);

    await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('worker', 'queue.depth', 400, 400)]));
    // Its interval is judged once the worker's own telemetry has moved on (a late exporter is waited for).
    expect(await watch.observe(bucket(401))).toEqual([]);
    await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('worker', 'queue.depth', 401, 100 + wiggle(401))]));
    const [jump, ...rest] = await watch.observe(bucket(401));
    expect(rest).toEqual([]);
    expect(jump).toMatchObject({ service: 'worker', signal: 'queue.depth', bucketStartMs: bucket(400), value: 400, explanation: { detector: 'default' } });
    expect(jump!.baseline).toBeGreaterThan(90);
    expect(jump!.baseline).toBeLessThan(110);
    expect(jump!.summary).toMatch(/queue\.depth 400/);

    let last: unknown[] = [];
    for (let i = 402; i < 420; i++) {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('worker', 'queue.depth', i, 100 + wiggle(i))]));
      last = await watch.observe(bucket(i));
    }
    expect(last).toEqual([]);
  });

  it('learns for only HEPH_DETECT_WARMUP_BUCKETS points when that is shorter than the detectors\' own warm-up', async () => {
    // 40 healthy buckets, then a jump: a 40-bucket warm-up judges it, the default (300 points) is still learning.
    const run = async (service: string, warmupBuckets: number) => {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 40 }, (_, i) => delta(service, 'queue.depth', 5000 + i, 100 + wiggle(i)))));
      const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets, limits: {}, budgets: [] });
      await watch.observe(bucket(5040));
      await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta(service, 'queue.depth', 5040, 400), delta(service, 'queue.depth', 5041, 100)]));
      return (await watch.observe(bucket(5041))).filter((o) => o.service === service);
    };
    expect(await run('short-warmup', 40)).toMatchObject([{ signal: 'queue.depth' }]);
    expect(await run('default-warmup', 360)).toEqual([]);
  });

  it('judges a late exporter\'s interval once its telemetry arrives, while the others move on', async () => {
    const healthy = (service: string) => Array.from({ length: 40 }, (_, i) => delta(service, 'queue.depth', 7000 + i, 100 + wiggle(i)));
    await db.sql.begin((tx) => mergeSeries(tx, resolution, [...healthy('prompt'), ...healthy('late')]));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 40, limits: {}, budgets: [] });
    await watch.observe(bucket(7040));
    // prompt exports on time; late's interval 7040 (its jump) is not there yet when 7040 closes.
    await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('prompt', 'queue.depth', 7040, 100), delta('prompt', 'queue.depth', 7041, 101)]));
    expect(await watch.observe(bucket(7041))).toEqual([]);
    await db.sql.begin((tx) => mergeSeries(tx, resolution, [delta('late', 'queue.depth', 7040, 400), delta('late', 'queue.depth', 7041, 400), delta('prompt', 'queue.depth', 7042, 99)]));
    const seen = await watch.observe(bucket(7042));
    expect(seen.map((o) => [o.service, o.bucketStartMs])).toContainEqual(['late', bucket(7040)]);
  });

  it('holds a series an incident froze a baseline for: once the detector adapted to the new level, each interval still says where it stands', async () => {
    const healthy = Array.from({ length: 40 }, (_, i) => delta('creeper', 'latency.p95_ms', 9000 + i, 300 + wiggle(i)));
    // The level moves to 900 and stays: the detector flags the step, then learns the new level.
    const high = Array.from({ length: 60 }, (_, i) => delta('creeper', 'latency.p95_ms', 9040 + i, 900 + wiggle(i)));
    await db.sql.begin((tx) => mergeSeries(tx, resolution, [...healthy, ...high]));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 40, limits: {}, budgets: [] });
    await watch.observe(bucket(9040));
    const frozen = new Map([['creeper', 300]]);
    const seen = await watch.observe(bucket(9099), undefined, (service, signal) => (signal === 'latency.p95_ms' ? frozen.get(service) : undefined));
    const mine = seen.filter((o) => o.service === 'creeper');
    // Every interval judged is an observation: anomalous while the detector sees the step, held after.
    expect(mine).toHaveLength(59);
    const held = mine.filter((o) => o.sustainOnly);
    expect(held.length).toBeGreaterThan(0);
    expect(held[0]).toMatchObject({ baseline: 300, explanation: { evidence: 'held against the baseline frozen at opening (hysteresis)' } });
    expect(held.at(-1)!.summary).toMatch(/^latency\.p95_ms [89]\d\d still off 300, its usual value when the incident opened$/);
    // Without an incident holding it, the adapted detector says nothing more.
    const free = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 40, limits: {}, budgets: [] });
    await free.observe(bucket(9040));
    expect((await free.observe(bucket(9099))).filter((o) => o.service === 'creeper' && !o.sustainOnly).length).toBeLessThan(mine.length);
  });

  it('sees a symptom that creeps as a level shift against its lagged baseline; a quantile series and a cause are left to the detectors', async () => {
    // LLM latency 0.5 s (± 2 %) for 60 intervals, then up by its usual value every 24 intervals.
    const latency = (i: number) => (0.5 + wiggle(i) * 0.003) * (1 + Math.max(0, i - 60) / 24);
    const signals = ['gen_ai.client.operation.duration', 'gen_ai.client.operation.duration.p95', 'gen_ai.input_tokens'];
    await db.sql.begin((tx) => mergeSeries(tx, resolution, signals.flatMap((signal) => Array.from({ length: 60 }, (_, i) => delta('slowing', signal, 11_000 + i, latency(i))))));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 60, limits: {}, budgets: [] });
    await watch.observe(bucket(11_060));
    const shifts: Array<{ i: number; signal: string; baseline: number; evidence?: string }> = [];
    for (let i = 60; i < 90; i++) {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, signals.map((signal) => delta('slowing', signal, 11_000 + i, latency(i)))));
      for (const o of await watch.observe(bucket(11_000 + i + 1))) {
        if (o.service === 'slowing' && o.explanation?.detector === 'level-shift') shifts.push({ i: (o.bucketStartMs - bucket(11_000)) / (resolution * 1000), signal: o.signal, baseline: o.baseline, evidence: o.explanation.evidence });
      }
    }
    expect(shifts.length).toBeGreaterThan(0);
    expect(new Set(shifts.map((s) => s.signal))).toEqual(new Set(['gen_ai.client.operation.duration']));
    // +30 % (latency's bar for a creep still climbing) is reached 7.2 intervals in, +50 % 12; at 10 s the
    // level of a climb is where the line through the last five intervals is now, judged against 48
    // intervals ending 6 ago (a minute), which this slow creep reaches a little.
    expect(shifts[0]!.i).toBeGreaterThanOrEqual(67);
    expect(shifts[0]!.i).toBeLessThanOrEqual(70);
    expect(shifts[0]!.baseline).toBeCloseTo(0.5, 1);
    expect(shifts[0]!.evidence).toMatch(/^the line through the last 5 intervals .* above the median 0\.5\d* of 48 intervals ending 6 ago .*, and still climbing$/);
  });

  it('takes a creep every peer shares for the host\'s or the provider\'s, not one service\'s; one that creeps alone beside them still shows', async () => {
    // Five agents' LLM latency, 0.5 s (± 2 %) each, for 60 intervals; then all of them slow down together
    // (a busy host), and one of them twice as fast as the others.
    const services = ['a1', 'a2', 'a3', 'a4', 'lone'];
    const shared = (i: number) => 1 + Math.max(0, i - 60) / 24;
    const latency = (service: string, i: number) => (0.5 + wiggle(i + service.length) * 0.003) * (service === 'lone' ? shared(i) ** 2 : shared(i));
    const signal = 'gen_ai.client.operation.duration';
    await db.sql.begin((tx) => mergeSeries(tx, resolution, services.flatMap((service) => Array.from({ length: 60 }, (_, i) => delta(service, signal, 12_000 + i, latency(service, i))))));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 60, limits: {}, budgets: [] });
    await watch.observe(bucket(12_060));
    const seen: Observation[] = [];
    for (let i = 60; i < 90; i++) {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, services.map((service) => delta(service, signal, 12_000 + i, latency(service, i)))));
      seen.push(...(await watch.observe(bucket(12_000 + i + 1))));
    }
    // The four that slowed with everyone: no level shift, and no anomaly said to have crept up gradually.
    const shared4 = seen.filter((o) => o.service !== 'lone');
    expect(shared4.filter((o) => o.explanation?.detector === 'level-shift')).toEqual([]);
    expect(shared4.filter((o) => o.explanation?.onset === 'gradual')).toEqual([]);
    // The one that slowed beyond them: a level shift against its baseline carried along with its peers'.
    const lone = seen.filter((o) => o.service === 'lone' && o.explanation?.detector === 'level-shift');
    expect(lone.length).toBeGreaterThan(0);
    expect(lone[0]!.explanation?.evidence).toMatch(/moved \d+ % up with its peers/);
    expect(lone[0]!.baseline).toBeGreaterThan(0.55);
  });

  it('takes no service it calls or is called by for a peer: a fault slows its callers with it, and must not carry its own baseline off', async () => {
    // The reviewer's latency creeps; its four callers' slow down with it (the same calls, through them);
    // three services elsewhere stay flat.
    const callers = ['c1', 'c2', 'c3', 'c4'];
    const elsewhere = ['x1', 'x2', 'x3'];
    const services = ['reviewer', ...callers, ...elsewhere];
    const creep = (i: number) => 1 + Math.max(0, i - 60) / 24;
    const latency = (service: string, i: number) => (0.5 + wiggle(i + service.length) * 0.003) * (elsewhere.includes(service) ? 1 : creep(i));
    const signal = 'gen_ai.client.operation.duration';
    const watchWith = async (connectedTo: ((service: string) => ReadonlySet<string>) | undefined, base: number) => {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, services.flatMap((service) => Array.from({ length: 60 }, (_, i) => delta(service, signal, base + i, latency(service, i))))));
      const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 60, limits: {}, budgets: [], connectedTo, checkpointSeconds: 0 });
      await watch.observe(bucket(base + 60));
      const seen: Observation[] = [];
      for (let i = 60; i < 90; i++) {
        await db.sql.begin((tx) => mergeSeries(tx, resolution, services.map((service) => delta(service, signal, base + i, latency(service, i)))));
        seen.push(...(await watch.observe(bucket(base + i + 1))));
      }
      await db.sql`DELETE FROM series`;
      return seen.filter((o) => o.service === 'reviewer' && o.explanation?.detector === 'level-shift');
    };
    const connected = (service: string) => new Set(service === 'reviewer' ? callers : callers.includes(service) ? ['reviewer', ...callers.filter((c) => c !== service)] : []);
    // With its callers for peers, their median moved with the creep and hid it.
    expect(await watchWith(undefined, 13_000)).toEqual([]);
    // Judged beside the services elsewhere, the creep shows.
    const shifts = await watchWith(connected, 14_000);
    expect(shifts.length).toBeGreaterThan(0);
    expect(shifts[0]!.baseline).toBeCloseTo(0.5, 1);
  });

  it('checkpoints its detectors and resumes from them after a restart as if it never stopped, beyond its warm-up', async () => {
    // Two databases with the same 360 buckets of a symptom and a gauge: in one the watch runs without a
    // break; in the other it stops after bucket 330 (killed: no checkpoint at stop) and a new one resumes.
    const [unbrokenDb, restartedDb] = await Promise.all([freshDatabase(), freshDatabase()]);
    const open = (url: string) => openDatabase({ url, dataDir: '', log: testLogger() });
    const [a, b] = await Promise.all([open(unbrokenDb.url), open(restartedDb.url)]);
    try {
      const value = (i: number) => [delta('steady', 'gen_ai.client.operation.duration', 20_000 + i, 0.5 + wiggle(i) * 0.01), delta('steady', 'queue.depth', 20_000 + i, 100 + wiggle(i))];
      const fill = (sql: typeof a.sql, from: number, to: number) => sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: to - from }, (_, k) => value(from + k)).flat()));
      await Promise.all([fill(a.sql, 0, 300), fill(b.sql, 0, 300)]);
      const settings = { resolutionSeconds: resolution, warmupBuckets: 100, limits: {}, budgets: [] };
      const run = async (watch: ReturnType<typeof createSeriesWatch>, sql: typeof a.sql, from: number, to: number) => {
        for (let i = from; i < to; i++) {
          await fill(sql, i, i + 1);
          await watch.observe(bucket(20_000 + i + 1));
        }
      };
      const saved = async (sql: typeof a.sql) => {
        const [row] = await sql<{ through: Date; series: number; state: Buffer }[]>`SELECT through, series, state FROM detector_checkpoints WHERE resolution_seconds = ${resolution}`;
        return { through: row!.through.getTime(), series: row!.series, state: deserialize(row!.state) as { processedUntil: number; series: unknown[] } };
      };

      const unbroken = createSeriesWatch({ ...settings, sql: a.sql });
      await unbroken.observe(bucket(20_300));
      await run(unbroken, a.sql, 300, 360);

      const first = createSeriesWatch({ ...settings, sql: b.sql });
      await first.observe(bucket(20_300));
      await run(first, b.sql, 300, 330);
      // Checkpointed every minute of event time (6 buckets): the last one at most a minute behind.
      const before = await saved(b.sql);
      expect(before.series).toBe(2);
      expect(before.through).toBeGreaterThanOrEqual(bucket(20_323));
      // The buckets after the checkpoint are replayed at start (learnt, nothing raised), then it goes on.
      await fill(b.sql, 330, 340);
      const resumed = createSeriesWatch({ ...settings, sql: b.sql });
      expect(await resumed.observe(bucket(20_340))).toEqual([]);
      await run(resumed, b.sql, 340, 360);

      await Promise.all([unbroken.checkpoint(), resumed.checkpoint()]);
      const [whole, pieced] = await Promise.all([saved(a.sql), saved(b.sql)]);
      expect(pieced.state.processedUntil).toBe(whole.state.processedUntil);
      expect(pieced.state.series).toEqual(whole.state.series);
      // Rebuilt instead (no checkpoint), the detectors would know only the last 100 buckets.
      await b.sql`DELETE FROM detector_checkpoints`;
      const rebuilt = createSeriesWatch({ ...settings, sql: b.sql });
      await rebuilt.observe(bucket(20_360));
      await rebuilt.checkpoint();
      expect((await saved(b.sql)).state.series).not.toEqual(whole.state.series);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([unbrokenDb.drop(), restartedDb.drop()]);
    }
  });

  it('detects, in a collector, only for the services of the partitions it holds; one handed over goes on from its checkpoint as if it never moved', async () => {
    // Two services keyed to partitions 0 and 1, 100 healthy buckets, then each jumps once (s1 after the hand-over).
    const value = (service: string, i: number) => (service === 's1' && i === 125) || (service === 's0' && i === 112) ? 400 : 100 + wiggle(i + service.length * 7);
    const fill = (from: number, to: number) =>
      db.sql.begin((tx) => mergeSeries(tx, resolution, ['s0', 's1'].flatMap((service) => Array.from({ length: to - from }, (_, k) => delta(service, 'queue.depth', 30_000 + from + k, value(service, from + k))))));
    await db.sql`INSERT INTO service_partitions (service, partition_index) VALUES ('s0', 0), ('s1', 1)`;
    await fill(0, 100);
    const settings = { sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 100, limits: {}, budgets: [] };
    const heldByA = new Set([0, 1]);
    const heldByB = new Set<number>();
    const a = createSeriesWatch({ ...settings, ownership: { held: () => heldByA } });
    const b = createSeriesWatch({ ...settings, ownership: { held: () => heldByB } });
    // The reference detects for every service and never hands anything over.
    const all = createSeriesWatch({ ...settings, checkpointSeconds: 0 });
    const seen = { a: [] as Observation[], b: [] as Observation[], all: [] as Observation[] };
    for (const [name, watch] of [['a', a], ['b', b], ['all', all]] as const) seen[name].push(...(await watch.observe(bucket(30_100))));
    for (let i = 100; i < 140; i++) {
      await fill(i, i + 1);
      if (i === 118) {
        // A lets partition 1 go (its checkpoint written first); B takes it.
        heldByA.delete(1);
        await a.handOver([1]);
        heldByB.add(1);
      }
      for (const [name, watch] of [['a', a], ['b', b], ['all', all]] as const) seen[name].push(...(await watch.observe(bucket(30_000 + i + 1))));
    }
    const keyOf = (o: Observation) => `${o.service} ${o.signal} ${(o.bucketStartMs - bucket(30_000)) / (resolution * 1000)} ${o.value} ${o.baseline.toFixed(6)}`;
    expect(seen.all.map(keyOf)).toEqual(expect.arrayContaining([expect.stringMatching(/^s0 queue\.depth 112 400 /), expect.stringMatching(/^s1 queue\.depth 125 400 /)]));
    // Between them, A and B saw exactly what the reference did: s0's jump by A, s1's (after the hand-over) by B.
    expect([...seen.a, ...seen.b].map(keyOf).sort()).toEqual(seen.all.map(keyOf).sort());
    expect(new Set(seen.a.map((o) => o.service))).toEqual(new Set(['s0']));
    expect(new Set(seen.b.map((o) => o.service))).toEqual(new Set(['s1']));
    expect(a.owns('s1')).toBe(false);
    expect(b.owns('s1')).toBe(true);
    const rows = await db.sql<{ partition_index: number; series: number }[]>`SELECT partition_index, series FROM detector_checkpoints WHERE resolution_seconds = ${resolution} AND partition_index >= 0 ORDER BY partition_index`;
    expect(rows.map((r) => [r.partition_index, r.series])).toEqual([[0, 1], [1, 1]]);
  });

  it('rebuilds from history instead of resuming a checkpoint made with other settings', async () => {
    const { url, drop: dropOwn } = await freshDatabase();
    const own = await openDatabase({ url, dataDir: '', log: testLogger() });
    try {
      await own.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 60 }, (_, i) => delta('steady', 'queue.depth', 30_000 + i, 100 + wiggle(i)))));
      const first = createSeriesWatch({ sql: own.sql, resolutionSeconds: resolution, warmupBuckets: 40, limits: {}, budgets: [] });
      await first.observe(bucket(30_060));
      await first.checkpoint();
      const logged: string[] = [];
      const logger = { ...testLogger(), warn: (_: unknown, message: string) => void logged.push(message), info: () => {} } as unknown as Parameters<typeof createSeriesWatch>[0]['logger'];
      const other = createSeriesWatch({ sql: own.sql, resolutionSeconds: resolution, warmupBuckets: 40, limits: {}, budgets: [], detectors: [{ glob: 'queue.*', detector: 'ewma' }], logger });
      await other.observe(bucket(30_060));
      expect(logged).toEqual([expect.stringMatching(/^detector checkpoint not resumed \(steady queue\.depth is judged by another detector now\): detectors rebuilt from the last 40 buckets$/)]);
    } finally {
      await own.close();
      await dropOwn();
    }
  });

  it('takes no lone slow call for a level shift, where a slowdown of every call is one', async () => {
    // A vector store's GET /search: 12 calls an interval of about 12 ms. From interval 80 on, two
    // intervals in three hold one call ten times slower (the mean up by 75 %: healthy services have
    // tails); from 100 on every call takes five times as long.
    const calls = 12;
    const at = (i: number): SeriesDelta => {
      const usual = 12 + wiggle(i) * 0.3;
      const slowOne = i >= 80 && i < 100 && i % 3 !== 0;
      const each = i >= 100 ? usual * 5 : usual;
      const slowest = slowOne ? 120 : each + 1;
      return { service: 'vector-db', operation: 'GET /search', signal: 'latency.mean_ms', aggregation: 'mean', bucketStartMs: bucket(60_000 + i), sum: each * (calls - 1) + slowest, count: calls, min: each - 1, max: slowest };
    };
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 70 }, (_, i) => at(i))));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 70, limits: {}, budgets: [], checkpointSeconds: 0 });
    await watch.observe(bucket(60_070));
    const shifts: number[] = [];
    const tails: Observation[] = [];
    for (let i = 70; i < 106; i++) {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, [at(i)]));
      for (const o of await watch.observe(bucket(60_000 + i + 1))) {
        if (o.service === 'vector-db' && o.explanation?.detector !== 'level-shift' && i < 100) tails.push(o);
        if (o.service === 'vector-db' && o.explanation?.detector === 'level-shift') {
          shifts.push((o.bucketStartMs - bucket(60_000)) / (resolution * 1000));
          expect(o.explanation.evidence).toMatch(/; each interval's mean without its largest value$/);
        }
      }
    }
    // Judged on the plain means, the median of the last three was a slow call's (+75 %): a shift at interval 82.
    expect(shifts.length).toBeGreaterThan(0);
    expect(Math.min(...shifts)).toBeGreaterThanOrEqual(100);
    expect(Math.min(...shifts)).toBeLessThanOrEqual(102);
    // The detector set flags the slow calls' intervals; each says the others' mean, which the policy judges.
    const raised = tails.filter((o) => o.value > 18);
    expect(raised.length).toBeGreaterThan(0);
    for (const o of raised) expect(o.level).toBeLessThan(14);
  });

  it('reads a mean without its largest value for the level, and any other value as it is', () => {
    expect(levelOf({ value: 21, max: 120, count: 12, aggregation: 'mean' }, 'up')).toBeCloseTo(12, 6);
    expect(levelOf({ value: 21, max: 120, count: 12, aggregation: 'mean' }, 'down')).toBe(21);
    expect(levelOf({ value: 21, max: 120, count: 2, aggregation: 'mean' }, 'up')).toBe(21);
    expect(levelOf({ value: 21, max: 120, count: 12, aggregation: 'sum' }, 'up')).toBe(21);
  });

  it("judges each operation's latency on its own, in the intervals with enough calls to mean something", async () => {
    // A shop's busy GET /cart (10 calls an interval, about 100 ms) and its rare GET /export (2 calls);
    // after 60 intervals both get four times slower, which the rare one's mean of two calls cannot tell.
    const op = (operation: string, i: number, meanMs: number, calls: number): SeriesDelta => ({
      service: 'shop', operation, signal: 'latency.mean_ms', aggregation: 'mean', bucketStartMs: bucket(40_000 + i), sum: meanMs * calls, count: calls, min: meanMs, max: meanMs,
    });
    const at = (i: number) => [op('GET /cart', i, (i < 60 ? 100 : 400) + wiggle(i), 10), op('GET /export', i, (i < 60 ? 2000 : 8000) + wiggle(i) * 20, 2)];
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 60 }, (_, i) => at(i)).flat()));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 60, limits: {}, budgets: [], checkpointSeconds: 0 });
    await watch.observe(bucket(40_060));
    const seen: Observation[] = [];
    for (let i = 60; i < 66; i++) {
      await db.sql.begin((tx) => mergeSeries(tx, resolution, at(i)));
      seen.push(...(await watch.observe(bucket(40_000 + i + 1))).filter((o) => o.service === 'shop'));
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((o) => o.signal))).toEqual(new Set(['latency.mean_ms{GET /cart}']));
    expect(seen[0]).toMatchObject({ bucketStartMs: bucket(40_060), value: expect.closeTo(400, -1) });
    expect(seen[0]!.baseline).toBeLessThan(120);
    expect(seen[0]!.summary).toMatch(/^latency\.mean_ms\{GET \/cart\} 40\d ms/);
  });

  it('predicts a gauge crossing its limit before it does', async () => {
    // Memory climbing 1 MB per bucket towards a 1 GB limit, with a GC sawtooth on top.
    const limit = 1_000_000_000;
    const memory = (i: number) => 700_000_000 + i * 1_000_000 + (i % 6) * 2_000_000;
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 60 }, (_, i) => delta('leaky', 'process.memory.usage', 1000 + i, memory(i)))));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 100, limits: { 'process.memory.usage': limit }, budgets: [] });
    const predicted = (await watch.observe(bucket(1060))).find((o) => o.service === 'leaky' && o.signal === 'failure.predicted');
    expect(predicted).toBeDefined();
    // About 240 MB to go at 1 MB per 10 s: roughly 40 minutes.
    expect(predicted!.etaSeconds).toBeGreaterThan(30 * 60);
    expect(predicted!.etaSeconds).toBeLessThan(50 * 60);
    expect(predicted!.confidence).toBeGreaterThan(0.5);
    expect(predicted!.summary).toContain('process.memory.usage');
  });

  it('predicts with the limit a service reports as a resource attribute (heph.limit.<signal>), which wins over HEPH_LIMITS', async () => {
    // The same climb for two services; only one reports its limit (and HEPH_LIMITS names none).
    const memory = (i: number) => 300_000_000 + i * 2_000_000;
    await db.sql.begin((tx) =>
      mergeSeries(tx, resolution, ['reporting', 'silent'].flatMap((service) => Array.from({ length: 60 }, (_, i) => delta(service, 'process.memory.usage', 3000 + i, memory(i))))),
    );
    await db.sql.begin((tx) =>
      recordServiceLimits(tx, [
        { service: 'reporting', timeMs: bucket(3000), resource: { 'service.name': 'reporting', 'heph.limit.process.memory.usage': 800_000_000 } },
        { service: 'silent', timeMs: bucket(3000), resource: { 'service.name': 'silent', 'heph.limit.': 5, 'heph.limit.process.memory.usage': 'lots' } },
      ]),
    );
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 100, limits: {}, budgets: [] });
    const predicted = (await watch.observe(bucket(3060))).filter((o) => o.signal === 'failure.predicted' && (o.service === 'reporting' || o.service === 'silent'));
    expect(predicted.map((o) => [o.service, o.baseline])).toEqual([['reporting', 800_000_000]]);
    // In the gauge's unit, for people: "crosses 763 MB in 32 min …, rising 687 MB per hour".
    expect(predicted[0]!.summary).toMatch(/crosses 763 MB in \d+ min .*rising [\d.]+ MB per hour/);
    // (800 MB - 418 MB) at 2 MB per 10 s: about 32 minutes.
    expect(predicted[0]!.etaSeconds).toBeGreaterThan(28 * 60);
    expect(predicted[0]!.etaSeconds).toBeLessThan(36 * 60);
    // The service's own limit wins over HEPH_LIMITS; the newest report wins over an older one.
    await db.sql.begin((tx) => recordServiceLimits(tx, [{ service: 'reporting', timeMs: bucket(2000), resource: { 'heph.limit.process.memory.usage': '1' } }]));
    const both = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 100, limits: { 'process.memory.usage': 4_000_000_000 }, budgets: [] });
    const withGlobal = (await both.observe(bucket(3060))).filter((o) => o.signal === 'failure.predicted');
    expect(withGlobal.find((o) => o.service === 'reporting')?.baseline).toBe(800_000_000);
    expect(withGlobal.find((o) => o.service === 'silent')?.baseline ?? 4_000_000_000).toBe(4_000_000_000);
    expect(limitsOf({ 'heph.limit.queue.depth': '500', 'heph.limit.disk': -1, 'heph.limit.x': Number.POSITIVE_INFINITY, other: 3 })).toEqual([{ signal: 'queue.depth', limit: 500 }]);
  });

  it('observes a spend forecast running past the budget', async () => {
    const noon = Date.UTC(2026, 10, 26, 12);
    const at = (i: number) => noon - 3_600_000 + i * resolution * 1000;
    // $0.05 every 10 s for the last hour: $18 an hour, $216 more by midnight against a $100 budget.
    await db.sql.begin((tx) => mergeSeries(tx, resolution, Array.from({ length: 360 }, (_, i) => ({ ...delta('spender', 'gen_ai.cost_usd', 0, 0.05, 'sum'), bucketStartMs: at(i) }))));
    const watch = createSeriesWatch({ sql: db.sql, resolutionSeconds: resolution, warmupBuckets: 10, limits: {}, budgets: [{ service: 'spend*', period: 'daily', limitUsd: 100 }] });
    const budget = (await watch.observe(noon)).find((o) => o.service === 'spender' && o.signal === 'gen_ai.budget');
    expect(budget).toMatchObject({ baseline: 100 });
    expect(budget!.value).toBeGreaterThan(100);
  });
});
