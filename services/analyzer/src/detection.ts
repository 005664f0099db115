// The analyzer's first stage, detecting (analyzers apart): beside collecting, each analyzer runs the
// detectors for the services whose telemetry partitions it holds. It closes an interval on its own
// watermark (the event time of the partitions it reads, held back by any it is still catching up on),
// runs the error-rate test and the series watch (every series' detectors, level shifts, predictions,
// budgets) over the stored buckets, and reports the observations with the time it has detected up to,
// for the judge's incident policy. The judge freezes baselines as incidents open; the detectors read
// them back (`frozen_baselines`), and the topology the judge learns (`topology_edges`) tells a
// service's peers from the services it calls or is called by.
import type { Logger, Sql } from '@hephaestus/platform';
import type { CostsConfig, DetectionReport, Observation, SignalMeaning } from '@hephaestus/schemas';
import { Gauge, type Registry } from 'prom-client';
import { observeErrorRates } from './adapters/error-rate-watch.ts';
import { analyzerSeriesWatch } from './adapters/series-watch.ts';
import { readStoredTopology } from './adapters/correlator.ts';
import { readFrozenBaselines } from './adapters/frozen-baselines.ts';
import { connectedWithin } from './domain/correlation/topology.ts';
import type { DetectorName } from './domain/detectors/index.ts';
import { defaultErrorRateSettings, type ErrorRateSettings } from './domain/error-rate-detector.ts';
import { createWatermark, type WatermarkSource } from './domain/watermark.ts';

export type DetectionOptions = {
  sql: Sql;
  logger: Logger;
  registry: Registry;
  resolutionSeconds: number;
  graceSeconds: number;
  warmupBuckets: number;
  limits: Record<string, number>;
  costs: CostsConfig;
  detectors?: Array<{ glob: string; detector: DetectorName }>;
  policy?: { meanings?: SignalMeaning[] };
  settings?: ErrorRateSettings;
  /** The partition indexes held now: their services are this analyzer's to detect for. */
  held: () => ReadonlySet<number>;
  /** Hands a pass's observations on (to heph.signals); a throw leaves the intervals for the next pass. */
  report: (report: DetectionReport) => Promise<void>;
  now?: () => number;
};

/** After a long stop, at most this many intervals of error rates are judged to catch up (as the judge does). */
const maxCatchUpIntervals = 60;

export const startDetection = (options: DetectionOptions) => {
  const { sql, logger } = options;
  const now = options.now ?? Date.now;
  const resolutionMs = options.resolutionSeconds * 1000;
  const settings = options.settings ?? defaultErrorRateSettings;
  const watermark = createWatermark({ staleMs: 30_000 });
  let topology: Awaited<ReturnType<typeof readStoredTopology>> = { downstreamOf: () => [], upstreamOf: () => [] };
  let topologyReadAtMs = 0;
  const seriesWatch = analyzerSeriesWatch(options, (service) => connectedWithin(topology, service, 4), { held: options.held });
  /** Every interval before this is judged and reported. */
  let detectedBefore: number | undefined;
  let detectedIndexes = new Set<number>();
  let unsent: Observation[] = [];
  new Gauge({
    name: 'heph_analyzer_detected_before_seconds',
    help: 'Event time (Unix seconds) before which this analyzer has judged every interval of the services of the partitions it holds.',
    registers: [options.registry],
    collect() {
      if (detectedBefore !== undefined) this.set(detectedBefore / 1000);
    },
  });

  const closedBefore = () => {
    const { ms, wentStale } = watermark.at(now());
    for (const source of wentStale) logger.warn({ source }, `partition ${source} was behind and has not been heard of for 30 s: detection goes on without waiting for it`);
    return Math.floor((Math.min(now(), ms) - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
  };

  /** Sends what the detectors saw (with any a refused report held), then forgets it. */
  const send = async (indexes: ReadonlySet<number>, before: number) => {
    await options.report({ indexes: [...indexes].sort((a, b) => a - b), before, observations: unsent });
    unsent = [];
  };

  const pass = async () => {
    const until = closedBefore();
    if (unsent.length > 0 && detectedBefore !== undefined && until <= detectedBefore) return send(detectedIndexes, detectedBefore);
    if (watermark.newestMs() === 0 || (detectedBefore !== undefined && until <= detectedBefore)) return;
    // What the judge shares: the baselines its open incidents froze, and (every 10 s) the dependency graph.
    const frozenOf = await readFrozenBaselines(sql);
    if (now() - topologyReadAtMs >= 10_000) {
      topologyReadAtMs = now();
      topology = await readStoredTopology(sql);
    }
    const observations = await seriesWatch.observe(until, undefined, frozenOf);
    const held = new Set(options.held());
    // Error rates are read from the rollups, no state: an index just taken is judged from where its
    // detectors resumed, so no interval between the last owner's report and this one goes unjudged.
    const first = detectedBefore ?? until - resolutionMs;
    const resumedFrom = Math.max(until - maxCatchUpIntervals * resolutionMs, Math.min(first, seriesWatch.judgedFrom() ?? first));
    const gained = new Set([...held].filter((i) => !detectedIndexes.has(i)));
    const errors = await observeErrorRates(
      { sql, resolutionSeconds: options.resolutionSeconds, settings, frozen: frozenOf, owns: seriesWatch.owns },
      Math.min(first, resolutionMs * Math.floor(resumedFrom / resolutionMs)),
      until,
      (service) => (gained.has(seriesWatch.indexOf(service) ?? -1) ? resumedFrom : first),
    );
    const all = [...errors, ...observations];
    const finite = all.filter((o) => Number.isFinite(o.value) && Number.isFinite(o.baseline));
    if (finite.length < all.length) logger.warn({ dropped: all.length - finite.length, first: all.find((o) => !finite.includes(o))?.summary }, 'observations without a finite value or baseline not reported');
    // The detectors have moved on: a report the log did not take is sent with the next one, not lost.
    unsent.push(...finite);
    detectedBefore = until;
    detectedIndexes = held;
    await send(held, until);
  };

  let running: Promise<void> = Promise.resolve();
  /** One thing at a time: passes, hand-overs and checkpoints never overlap. */
  const chain = (work: () => Promise<void>) => {
    const next = running.then(work);
    running = next.catch((error: unknown) => logger.error({ err: error }, 'detection pass failed'));
    return next;
  };
  let scheduled = false;
  let stopped = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    void chain(async () => {
      scheduled = false;
      if (!stopped) await pass();
    });
  };
  // The clock also closes intervals: a partition that went stale stops holding time back.
  const timer = setInterval(schedule, 1000);

  return {
    /** One applied batch of a partition this analyzer collects: time moves on, and a closed interval is judged. */
    accept: (batch: WatermarkSource) => {
      if (stopped) return;
      watermark.advance(batch, now(), now() + 60_000);
      if (detectedBefore === undefined || closedBefore() > detectedBefore) schedule();
    },
    /** Before partitions are let go: their detectors' state goes to their checkpoints for the next owner. */
    handOver: (indexes: number[]) => chain(() => seriesWatch.handOver(indexes)),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
      await chain(() => seriesWatch.checkpoint()).catch((error: unknown) => logger.warn({ err: error }, 'detector checkpoint at stop failed'));
    },
  };
};
