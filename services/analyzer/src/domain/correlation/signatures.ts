// Error signatures: log and exception messages mined into templates with Drain (He et al., "Drain: An
// Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017), and the surge test that turns a new
// or suddenly frequent signature into a signal.
import { createHash } from 'node:crypto';

export type MinerSettings = {
  /** Leading tokens the parse tree branches on, below its token-count layer. */
  prefixDepth: number;
  /** Share of a template's constant tokens a message must match to join it (Drain's st). */
  similarity: number;
  /** Children per tree node; past this, new tokens share the wildcard branch. */
  maxChildren: number;
  /** Templates kept; past this the least recently matched one goes. */
  maxClusters: number;
  /** Tokens of a message considered; the rest is ignored. */
  maxTokens: number;
};

export const defaultMinerSettings: MinerSettings = { prefixDepth: 2, similarity: 0.5, maxChildren: 100, maxClusters: 2_000, maxTokens: 64 };

export const wildcard = '<*>';

// Order matters: wider shapes first, so an IP is not taken for numbers nor a URL for a path.
const masks: Array<[RegExp, string]> = [
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, '<URL>'],
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<TIME>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<UUID>'],
  [/\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g, '<EMAIL>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g, '<IP>'],
  [/(?<![\w:])(?:[0-9a-f]{0,4}:){3,7}[0-9a-f]{1,4}(?![\w:])/gi, '<IP>'],
  [/(?<![\w.~<>])(?:~|\.{1,2})?(?:\/[\w.@%+~-]+)+\/?|\b[a-z]:\\[\w .\\-]+/gi, '<PATH>'],
  [/\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<HEX>'],
  [/(?<![\w.])(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s)){1,4}(?![\w])/g, '<DURATION>'],
  [/(?<![\w.])\d+(?:\.\d+)?\s(?:ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?)\b/g, '<DURATION>'],
  // An id: a word with at least two digits among letters (`pod-7d9f8b-x2k4`, `req_12ab34`, `user42`).
  [/(?<![\w<-])(?=[\w-]*\d[\w-]*\d)(?=[\w-]*[a-z])[\w-]{5,}(?![\w>])/gi, '<ID>'],
  [/(?<![\w.<\/])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w>])/gi, '<NUM>'],
];

/** Replaces the variable parts of a message (numbers, ids, hex, UUIDs, IPs, durations, paths…) by typed wildcards. */
export const maskMessage = (message: string): string => masks.reduce((text, [pattern, token]) => text.replace(pattern, token), message);

const isWildcardLike = (token: string) => token === wildcard || /\d/.test(token);

/** A stable id for a template: the same template gives the same id in every process. */
export const signatureIdOf = (template: string): string => createHash('sha256').update(template).digest('hex').slice(0, 16);

export type Mined = {
  signatureId: string;
  template: string;
  isNew: boolean;
  /** Set when this message generalised an existing template: the id it had until now. */
  replaces?: string;
};

type Cluster = { n: number; tokens: string[]; count: number; path: string[] };
type TreeNode = { children: Map<string, TreeNode>; clusters: number[] };

export type MinerSnapshot = { version: 1; clusters: Array<{ tokens: string[]; count: number; path: string[] }> };

export type TemplateMiner = {
  add(message: string): Mined;
  readonly size: number;
  toJSON(): MinerSnapshot;
};

const newNode = (): TreeNode => ({ children: new Map(), clusters: [] });

/** Drain's seqDist: the share of positions where the template's constant token equals the message's, and the wildcard count. */
const similarity = (template: string[], tokens: string[]): { score: number; params: number } => {
  let same = 0;
  let params = 0;
  for (let i = 0; i < template.length; i++) {
    if (template[i] === wildcard) params++;
    else if (template[i] === tokens[i]) same++;
  }
  return { score: template.length === 0 ? 1 : same / template.length, params };
};

