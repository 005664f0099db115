// detect for every series: each closed bucket of each service-wide series goes through the default
// detector set; an anomalous bucket is an observation for the incident policy (which decides whether
// it matters). Symptom series that are means (not quantiles) are also tested for a level shift
// against a lagged baseline, which sees the slow creep the detector set adapts to. Gauges with a
// limit get a failure prediction, and LLM spend a budget forecast.
// Every minute of event time the watch checkpoints its detectors (state and recent values) to
// PostgreSQL; at start it resumes from the checkpoint and replays the buckets after it, or, with none,
// rebuilds the detectors from stored history (either replay raises nothing).
// In a collector (analyzers apart) the watch detects only for the services whose telemetry partitions
// it holds, one checkpoint per partition index: an index it gains resumes from that index's checkpoint
// and judges every bucket after it (the judge drops what it has decided already), one it loses is
// checkpointed and its detectors dropped. Every other service's recent levels are still followed: they
// are the peers a level is judged against.
import { deserialize, serialize } from 'node:v8';
import { readServiceLimits } from '@hephaestus/aggregates';
import type { Logger, Sql } from '@hephaestus/platform';
import { globMatches, meaningOf, sinceReset, type CostBudget, type SignalMeaning } from '@hephaestus/schemas';
import { forecastSpend, periodStart } from '../domain/budget.ts';
import { createDetector, formatValue, type Detector, type DetectorName } from '../domain/detectors/index.ts';
import { defaultCommonSettings } from '../domain/detectors/detector.ts';
import { laggedBaseline, levelRatio, levelShift, levelShiftSettingsFor, onsetOf, peerMovement } from '../domain/detectors/level-shift.ts';
import { predict } from '../domain/predictors/time-to-limit.ts';
import type { Observation } from '../domain/incident-policy.ts';
import { operationLatency } from '../domain/series.ts';
import { readSeries, type SeriesPoint } from './series-store.ts';

export type SeriesWatchOptions = {
  sql: Sql;
  resolutionSeconds: number;
  /**
   * Buckets of history replayed into fresh detectors at start. Also caps the detectors' own warm-up
   * (300 points by default, 50 min at 10 s): a short setting lets a demo or a test detect within minutes.
   */
  warmupBuckets: number;
  /** Limits per signal (e.g. process.memory.usage → bytes) for failure prediction. */
  limits: Record<string, number>;
  budgets: CostBudget[];
  /** Which detector judges which signals (first matching glob); the rest get the default set. */
  detectors?: Array<{ glob: string; detector: DetectorName }>;
  /** The incident policy's per-signal overrides: which series are symptoms, their bad side and meaningful change. */
  meanings?: SignalMeaning[];
  /**
   * The services a service calls or is called by (the topology): never its peers, since a fault of the
   * service reaches them as itself (a slow callee slows its callers) and would carry its own baseline off.
   */
  connectedTo?: (service: string) => ReadonlySet<string>;
  /**
   * Detecting for some services only (a collector): the partition indexes whose services it detects for
   * now (a service's index is the one its telemetry is keyed to, read from `service_partitions`). Unset:
   * every service, with one checkpoint (index -1).
   */
  ownership?: { held: () => ReadonlySet<number> };
  /** Event time between checkpoints of the detectors' state (default 60 s; 0: never checkpoint, never resume). */
  checkpointSeconds?: number;
  logger?: Logger;
};

/**
 * Bumped when a checkpoint's shape or the detectors' state changes meaning: an older one is not resumed.
 * 2 (2026-12-04): the default set's sixth member is `robust`, where it was `shape`.
 */
const checkpointFormat = 2;

type Checkpoint = {
  format: number;
  /** The watch's settings that shape its detectors: another setting, another detector (rebuilt, not resumed). */
  warmupBuckets: number;
  processedUntil: number;
  judgedUntil: Array<[string, number]>;
  series: Array<{ key: string; name: DetectorName; state: unknown; values?: number[] }>;
};

/** Quantile series (`….p95`, `latency.p95_ms`): too noisy interval to interval for a level test on a few of them. */
const isQuantile = (signal: string) => /(^|[._])p\d\d($|[._])/.test(signal);

