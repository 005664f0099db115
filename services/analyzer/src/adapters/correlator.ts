// correlate: the analyzer's live correlation state — the dependency graph learned from spans, error
// signatures mined from failing spans' messages and exemplar traces — that the incident policy
// relates signals and ranks root causes with.
import { deserialize, serialize } from 'node:v8';
import type { Logger, Sql, TransactionSql } from '@hephaestus/platform';
import type { SpanRecord } from '@hephaestus/schemas';
import { createExemplarStore, snapshotTraces, type ExemplarSnapshot, type ExemplarStore } from '../domain/correlation/exemplars.ts';
import { createSurgeTracker, createTemplateMiner, type MinerSnapshot, type SurgeSignal, type SurgeSnapshot } from '../domain/correlation/signatures.ts';
import { createTopology, type TopologySnapshot, type TopologyView } from '../domain/correlation/topology.ts';

type SignatureCount = { template: string; count: number; lastMs: number };

/**
 * What survives a restart or a takeover: the graph, the error signatures, and the exemplar traces root-cause
 * ranking and new incidents draw on (a checkpoint saved before they were kept has none: they are learned again).
 */
export type CorrelatorSnapshot = {
  format: typeof snapshotFormat;
  topology: TopologySnapshot;
  miner: MinerSnapshot;
  surges: SurgeSnapshot;
  lastClosed?: number;
  signatures: Array<[string, Array<[string, SignatureCount]>]>;
  exemplars?: ExemplarSnapshot;
};
const snapshotFormat = 1;

export const createCorrelator = (options: { resolutionSeconds?: number; snapshot?: CorrelatorSnapshot } = {}) => {
  const saved = options.snapshot;
  const topology = createTopology({}, saved?.topology);
  const exemplars = createExemplarStore({}, saved?.exemplars);
  const miner = createTemplateMiner({}, saved?.miner);
  const resolutionMs = (options.resolutionSeconds ?? 10) * 1000;
  const surges = createSurgeTracker({ resolutionMs }, saved?.surges);
  let lastClosed: number | undefined = saved?.lastClosed;
  const signatures = new Map<string, Map<string, SignatureCount>>((saved?.signatures ?? []).map(([service, counts]) => [service, new Map(counts.map(([id, c]) => [id, { ...c }]))]));

  const observe = (span: SpanRecord) => {
    topology.observe(span);
    exemplars.observe(span);
    const message = span.status === 'error' ? (span.statusMessage ?? span.events.find((e) => e.name === 'exception')?.attributes['exception.message']) : undefined;
    if (typeof message !== 'string' || message.length === 0) return;
    const mined = miner.add(message);
    if (mined.replaces) surges.rename(mined.replaces, mined.signatureId);
    surges.add(span.service, mined.signatureId, span.startTimeMs + span.durationMs);
    const counts = signatures.get(span.service) ?? new Map<string, SignatureCount>();
    signatures.set(span.service, counts);
    const previous = mined.replaces ? counts.get(mined.replaces) : undefined;
    if (mined.replaces) counts.delete(mined.replaces);
    const entry = counts.get(mined.signatureId) ?? { template: mined.template, count: previous?.count ?? 0, lastMs: 0 };
    entry.template = mined.template;
    entry.count++;
    entry.lastMs = Math.max(entry.lastMs, span.startTimeMs + span.durationMs);
    counts.set(mined.signatureId, entry);
    if (counts.size > 50) counts.delete(counts.keys().next().value!);
  };

  /** The service's most frequent error signature seen since `sinceMs`. */
  const topSignature = (service: string, sinceMs: number): { id: string; template: string } | undefined => {
    let best: [string, SignatureCount] | undefined;
    for (const entry of signatures.get(service) ?? []) if (entry[1].lastMs >= sinceMs && (!best || entry[1].count > best[1].count)) best = entry;
    return best ? { id: best[0], template: best[1].template } : undefined;
  };

  /** The template of a service's error signature, by id. */
  const templateOf = (service: string, signatureId: string): string | undefined => signatures.get(service)?.get(signatureId)?.template;

  /** Exemplar traces by id (the ones still kept), for root-cause ranking. */
  const traces = (traceIds: readonly string[]): SpanRecord[][] => traceIds.map((t) => exemplars.trace(t)).filter((t): t is SpanRecord[] => t !== undefined);

  /** A few whole traces of a service around a moment (failing, slowest, a normal one), for an incident to keep. */
  const exemplarsOf: ExemplarStore['exemplars'] = (service, options) => exemplars.exemplars(service, options);

  /** Closes the signature buckets before `closedBeforeMs`: the new and surging error signatures among them. */
  const closeSignatureBuckets = (closedBeforeMs: number): SurgeSignal[] => {
    const out: SurgeSignal[] = [];
    let next = lastClosed === undefined ? closedBeforeMs - resolutionMs : lastClosed + resolutionMs;
    for (; next < closedBeforeMs; next += resolutionMs) {
      out.push(...surges.close(next));
      lastClosed = next;
    }
    return out;
  };

  /** The learned graph, written where the API reads it. */
  const persistTopology = async (sql: Sql, nowMs: number) => {
    const edges = topology.edges(nowMs);
    await sql.begin(async (tx) => {
      await tx`DELETE FROM topology_edges`;
      if (edges.length === 0) return;
      await tx`INSERT INTO topology_edges ${tx(edges.map((e) => ({ caller: e.caller, callee: e.callee, calls: e.calls, errors: e.errors, updated_at: new Date(e.lastSeenMs) })))}`;
    });
  };

  const snapshot = (): CorrelatorSnapshot => ({
    format: snapshotFormat,
    topology: topology.toJSON(),
    miner: miner.toJSON(),
    surges: surges.toJSON(),
    ...(lastClosed === undefined ? {} : { lastClosed }),
    signatures: [...signatures].map(([service, counts]) => [service, [...counts].map(([id, c]) => [id, { ...c }])]),
    exemplars: exemplars.snapshot(),
  });

  /**
   * Saves the snapshot for the next analyzer of this resolution (at start, or taking over) to resume from.
   * `alongside` is asked at the moment of the snapshot for what else to write in the same transaction
   * (the position of the batches the snapshot has learned).
   */
  const checkpoint = async (sql: Sql, alongside?: () => (tx: TransactionSql) => Promise<unknown>) => {
    const bytes = serialize(snapshot());
    const also = alongside?.();
    await sql.begin(async (tx) => {
      await tx`
        INSERT INTO correlator_checkpoints (resolution_seconds, state) VALUES (${resolutionMs / 1000}, ${bytes})
        ON CONFLICT (resolution_seconds) DO UPDATE SET state = EXCLUDED.state, saved_at = now()`;
      await also?.(tx);
    });
  };

  return { observe, topSignature, templateOf, traces, exemplars: exemplarsOf, topology: topology as TopologyView, closeSignatureBuckets, persistTopology, snapshot, checkpoint };
};