export const createTemplateMiner = (options: Partial<MinerSettings> = {}, snapshot?: MinerSnapshot): TemplateMiner => {
  const settings = { ...defaultMinerSettings, ...options };
  const root = newNode();
  // Map order is recency: the first cluster is the least recently matched.
  const clusters = new Map<number, Cluster>();
  let nextN = 1;

  const leafFor = (path: string[]): TreeNode => {
    let node = root;
    for (const key of path) {
      let child = node.children.get(key);
      if (!child) {
        child = newNode();
        node.children.set(key, child);
      }
      node = child;
    }
    return node;
  };

  /** The branch keys of a message: its length, then its leading tokens (digits and overflow share the wildcard). */
  const pathOf = (tokens: string[]): string[] => {
    const path = [String(tokens.length)];
    let node: TreeNode | undefined = root.children.get(path[0]!);
    for (let depth = 0; depth < Math.min(settings.prefixDepth, tokens.length); depth++) {
      const token = tokens[depth]!;
      let key = isWildcardLike(token) ? wildcard : token;
      if (key !== wildcard && !node?.children.has(key) && (node?.children.size ?? 0) >= settings.maxChildren) key = wildcard;
      path.push(key);
      node = node?.children.get(key);
    }
    return path;
  };

  const evict = (cluster: Cluster) => {
    clusters.delete(cluster.n);
    const trail: TreeNode[] = [root];
    for (const key of cluster.path) trail.push(trail.at(-1)!.children.get(key)!);
    const leaf = trail.at(-1)!;
    leaf.clusters = leaf.clusters.filter((n) => n !== cluster.n);
    // Prune the branch back up while it leads nowhere.
    for (let i = cluster.path.length - 1; i >= 0; i--) {
      const node = trail[i + 1]!;
      if (node.clusters.length > 0 || node.children.size > 0) break;
      trail[i]!.children.delete(cluster.path[i]!);
    }
  };

  const insert = (tokens: string[], count: number, path: string[]): Cluster => {
    const cluster = { n: nextN++, tokens, count, path };
    clusters.set(cluster.n, cluster);
    leafFor(path).clusters.push(cluster.n);
    while (clusters.size > settings.maxClusters) evict(clusters.values().next().value!);
    return cluster;
  };

  const add = (message: string): Mined => {
    const tokens = maskMessage(message).split(/\s+/).filter(Boolean).slice(0, settings.maxTokens);
    const path = pathOf(tokens);
    const leaf = leafFor(path);
    let best: Cluster | undefined;
    let bestScore = -1;
    let bestParams = -1;
    for (const n of leaf.clusters) {
      const cluster = clusters.get(n)!;
      const { score, params } = similarity(cluster.tokens, tokens);
      if (score > bestScore || (score === bestScore && params > bestParams)) {
        best = cluster;
        bestScore = score;
        bestParams = params;
      }
    }
    if (!best || bestScore < settings.similarity) {
      const cluster = insert(tokens, 1, path);
      const template = cluster.tokens.join(' ');
      return { signatureId: signatureIdOf(template), template, isNew: true };
    }
    const before = best.tokens.join(' ');
    best.tokens = best.tokens.map((t, i) => (t === tokens[i] ? t : wildcard));
    best.count++;
    clusters.delete(best.n);
    clusters.set(best.n, best);
    const template = best.tokens.join(' ');
    const signatureId = signatureIdOf(template);
    return template === before ? { signatureId, template, isNew: false } : { signatureId, template, isNew: false, replaces: signatureIdOf(before) };
  };

  for (const c of snapshot?.clusters ?? []) insert([...c.tokens], c.count, [...c.path]);

  return {
    add,
    get size() {
      return clusters.size;
    },
    toJSON: () => ({ version: 1, clusters: [...clusters.values()].map(({ tokens, count, path }) => ({ tokens: [...tokens], count, path: [...path] })) }),
  };
};

/** A miner restored from `toJSON()`, so signature ids and "new" stay right across restarts. */
export const templateMinerFromJSON = (snapshot: MinerSnapshot, options: Partial<MinerSettings> = {}): TemplateMiner => createTemplateMiner(options, snapshot);

// ---- surges ----------------------------------------------------------------------------------

export type SurgeSettings = {
  resolutionMs: number;
  /** Closed buckets a signature's baseline is averaged over. */
  baselineBuckets: number;
  /** Buckets closed before anything is called new or surging (at start everything is unseen). A surge also needs a third of `baselineBuckets` of the signature's own history. */
  warmupBuckets: number;
  /** Occurrences of a new signature in one bucket before it is a signal. */
  minNewCount: number;
  /** Occurrences of a known signature in one bucket before a surge can be called. */
  minCount: number;
  /** The bucket's count must be at least this many times the baseline mean… */
  factor: number;
  /** …and this improbable under a Poisson law with the baseline mean (scaled by the baseline's overdispersion). */
  alpha: number;
  /** The baseline mean never goes below this (a signature seen once is not infinitely sensitive). */
  baselineFloor: number;
  /** (service, signature) pairs remembered; past this the least recently seen goes. */
  maxSignatures: number;
};