/**
 * The signal an observation of a series names: the series' own, or `latency.mean_ms{POST /work}` for an
 * operation's latency (the console plots it by that name, playbooks and signal meanings match it by glob).
 */
export const signalName = (signal: string, operation: string) => (operation === '' ? signal : `${signal}{${operation}}`);

/** An operation's latency is judged only in intervals with this many calls: the mean of two calls is noise. */
export const minOperationCalls = 5;

/**
 * What the level-shift test reads of an interval: a mean without its largest value when the bad side is
 * up and the interval holds three values or more (calls, points); any other value as it is. One slow call among a dozen raises an
 * interval's mean latency by half, and two such intervals of three looked like a shift (bench:healthy:
 * 2 false pages a day on a healthy vector-db at 10 s); a real shift moves every call, so the mean of the
 * others moves with it.
 */
export const levelOf = (point: Pick<SeriesPoint, 'value' | 'max' | 'count' | 'aggregation'>, bad: 'up' | 'down'): number =>
  trimsLargest(point, bad) ? (point.value * point.count - point.max) / (point.count - 1) : point.value;

const trimsLargest = (point: Pick<SeriesPoint, 'value' | 'max' | 'count' | 'aggregation'>, bad: 'up' | 'down'): boolean =>
  point.aggregation === 'mean' && bad === 'up' && point.count >= 3 && Number.isFinite(point.max) && point.max >= point.value;

type Shift = { bad: 'up' | 'down'; minRelativeChange: number; creepRelativeChange?: number; testLevel: boolean; values: number[] };

const unitOf = (signal: string) => (signal.endsWith('_ms') ? 'ms' : signal.includes('memory') || signal.endsWith('.bytes') ? 'bytes' : signal.endsWith('_usd') ? 'USD' : '');