export type Correlator = ReturnType<typeof createCorrelator>;

/**
 * The correlator as the last checkpoint of this resolution left it, or a new one (none yet, another
 * format, or unreadable: then it says why).
 */
export const resumeCorrelator = async (sql: Sql, resolutionSeconds: number, logger?: Logger): Promise<Correlator> => {
  const [row] = await sql<{ state: Buffer; saved_at: Date }[]>`SELECT state, saved_at FROM correlator_checkpoints WHERE resolution_seconds = ${resolutionSeconds}`;
  if (!row) return createCorrelator({ resolutionSeconds });
  const fresh = (reason: string) => {
    logger?.warn({ savedAt: row.saved_at.toISOString() }, `correlator checkpoint not resumed (${reason}): the dependency graph and error signatures are learned again`);
    return createCorrelator({ resolutionSeconds });
  };
  let snapshot: CorrelatorSnapshot;
  try {
    snapshot = deserialize(row.state) as CorrelatorSnapshot;
  } catch (error) {
    return fresh(`unreadable: ${(error as Error).message}`);
  }
  if (snapshot?.format !== snapshotFormat) return fresh(`format ${String(snapshot?.format)}, this analyzer reads ${snapshotFormat}`);
  const correlator = createCorrelator({ resolutionSeconds, snapshot });
  const traces = snapshot.exemplars ? snapshotTraces(snapshot.exemplars) : 0;
  logger?.info(
    { savedAt: row.saved_at.toISOString(), edges: snapshot.topology.edges.length, signatures: snapshot.miner.clusters.length, traces },
    `correlator resumed from its checkpoint: ${snapshot.topology.edges.length} dependency edges, ${snapshot.miner.clusters.length} error signatures, ${traces} exemplar traces`,
  );
  return correlator;
};

/**
 * The dependency graph as the judging analyzer last stored it (`persistTopology`): who calls whom, for a
 * collector's detectors to tell a service's peers from the services it is connected to.
 */
export const readStoredTopology = async (sql: Sql): Promise<Pick<TopologyView, 'downstreamOf' | 'upstreamOf'>> => {
  const downstream = new Map<string, string[]>();
  const upstream = new Map<string, string[]>();
  for (const { caller, callee } of await sql<{ caller: string; callee: string }[]>`SELECT caller, callee FROM topology_edges`) {
    downstream.set(caller, [...(downstream.get(caller) ?? []), callee]);
    upstream.set(callee, [...(upstream.get(callee) ?? []), caller]);
  }
  return { downstreamOf: (s) => downstream.get(s) ?? [], upstreamOf: (s) => upstream.get(s) ?? [] };
};