export const defaultSurgeSettings: SurgeSettings = {
  resolutionMs: 10_000,
  baselineBuckets: 30,
  warmupBuckets: 30,
  minNewCount: 5,
  minCount: 10,
  factor: 4,
  alpha: 1e-6,
  baselineFloor: 0.5,
  maxSignatures: 20_000,
};

export type SurgeSignal = {
  service: string;
  signatureId: string;
  kind: 'new' | 'surge';
  bucketStartMs: number;
  count: number;
  /** Mean occurrences per bucket before this one (0 for a new signature). */
  baseline: number;
  summary: string;
};

/** A ring of the last `baselineBuckets` buckets' counts: slot i holds bucket `buckets[i]` (-1: empty). */
type SignatureHistory = { firstBucket: number; counts: number[]; buckets: number[] };

export type SurgeSnapshot = {
  version: 1;
  firstClosed?: number;
  /** null when nothing was closed yet (JSON has no -Infinity). */
  lastClosed: number | null;
  known: Array<[string, SignatureHistory]>;
  open: Array<[number, Array<[string, number]>]>;
};

export type SurgeTracker = {
  add(service: string, signatureId: string, timeMs: number, n?: number): void;
  /** The miner generalised a template (`Mined.replaces`): its history carries over to the new id, in every service. */
  rename(from: string, to: string): void;
  /** Judges the bucket starting at `bucketStartMs` and folds it into the baselines; later counts for it are dropped. */
  close(bucketStartMs: number): SurgeSignal[];
  toJSON(): SurgeSnapshot;
};

const lnGamma = (x: number): number => {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
};

/** P(X >= k) for X ~ Poisson(mean), summed from k upwards so that tiny tails stay exact. */
export const poissonUpperTail = (k: number, mean: number): number => {
  if (k <= 0) return 1;
  if (mean <= 0) return 0;
  let term = Math.exp(-mean + k * Math.log(mean) - lnGamma(k + 1));
  let sum = 0;
  for (let i = k; term > sum * 1e-16 && i < k + 10_000; i++) {
    sum += term;
    term *= mean / (i + 1);
  }
  return Math.min(1, sum);
};