export const createSeriesWatch = (options: SeriesWatchOptions) => {
  const { sql } = options;
  const resolutionMs = options.resolutionSeconds * 1000;
  const levelSettings = levelShiftSettingsFor(options.resolutionSeconds);
  /** How far back the level-shift test looks: its baseline stretch ends `lagPoints` before the newest. */
  const shiftHistory = levelSettings.lagPoints + levelSettings.referencePoints;
  /** Every series followed: with its detector when this watch detects for its service, else (a peer's) its recent values only. */
  const watched = new Map<string, { name: DetectorName; detector?: Detector; shift?: Shift }>();
  const detectorFor = (signal: string): DetectorName => options.detectors?.find((rule) => globMatches(rule.glob, signal))?.detector ?? 'default';
  /**
   * A symptom with a bad side and a meaningful change keeps its recent values: to tell a sudden onset
   * from a gradual one, and (means only, not quantiles) to test for a level shift. Causes and resources: none.
   */
  const shiftOf = (signal: string): Shift | undefined => {
    const meaning = meaningOf(signal, options.meanings);
    if (meaning.role !== 'symptom' || meaning.bad === 'both' || meaning.minRelativeChange === 0) return undefined;
    return { bad: meaning.bad, minRelativeChange: meaning.minRelativeChange, creepRelativeChange: meaning.creepRelativeChange, testLevel: !isQuantile(signal), values: [] };
  };
  let processedUntil: number | undefined;
  /** Per service, the buckets judged so far (from `processedUntil` on, some services lag behind). */
  const judgedUntil = new Map<string, number>();
  // Only a shorter warm-up than the detectors' own is passed: production defaults stay as they are.
  const learning = options.warmupBuckets < defaultCommonSettings.warmupPoints ? { warmupPoints: options.warmupBuckets } : {};
  const newDetector = (name: DetectorName, signal: string, operation: string, state?: unknown) =>
    createDetector(name, { label: signalName(signal, operation), unit: unitOf(signal), ...learning }, state);
  const checkpointMs = (options.checkpointSeconds ?? 60) * 1000;
  let checkpointedThrough: number | undefined;
  /** The first pass of a watch that detects for every service: it replays the buckets after its checkpoint, or rebuilds, and raises nothing. */
  let firstPassTeaches = false;
  let lastFrom: number | undefined;

  // Ownership: which partition index each service's telemetry is keyed to (-1 for all when the watch
  // detects for every service), the indexes detected for now, and, for an index taken over without a
  // checkpoint, the time before which its buckets only teach the rebuilt detectors.
  const ownership = options.ownership;
  const indexOfService = new Map<string, number>();
  const indexOf = (service: string): number | undefined => (ownership ? indexOfService.get(service) : -1);
  const detecting = new Set<number>();
  const teachBefore = new Map<number, number>();
  /** Whether this watch detects for the service (else it follows its levels as a peer's). */
  const owns = (service: string) => {
    const index = indexOf(service);
    return index !== undefined && detecting.has(index);
  };
  const serviceOfKey = (key: string) => key.split('\u0000')[0]!;

  /** checkpoint: every series' detector state and recent values, one row per index detected for, as of the buckets judged so far. */
  const checkpointIndex = async (index: number) => {
    if (checkpointMs === 0 || processedUntil === undefined) return;
    const series = [...watched].filter(([key, entry]) => entry.detector && indexOf(serviceOfKey(key)) === index);
    const saved: Checkpoint = {
      format: checkpointFormat,
      warmupBuckets: options.warmupBuckets,
      processedUntil,
      judgedUntil: [...judgedUntil].filter(([service]) => indexOf(service) === index),
      series: series.map(([key, entry]) => ({ key, name: entry.name, state: entry.detector!.state, values: entry.shift?.values })),
    };
    const bytes = serialize(saved);
    await sql`
      INSERT INTO detector_checkpoints (resolution_seconds, partition_index, through, series, state)
      VALUES (${options.resolutionSeconds}, ${index}, ${new Date(processedUntil)}, ${series.length}, ${bytes})
      ON CONFLICT (resolution_seconds, partition_index) DO UPDATE SET through = EXCLUDED.through, series = EXCLUDED.series, state = EXCLUDED.state, saved_at = now()`;
  };
  const checkpoint = async () => {
    if (checkpointMs === 0 || processedUntil === undefined || processedUntil === checkpointedThrough) return;
    for (const index of detecting) await checkpointIndex(index);
    checkpointedThrough = processedUntil;
  };

  /**
   * resume: an index's detectors as its checkpoint left them; returns the checkpoint's `through`. A
   * checkpoint of another format or another warm-up, one that names another detector for a series than
   * the configuration does now, or one that cannot be read is not resumed (undefined): the watch
   * rebuilds that index from history (and says why).
   */
  const resumeIndex = async (index: number, closedBefore: number): Promise<number | undefined> => {
    const [row] = await sql<{ through: Date; state: Buffer }[]>`
      SELECT through, state FROM detector_checkpoints WHERE resolution_seconds = ${options.resolutionSeconds} AND partition_index = ${index}`;
    const which = index === -1 ? 'detector checkpoint' : `detector checkpoint of partition ${index}`;
    if (!row) return undefined;
    const rebuild = (reason: string) => {
      options.logger?.warn({ through: row.through.toISOString(), partition: index }, `${which} not resumed (${reason}): detectors rebuilt from the last ${options.warmupBuckets} buckets`);
      return undefined;
    };
    let saved: Checkpoint;
    try {
      saved = deserialize(row.state) as Checkpoint;
    } catch (error) {
      return rebuild(`unreadable: ${(error as Error).message}`);
    }
    if (saved.format !== checkpointFormat) return rebuild(`format ${saved.format}, this analyzer reads ${checkpointFormat}`);
    if (saved.warmupBuckets !== options.warmupBuckets) return rebuild(`warm-up of ${saved.warmupBuckets} buckets, now ${options.warmupBuckets}`);
    const moved = saved.series.find((entry) => entry.name !== detectorFor(entry.key.split('\u0000')[1]!));
    if (moved) return rebuild(`${moved.key.split('\u0000').filter(Boolean).join(' ')} is judged by another detector now`);
    if (saved.processedUntil > closedBefore) return rebuild('it is ahead of the telemetry');
    for (const entry of saved.series) {
      const [, signal, operation] = entry.key.split('\u0000') as [string, string, string];
      const shift = shiftOf(signal);
      if (shift && entry.values) shift.values.push(...entry.values.slice(-shiftHistory));
      watched.set(entry.key, { name: entry.name, detector: newDetector(entry.name, signal, operation, entry.state), shift });
    }
    // A long stop: the detectors resume, but replay at most the warm-up's buckets (the time between is a gap).
    const through = Math.max(saved.processedUntil, closedBefore - options.warmupBuckets * resolutionMs);
    const savedJudged = new Map(saved.judgedUntil);
    for (const service of new Set([...savedJudged.keys(), ...saved.series.map((entry) => serviceOfKey(entry.key))])) {
      const until = savedJudged.get(service) ?? saved.processedUntil;
      judgedUntil.set(service, through > saved.processedUntil ? Math.max(until, through) : until);
    }
    options.logger?.info(
      { series: saved.series.length, through: new Date(saved.processedUntil).toISOString(), partition: index },
      `detectors ${index === -1 ? '' : `of partition ${index} `}resumed from their checkpoint: ${saved.series.length} series as of ${new Date(saved.processedUntil).toISOString()}, replaying the ${Math.max(0, Math.round((closedBefore - through) / resolutionMs))} buckets since`,
    );
    return through;
  };

  const drop = (indexes: number[]) => {
    for (const index of indexes) {
      detecting.delete(index);
      teachBefore.delete(index);
    }
    for (const [key, entry] of watched) if (!owns(serviceOfKey(key))) entry.detector = undefined;
  };

  /** A collector lets partitions go: their detectors are checkpointed for the next owner, then dropped. */
  const handOver = async (indexes: number[]) => {
    const going = indexes.filter((i) => detecting.has(i));
    for (const index of going) await checkpointIndex(index);
    drop(going);
    if (going.length > 0) options.logger?.info({ partitions: going }, `detection of partition ${going.join(', ')} handed on: its detectors checkpointed and dropped`);
  };

  /**
   * Ownership changes, before a pass: an index let go is checkpointed and its detectors dropped (its
   * services' levels are still followed, as peers); an index taken resumes from its checkpoint and every
   * bucket after it is judged again (by a collector: the judge keeps what it decided), or without one is
   * rebuilt from the last warm-up's buckets, which only teach. Without ownership: the one index (-1) at
   * the first pass, whose replay (resumed or rebuilt) only teaches, as at any start.
   */
  const follow = async (closedBefore: number) => {
    if (ownership) {
      for (const [service, index] of await sql<{ service: string; partition_index: number }[]>`SELECT service, partition_index FROM service_partitions`.then((rows) => rows.map((r) => [r.service, r.partition_index] as const))) {
        indexOfService.set(service, index);
      }
    }
    const target = ownership ? ownership.held() : new Set([-1]);
    // Lost with its lease (the database session): another collector may write its checkpoint by now.
    const lost = [...detecting].filter((i) => !target.has(i));
    if (lost.length > 0) {
      drop(lost);
      options.logger?.warn({ partitions: lost }, `detection of partition ${lost.join(', ')} lost with its lease: its detectors dropped`);
    }
    const gained = [...target].filter((i) => !detecting.has(i));
    if (gained.length === 0) return;
    if (!ownership) {
      detecting.add(-1);
      // A replay judges from its first telemetry on, learning as it goes (the detectors' own warm-up).
      if (processedUntil !== undefined) return;
      const through = checkpointMs > 0 ? await resumeIndex(-1, closedBefore) : undefined;
      processedUntil = checkpointedThrough = through;
      firstPassTeaches = true;
      return;
    }
    const before = processedUntil;
    // Every service followed so far goes on from where it is, whatever the replay reads again.
    if (before !== undefined) for (const key of watched.keys()) judgedUntil.set(serviceOfKey(key), Math.max(judgedUntil.get(serviceOfKey(key)) ?? before, before));
    let from = before ?? closedBefore - shiftHistory * resolutionMs;
    for (const index of gained) {
      // The index's series start afresh: their levels and detectors come from its checkpoint or the replay.
      for (const key of [...watched.keys()].filter((key) => indexOf(serviceOfKey(key)) === index)) {
        watched.delete(key);
        judgedUntil.delete(serviceOfKey(key));
      }
      const through = checkpointMs > 0 ? await resumeIndex(index, closedBefore) : undefined;
      if (through === undefined) teachBefore.set(index, before ?? closedBefore);
      options.logger?.info(
        { partition: index, through: through === undefined ? undefined : new Date(through).toISOString() },
        `detectors of partition ${index} taken over: ${through === undefined ? `rebuilt from the last ${options.warmupBuckets} buckets, which only teach` : `judging every bucket from ${new Date(through).toISOString()} on`}`,
      );
      from = Math.min(from, through ?? closedBefore - options.warmupBuckets * resolutionMs);
      detecting.add(index);
    }
    processedUntil = from;
  };

  /** Service-wide series plus the request rollups' throughput and p95 latency. */
  const load = async (fromMs: number, toMs: number): Promise<SeriesPoint[]> => {
    // Service-wide series, and each operation's latency in the intervals with enough calls to judge it.
    const series = (await readSeries(sql, options.resolutionSeconds, fromMs, toMs)).filter(
      (p) => p.operation === '' || (p.signal === operationLatency && p.count >= minOperationCalls),
    );
    const rollups = await sql<{ service: string; bucket_start: Date; calls: string; p95_ms: number | null }[]>`
      SELECT service, bucket_start, calls, p95_ms FROM rollups
      WHERE resolution_seconds = ${options.resolutionSeconds} AND bucket_start >= ${new Date(fromMs)} AND bucket_start < ${new Date(toMs)}`;
    for (const r of rollups) {
      const startMs = r.bucket_start.getTime();
      series.push({ service: r.service, operation: '', signal: 'calls', startMs, value: Number(r.calls), max: Number(r.calls), count: 1, aggregation: 'sum' });
      if (r.p95_ms !== null) series.push({ service: r.service, operation: '', signal: 'latency.p95_ms', startMs, value: r.p95_ms, max: r.p95_ms, count: 1, aggregation: 'mean' });
    }
    return series.sort((a, b) => a.startMs - b.startMs);
  };

  /**
   * What a series' peers did: per signal (and operation), every other service's recent level over its
   * lagged baseline, the median (`peerMovement`), leaving out the services it is connected to. Read
   * once per bucket, when a series first asks.
   */
  const peerRatios = () => {
    let bySignal: Map<string, Array<{ service: string; ratio: number }>> | undefined;
    const read = () => {
      const found = new Map<string, Array<{ service: string; ratio: number }>>();
      for (const [key, entry] of watched) {
        if (!entry.shift?.testLevel) continue;
        const ratio = levelRatio(entry.shift.values, levelSettings);
        if (ratio === undefined) continue;
        const [service, signal, operation] = key.split('\u0000') as [string, string, string];
        const at = `${signal}\u0000${operation}`;
        const peers = found.get(at);
        if (peers) peers.push({ service, ratio });
        else found.set(at, [{ service, ratio }]);
      }
      return found;
    };
    const connectedOf = new Map<string, ReadonlySet<string> | undefined>();
    return (point: SeriesPoint) => {
      if (!connectedOf.has(point.service)) connectedOf.set(point.service, options.connectedTo?.(point.service));
      const connected = connectedOf.get(point.service);
      return peerMovement(
        ((bySignal ??= read()).get(`${point.signal}\u0000${point.operation}`) ?? []).filter((p) => p.service !== point.service && !connected?.has(p.service)).map((p) => p.ratio),
      );
    };
  };

  /** One point of a closed bucket, its detector updated: the observation it makes, if any. */
  const judgePoint = (
    point: SeriesPoint,
    entry: { name: DetectorName; shift?: Shift },
    verdict: ReturnType<Detector['update']>,
    peerRatioOf: (point: SeriesPoint) => number | undefined,
    held: ((service: string, signal: string) => number | undefined) | undefined,
    out: Observation[],
  ) => {
    const signal = signalName(point.signal, point.operation);
    const shift = entry.shift;
    const peerRatio = shift?.testLevel ? peerRatioOf(point) : undefined;
    // A level shift speaks first: its baseline is the level before the creep, where the detector's has
    // followed it (and the policy would judge the change against a baseline that crept too), carried
    // along with its peers' level (a slowdown they all share is not this service's).
    const shifted = shift?.testLevel ? levelShift(shift.values, shift.bad, { ...levelSettings, minRelativeChange: shift.minRelativeChange, creepRelativeChange: shift.creepRelativeChange, peerRatio }) : undefined;
    if (shift && shifted) {
      out.push({
        service: point.service,
        signal,
        bucketStartMs: point.startMs,
        // The level (the recent median) is what shifted: one quick interval among slow ones changes nothing.
        value: shifted.level,
        // A median over several intervals has confirmed itself: no second interval to wait for.
        confirmedOver: levelSettings.recentPoints,
        baseline: shifted.baseline,
        summary: `${signal} ${shifted.explanation}`,
        explanation: {
          detector: 'level-shift',
          baseline: shifted.baseline,
          threshold: shifted.spread > 0 ? shifted.spread : undefined,
          windowSeconds: options.resolutionSeconds * levelSettings.recentPoints,
          evidence: trimsLargest(point, shift.bad) ? `${shifted.explanation}; each interval's mean without its largest value` : shifted.explanation,
          onset: onsetOf(shift.values, shifted.level, shifted.baseline, shift.bad),
        },
      });
      return;
    }
    const frozen = verdict.anomalous ? undefined : held?.(point.service, signal);
    if (frozen !== undefined) {
      out.push({
        service: point.service,
        signal,
        bucketStartMs: point.startMs,
        value: point.value,
        baseline: frozen,
        summary: `${signal} ${point.value.toPrecision(3)} still off ${frozen.toPrecision(3)}, its usual value when the incident opened`,
        explanation: { detector: entry.name, baseline: frozen, windowSeconds: options.resolutionSeconds, evidence: 'held against the baseline frozen at opening (hysteresis)' },
        sustainOnly: true,
      });
      return;
    }
    if (!verdict.anomalous || !Number.isFinite(verdict.usual)) return;
    // The onset is told against the level before (the lagged baseline, moved with the peers), not the
    // detector's, which follows a creep: a climb every peer shares is no creep of this service.
    const lagged = shift ? laggedBaseline(shift.values, levelSettings) : undefined;
    const before = lagged === undefined ? verdict.usual : peerRatio !== undefined && (shift!.bad === 'up' ? peerRatio > 1 : peerRatio < 1) ? lagged * peerRatio : lagged;
    out.push({
      service: point.service,
      signal,
      bucketStartMs: point.startMs,
      value: point.value,
      ...(shift && trimsLargest(point, shift.bad) ? { level: levelOf(point, shift.bad) } : {}),
      baseline: verdict.usual,
      summary: verdict.explanation,
      explanation: {
        detector: entry.name,
        baseline: verdict.usual,
        threshold: verdict.spread > 0 ? verdict.spread : undefined,
        windowSeconds: options.resolutionSeconds,
        evidence: `score ${verdict.score.toFixed(2)} over ${verdict.intervals} interval${verdict.intervals === 1 ? '' : 's'}`,
        ...(shift ? { onset: onsetOf(shift.values, point.value, before, shift.bad) } : {}),
      },
    });
  };

  /**
   * detect: every closed bucket since the last call through its series' detector. Returns the
   * anomalous points as observations for the incident policy (it decides what they mean); the
   * warm-up replay at start only teaches the detectors. `held` gives the baseline an open incident
   * froze for a series: while the detector, having adapted to a slow fault, no longer flags it, an
   * interval still off that baseline keeps the incident open (the policy judges whether it is bad).
   */
  const observe = async (closedBefore: number, replayFromMs?: number, held?: (service: string, signal: string) => number | undefined): Promise<Observation[]> => {
    // A replay starts at its first telemetry and learns as it goes (the detectors' own warm-up).
    if (processedUntil === undefined && replayFromMs !== undefined) processedUntil = replayFromMs;
    await follow(closedBefore);
    const warming = firstPassTeaches;
    const from = processedUntil ?? closedBefore - options.warmupBuckets * resolutionMs;
    if (from >= closedBefore) return [];
    lastFrom = from;
    // The still-open interval is read too: it tells which services' telemetry has moved on.
    const loaded = await load(from, closedBefore + resolutionMs);
    const points = loaded.filter((p) => p.startMs < closedBefore);
    // A service's newest closed bucket waits until its own telemetry moves past it (an agent that
    // exports late must not be judged on half an interval), unless it has been quiet for two intervals.
    const newest = new Map<string, number>();
    for (const p of loaded) newest.set(p.service, Math.max(newest.get(p.service) ?? 0, p.startMs));
    const heldFrom = (service: string) => {
      const last = newest.get(service)!;
      return last >= closedBefore || last < closedBefore - 2 * resolutionMs ? closedBefore : last;
    };
    const out: Observation[] = [];
    /** The points of one bucket, judged once every series of the bucket has learned it (peers are compared as of the same interval). */
    let bucket: Array<{ point: SeriesPoint; entry: { name: DetectorName; shift?: Shift }; verdict: ReturnType<Detector['update']> }> = [];
    const judgeBucket = () => {
      const ratios = peerRatios();
      for (const { point, entry, verdict } of bucket) judgePoint(point, entry, verdict, ratios, held, out);
      bucket = [];
    };
    for (const point of points) {
      if (point.startMs < (judgedUntil.get(point.service) ?? from) || point.startMs >= heldFrom(point.service)) continue;
      if (bucket.length > 0 && bucket[0]!.point.startMs !== point.startMs) judgeBucket();
      const key = `${point.service}\u0000${point.signal}\u0000${point.operation}`;
      const owned = owns(point.service);
      let entry = watched.get(key);
      if (!entry) {
        const shift = shiftOf(point.signal);
        // Another collector's service: only a symptom's levels are followed, for its peers.
        if (!owned && !shift) continue;
        entry = { name: detectorFor(point.signal), shift };
        watched.set(key, entry);
      }
      if (owned) entry.detector ??= newDetector(entry.name, point.signal, point.operation);
      const verdict = entry.detector?.update(point.startMs, point.value);
      const shift = entry.shift;
      if (shift) {
        shift.values.push(levelOf(point, shift.bad));
        if (shift.values.length > shiftHistory) shift.values.shift();
      }
      if (!verdict || warming || point.startMs < (teachBefore.get(indexOf(point.service)!) ?? Number.NEGATIVE_INFINITY)) continue;
      bucket.push({ point, entry, verdict });
    }
    if (bucket.length > 0) judgeBucket();
    for (const service of newest.keys()) judgedUntil.set(service, Math.max(judgedUntil.get(service) ?? from, Math.min(heldFrom(service), closedBefore)));
    // Reload from the laggard next time: at most two intervals back.
    processedUntil = Math.min(closedBefore, ...[...newest.keys()].map(heldFrom));
    for (const [service, until] of judgedUntil) if (until < closedBefore - 10 * resolutionMs) judgedUntil.delete(service);
    firstPassTeaches = false;
    if (checkpointMs > 0 && (checkpointedThrough === undefined || processedUntil - checkpointedThrough >= checkpointMs)) await checkpoint();
    return [...out, ...(await predictFailures(closedBefore)), ...(await forecastBudgets(closedBefore))];
  };

  // predict: gauges with a limit (HEPH_LIMITS, or the service's own `heph.limit.<signal>` resource
  // attribute, which wins), over the last hour of buckets (their maxima: the worst instance).
  // Every prediction is an observation; the policy pages only the imminent, confident ones.
  const predictFailures = async (closedBefore: number): Promise<Observation[]> => {
    const reported = await readServiceLimits(sql);
    const limitOf = (service: string, signal: string): number | undefined => reported.get(service)?.[signal] ?? options.limits[signal];
    const signals = new Set([...Object.keys(options.limits), ...[...reported.values()].flatMap((l) => Object.keys(l))]);
    if (signals.size === 0) return [];
    const history = (await readSeries(sql, options.resolutionSeconds, closedBefore - 360 * resolutionMs, closedBefore)).filter(
      (p) => p.operation === '' && signals.has(p.signal) && owns(p.service) && limitOf(p.service, p.signal) !== undefined,
    );
    const bySeries = new Map<string, SeriesPoint[]>();
    for (const p of history) bySeries.set(`${p.service}\u0000${p.signal}`, [...(bySeries.get(`${p.service}\u0000${p.signal}`) ?? []), p]);
    const out: Observation[] = [];
    for (const points of bySeries.values()) {
      const { service, signal } = points[0]!;
      const limit = limitOf(service, signal)!;
      // Only since the last restart: the ramp before a restart would keep predicting a limit the
      // process running now is far from (and reopen the incident its restart cured).
      const prediction = predict(sinceReset(points.map((p) => ({ timestampMs: p.startMs, value: p.max }))), limit, {
        minPoints: 12,
        // A ramp of about 25 s (at least 4 intervals: a line through 3 noisy points proves little).
        recentPoints: Math.max(4, Math.ceil(25 / options.resolutionSeconds)),
        horizonMs: 3_600_000,
        format: (value) => formatValue(value, unitOf(signal)),
      });
      if (!prediction) continue;
      const etaSeconds = Math.round(prediction.etaMs / 1000);
      out.push({
        service,
        signal: 'failure.predicted',
        bucketStartMs: closedBefore - resolutionMs,
        value: points.at(-1)!.max,
        baseline: limit,
        summary: `${signal} predicted to reach its limit in ${etaSeconds} s: ${prediction.explanation}`,
        explanation: { detector: 'time-to-limit', baseline: limit, threshold: limit, windowSeconds: (points.at(-1)!.startMs - points[0]!.startMs) / 1000 + options.resolutionSeconds, evidence: `${signal}, confidence ${prediction.confidence.toFixed(2)}` },
        etaSeconds,
        confidence: prediction.confidence,
      });
    }
    return out;
  };

  // forecast: LLM spend per service against the budgets that match it.
  const forecastBudgets = async (closedBefore: number): Promise<Observation[]> => {
    const out: Observation[] = [];
    for (const budget of options.budgets) {
      const since = periodStart(closedBefore, budget.period);
      const rows = await sql<{ service: string; spent: number; last_hour: number }[]>`
        SELECT service, sum(sum) AS spent,
               sum(sum) FILTER (WHERE bucket_start >= ${new Date(closedBefore - 3_600_000)}) AS last_hour
        FROM series
        WHERE signal = 'gen_ai.cost_usd' AND operation = '' AND bucket_start >= ${new Date(since)} AND bucket_start < ${new Date(closedBefore)}
          AND resolution_seconds = ${options.resolutionSeconds}
        GROUP BY service`;
      for (const row of rows) {
        if (!owns(row.service) || !globMatches(budget.service, row.service)) continue;
        const forecast = forecastSpend(budget, { spentUsd: row.spent ?? 0, lastHourUsd: row.last_hour ?? 0, nowMs: closedBefore });
        if (!forecast.over) continue;
        out.push({
          service: row.service,
          signal: 'gen_ai.budget',
          bucketStartMs: closedBefore - resolutionMs,
          value: forecast.forecastUsd,
          baseline: forecast.limitUsd,
          summary: forecast.explanation,
          explanation: { detector: 'budget-forecast', baseline: forecast.limitUsd, threshold: forecast.limitUsd, evidence: `spent ${(row.spent ?? 0).toFixed(4)} USD since ${new Date(since).toISOString()}` },
        });
      }
    }
    return out;
  };

  return {
    observe,
    checkpoint,
    handOver,
    /** Whether this watch detects for the service now (a collector: its telemetry partition is held). */
    owns,
    /** The partition index a service's telemetry is keyed to, as last read (-1 for every service when the watch detects for all). */
    indexOf,
    /** Buckets from here on were judged by the last pass (earlier for a partition just taken over). */
    judgedFrom: () => lastFrom,
  };
};

/**
 * The series watch an analyzer runs, from its options: the judge's in one process (every service), a
 * collector's apart (`ownership`: the services of the partitions it holds).
 */
export const analyzerSeriesWatch = (
  options: {
    sql: Sql;
    resolutionSeconds: number;
    warmupBuckets: number;
    limits: Record<string, number>;
    costs: { budgets: CostBudget[] };
    detectors?: Array<{ glob: string; detector: DetectorName }>;
    policy?: { meanings?: SignalMeaning[] };
    logger: Logger;
  },
  connectedTo: SeriesWatchOptions['connectedTo'],
  ownership?: SeriesWatchOptions['ownership'],
) =>
  createSeriesWatch({
    sql: options.sql,
    resolutionSeconds: options.resolutionSeconds,
    warmupBuckets: options.warmupBuckets,
    limits: options.limits,
    budgets: options.costs.budgets,
    detectors: options.detectors,
    meanings: options.policy?.meanings,
    connectedTo,
    ownership,
    logger: options.logger.child({ name: 'detectors' }),
  });