export const createSurgeTracker = (options: Partial<SurgeSettings> = {}, snapshot?: SurgeSnapshot): SurgeTracker => {
  const settings = { ...defaultSurgeSettings, ...options };
  const bucketOf = (timeMs: number) => Math.floor(timeMs / settings.resolutionMs);
  const keyOf = (service: string, signatureId: string) => `${service}\u0000${signatureId}`;
  const open = new Map<number, Map<string, number>>((snapshot?.open ?? []).map(([b, counts]) => [b, new Map(counts)]));
  // Map order is recency: the first entry is the least recently seen signature.
  const known = new Map<string, SignatureHistory>((snapshot?.known ?? []).map(([key, h]) => [key, { ...h, counts: [...h.counts], buckets: [...h.buckets] }]));
  let firstClosed = snapshot?.firstClosed;
  let lastClosed = snapshot?.lastClosed ?? -Infinity;

  const add = (service: string, signatureId: string, timeMs: number, n = 1) => {
    const bucket = bucketOf(timeMs);
    // Too late to judge, or so far ahead (a skewed clock) that it would hold a bucket open for long.
    if (bucket <= lastClosed || (Number.isFinite(lastClosed) && bucket > lastClosed + settings.baselineBuckets)) return;
    let counts = open.get(bucket);
    if (!counts) open.set(bucket, (counts = new Map()));
    const key = keyOf(service, signatureId);
    counts.set(key, (counts.get(key) ?? 0) + n);
  };

  const rename = (from: string, to: string) => {
    const suffix = `\u0000${from}`;
    const renamed = (key: string) => `${key.slice(0, -suffix.length)}\u0000${to}`;
    for (const counts of open.values()) {
      for (const [key, n] of [...counts]) {
        if (!key.endsWith(suffix)) continue;
        counts.delete(key);
        counts.set(renamed(key), (counts.get(renamed(key)) ?? 0) + n);
      }
    }
    for (const [key, history] of [...known]) {
      if (!key.endsWith(suffix)) continue;
      known.delete(key);
      const target = known.get(renamed(key));
      if (!target) known.set(renamed(key), history);
      else {
        for (let i = 0; i < history.buckets.length; i++) if (history.buckets[i]! >= 0) remember(target, history.buckets[i]!, history.counts[i]!);
        target.firstBucket = Math.min(target.firstBucket, history.firstBucket);
      }
    }
  };

  /** Adds a count to a history's ring of the last `baselineBuckets` buckets. */
  const remember = (history: SignatureHistory, bucket: number, n: number) => {
    const slot = bucket % settings.baselineBuckets;
    const held = history.buckets[slot]!;
    if (held === bucket) history.counts[slot]! += n;
    else if (held < bucket) {
      history.buckets[slot] = bucket;
      history.counts[slot] = n;
    }
  };

  /** Mean and variance per bucket over the baseline (buckets without occurrences count as 0). */
  const baselineOf = (history: SignatureHistory, bucket: number): { mean: number; variance: number } => {
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < history.buckets.length; i++) {
      const b = history.buckets[i]!;
      if (b < bucket && b >= bucket - settings.baselineBuckets) {
        sum += history.counts[i]!;
        squares += history.counts[i]! ** 2;
      }
    }
    const span = Math.max(1, Math.min(settings.baselineBuckets, bucket - history.firstBucket));
    const mean = sum / span;
    return { mean, variance: Math.max(0, squares / span - mean * mean) };
  };

  const close = (bucketStartMs: number): SurgeSignal[] => {
    const bucket = bucketOf(bucketStartMs);
    firstClosed ??= bucket;
    const warm = bucket - firstClosed >= settings.warmupBuckets;
    const signals: SurgeSignal[] = [];
    for (const b of [...open.keys()].filter((b) => b <= bucket).sort((x, y) => x - y)) {
      const counts = open.get(b)!;
      open.delete(b);
      for (const [key, count] of counts) {
        const [service, signatureId] = key.split('\u0000') as [string, string];
        const history = known.get(key);
        const startMs = b * settings.resolutionMs;
        if (!history) {
          if (warm && count >= settings.minNewCount) {
            signals.push({ service, signatureId, kind: 'new', bucketStartMs: startMs, count, baseline: 0, summary: `new error signature: ${count} occurrences in one interval` });
          }
          const fresh: SignatureHistory = { firstBucket: b, counts: new Array<number>(settings.baselineBuckets).fill(0), buckets: new Array<number>(settings.baselineBuckets).fill(-1) };
          remember(fresh, b, count);
          known.set(key, fresh);
          while (known.size > settings.maxSignatures) known.delete(known.keys().next().value!);
          continue;
        }
        const { mean, variance } = baselineOf(history, b);
        const expected = Math.max(mean, settings.baselineFloor);
        // Log counts are burstier than Poisson: scale by the observed dispersion (quasi-Poisson).
        const dispersion = Math.max(1, variance / expected);
        const pValue = poissonUpperTail(Math.ceil(count / dispersion), expected / dispersion);
        const seasoned = b - history.firstBucket >= settings.baselineBuckets / 3;
        if (warm && seasoned && count >= settings.minCount && count >= settings.factor * expected && pValue <= settings.alpha) {
          signals.push({ service, signatureId, kind: 'surge', bucketStartMs: startMs, count, baseline: mean, summary: `error signature surging: ${count} occurrences vs usual ${mean.toFixed(1)} per interval` });
        }
        remember(history, b, count);
        known.delete(key);
        known.set(key, history);
      }
    }
    lastClosed = Math.max(lastClosed, bucket);
    return signals;
  };

  return {
    add,
    rename,
    close,
    toJSON: () => ({
      version: 1,
      ...(firstClosed === undefined ? {} : { firstClosed }),
      lastClosed: Number.isFinite(lastClosed) ? lastClosed : null,
      known: [...known].map(([key, h]) => [key, { ...h, counts: [...h.counts], buckets: [...h.buckets] }]),
      open: [...open].map(([b, counts]) => [b, [...counts]]),
    }),
  };
};

/** A surge tracker restored from `toJSON()`: baselines and what counts as new survive a restart. */
export const surgeTrackerFromJSON = (snapshot: SurgeSnapshot, options: Partial<SurgeSettings> = {}): SurgeTracker => createSurgeTracker(options, snapshot);
