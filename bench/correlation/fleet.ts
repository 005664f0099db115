// Generated fleets for bench:correlation: services with a known dependency graph serving requests
// whose spans carry trace context across services, healthy noise (1–3 % errors), and faults with a
// known root cause. Seeded, so every run repeats.
import type { AttributeValue, SpanKind, SpanRecord } from '@hephaestus/schemas';

export type Random = {
  next(): number;
  int(lo: number, hi: number): number;
  uniform(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: T[]): T[];
  hex(digits: number): string;
};

/** mulberry32: small, fast and good enough to generate traffic. */
export const createRandom = (seed: number): Random => {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    uniform: (lo, hi) => lo + next() * (hi - lo),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
    hex: (digits) => {
      let out = '';
      while (out.length < digits) out += Math.floor(next() * 0x1_0000_0000).toString(16).padStart(8, '0');
      return out.slice(0, digits);
    },
  };
};

export type Dependency = { to: string; share: number; kind: 'client' | 'producer' };
export type ServiceDef = { name: string; deps: Dependency[]; externals: Array<{ host: string; share: number; slowMs: number }> };
export type Fleet = { services: Map<string, ServiceDef>; roots: Array<{ service: string; perBucket: number }> };

const define = (name: string, deps: Dependency[] = [], externals: ServiceDef['externals'] = []): ServiceDef => ({ name, deps, externals });

/** web → checkout → payments → db, web → search, checkout ⇢ notifier (messaging), payments → a card API. */
export const shopFleet = (): Fleet => ({
  services: new Map(
    [
      define('web', [
        { to: 'checkout', share: 0.6, kind: 'client' },
        { to: 'search', share: 0.5, kind: 'client' },
      ]),
      define('checkout', [
        { to: 'payments', share: 1, kind: 'client' },
        { to: 'notifier', share: 1, kind: 'producer' },
      ]),
      define('payments', [{ to: 'db', share: 1, kind: 'client' }], [{ host: 'api.cards.example', share: 0.5, slowMs: 120 }]),
      define('db'),
      define('search'),
      define('notifier'),
    ].map((s) => [s.name, s]),
  ),
  roots: [{ service: 'web', perBucket: 80 }],
});

/** AI agents: planner → researcher → coder, the last two calling an LLM API. */
export const agentFleet = (): Fleet => ({
  services: new Map(
    [
      define('planner', [{ to: 'researcher', share: 1, kind: 'client' }]),
      define('researcher', [{ to: 'coder', share: 0.8, kind: 'client' }], [{ host: 'api.llm.example', share: 1, slowMs: 900 }]),
      define('coder', [], [{ host: 'api.llm.example', share: 1, slowMs: 1_500 }]),
    ].map((s) => [s.name, s]),
  ),
  roots: [{ service: 'planner', perBucket: 40 }],
});

const names = ['gateway', 'frontend', 'orders', 'cart', 'inventory', 'pricing', 'users', 'auth', 'ledger', 'catalog', 'shipping', 'ratings', 'sessions', 'storage', 'billing'];

/** A random layered fleet (2, 3, 3, 2 services): each service calls one or two of the next layer. */
export const layeredFleet = (random: Random): Fleet => {
  const pool = random.shuffle([...names]);
  const layers = [2, 3, 3, 2].map((n) => pool.splice(0, n));
  const services = new Map<string, ServiceDef>();
  for (let i = 0; i < layers.length; i++) {
    const next = layers[i + 1] ?? [];
    const uncalled = new Set(next);
    for (const name of layers[i]!) {
      const targets = new Set([random.pick(next.length > 0 ? next : [''])]);
      if (random.chance(0.5)) targets.add(random.pick(next.length > 0 ? next : ['']));
      targets.delete('');
      for (const t of targets) uncalled.delete(t);
      services.set(name, define(name, [...targets].map((to) => ({ to, share: random.uniform(0.7, 1), kind: 'client' as const }))));
    }
    // Everyone below the top layer has a caller.
    for (const orphan of uncalled) services.get(random.pick(layers[i]!))!.deps.push({ to: orphan, share: random.uniform(0.7, 1), kind: 'client' });
  }
  return { services, roots: layers[0]!.map((service) => ({ service, perBucket: random.int(70, 100) })) };
};

export const mergeFleets = (...fleets: Fleet[]): Fleet => ({
  services: new Map(fleets.flatMap((f) => [...f.services])),
  roots: fleets.flatMap((f) => f.roots),
});

/** Every service that calls `service`, directly or through others, with its distance in calls. */
export const callersOf = (fleet: Fleet, service: string): Map<string, number> => {
  const hops = new Map<string, number>();
  let frontier = [service];
  for (let d = 1; frontier.length > 0; d++) {
    const next: string[] = [];
    for (const s of fleet.services.values()) {
      if (hops.has(s.name) || s.name === service) continue;
      if (s.deps.some((dep) => dep.kind === 'client' && frontier.includes(dep.to))) {
        hops.set(s.name, d);
        next.push(s.name);
      }
    }
    frontier = next;
  }
  return hops;
};

export type Fault = {
  id: string;
  root: string;
  startMs: number;
  endMs: number;
  errorRate: number;
  message: string;
  /** Callers start passing the root's errors on this long after the start, per call of distance (retries absorb them until then). */
  staggerMs: number;
  /** A flapping fault is on in even intervals only. */
  flapping: boolean;
  /** The root and every service that calls it: the services whose signals belong to this fault. */
  affected: Set<string>;
  /** Filled in by the generator: the start of the first span the fault made fail. */
  firstBadSpanMs?: number;
};

const faultMessages = [
  (r: Random, s: string) => `deadlock detected on relation orders_${s} (pid ${r.int(1000, 60000)})`,
  (r: Random, s: string) => `connection refused to ${s} at 10.0.${r.int(0, 9)}.${r.int(2, 250)}:${r.pick([5432, 6379, 8080])}`,
  (r: Random, s: string) => `OOMKilled: container ${s}-${r.hex(6)} exceeded its memory limit`,
  (r: Random) => `too many connections (max ${r.pick([100, 200])}) from 10.0.${r.int(0, 9)}.${r.int(2, 250)}`,
  (r: Random, s: string) => `${s} worker pool exhausted, ${r.int(50, 400)} requests queued`,
  (r: Random) => `TLS handshake failed: certificate expired on ${r.pick(['2025-01-31T00:00:00Z', '2025-02-28T00:00:00Z'])}`,
];

const noiseMessages = [
  (r: Random) => `timeout after ${r.int(900, 3100)} ms calling 10.0.${r.int(0, 9)}.${r.int(2, 250)}`,
  (r: Random) => `request ${r.hex(8)}-${r.hex(4)}-4${r.hex(3)}-a${r.hex(3)}-${r.hex(12)} rejected: invalid payload at /api/v1/items/${r.int(1, 99999)}`,
  (r: Random) => `connection reset by peer 10.0.${r.int(0, 9)}.${r.int(2, 250)}:${r.int(30000, 60000)}`,
  (r: Random) => `stale cache entry user:${r.int(1, 99999)} evicted after ${r.int(1, 30)}s`,
];

export const faultMessageCount = faultMessages.length;

export const createFault = (
  random: Random,
  fleet: Fleet,
  fields: { id: string; root: string; startMs: number; durationMs: number; staggerMs: number; flapping?: boolean; messageIndex: number },
): Fault => ({
  id: fields.id,
  root: fields.root,
  startMs: fields.startMs,
  endMs: fields.startMs + fields.durationMs,
  errorRate: fields.flapping ? random.uniform(0.35, 0.6) : random.uniform(0.5, 0.9),
  message: faultMessages[fields.messageIndex % faultMessages.length]!(random, fields.root),
  staggerMs: fields.staggerMs,
  flapping: fields.flapping ?? false,
  affected: new Set([fields.root, ...callersOf(fleet, fields.root).keys()]),
});

export type Delivered = { span: SpanRecord; arrivalMs: number };

export type World = {
  random: Random;
  fleet: Fleet;
  faults: Fault[];
  resolutionMs: number;
  /** Each service's usual error rate. */
  baseError: Map<string, number>;
  hops: Map<string, Map<string, number>>;
  /** Span and trace ids are a counter: unique, and cheaper than random digits. */
  nextId: number;
};

export const createWorld = (random: Random, fleet: Fleet, faults: Fault[], resolutionMs: number): World => ({
  random,
  fleet,
  faults,
  resolutionMs,
  baseError: new Map([...fleet.services.keys()].map((s) => [s, random.uniform(0.01, 0.03)])),
  hops: new Map(faults.map((f) => [f.id, callersOf(fleet, f.root)])),
  nextId: 1,
});

const resources = new Map<string, Record<string, AttributeValue>>();
const resourceOf = (service: string) => {
  let r = resources.get(service);
  if (!r) resources.set(service, (r = { 'service.name': service }));
  return r;
};
const scope = { name: 'bench-correlation' };
const nanos = (ms: number) => `${Math.round(ms * 1000)}000`;

const makeSpan = (
  service: string,
  traceId: string,
  spanId: string,
  parentSpanId: string | undefined,
  kind: SpanKind,
  name: string,
  startMs: number,
  durationMs: number,
  statusMessage: string | undefined,
  attributes: Record<string, AttributeValue> = {},
): SpanRecord => ({
  service,
  traceId,
  spanId,
  parentSpanId,
  name,
  kind,
  startTimeUnixNano: nanos(startMs),
  endTimeUnixNano: nanos(startMs + durationMs),
  startTimeMs: startMs,
  durationMs,
  status: statusMessage === undefined ? 'unset' : 'error',
  statusMessage,
  attributes,
  resource: resourceOf(service),
  scope,
  events: [],
  links: [],
});

const activeFault = (world: World, service: string, timeMs: number): Fault | undefined =>
  world.faults.find((f) => f.root === service && timeMs >= f.startMs && timeMs < f.endMs && (!f.flapping || Math.floor(timeMs / world.resolutionMs) % 2 === 0));

/** How likely a failed downstream call fails this service's request too (retries and fallbacks absorb the rest). */
const propagation = (world: World, service: string, timeMs: number): number => {
  for (const f of world.faults) {
    if (f.flapping || timeMs < f.startMs || timeMs >= f.endMs) continue;
    const hop = world.hops.get(f.id)!.get(service);
    if (hop !== undefined) return timeMs >= f.startMs + hop * f.staggerMs ? 0.9 : 0.03;
  }
  return 0.5;
};

/** One interval of traffic: every span it produces, with when its batch reaches the analyzer. */
export const generateInterval = (world: World, bucketStartMs: number, trafficFactor: number, errorJitter: Map<string, number>): Delivered[] => {
  const { random, fleet } = world;
  const id = (digits: number) => (world.nextId++).toString(16).padStart(digits, '0');
  const out: Delivered[] = [];
  // Each service exports its spans in batches: one flush delay per service and interval.
  const flushDelay = new Map([...fleet.services.keys()].map((s) => [s, random.uniform(0, 3_000)]));
  const emit = (span: SpanRecord) => out.push({ span, arrivalMs: span.startTimeMs + span.durationMs + flushDelay.get(span.service)! });

  const serve = (service: string, traceId: string, parentSpanId: string | undefined, kind: 'server' | 'consumer', startMs: number): { failed: boolean; durationMs: number; message?: string } => {
    const def = fleet.services.get(service)!;
    const spanId = id(16);
    let cursor = startMs + random.uniform(0.5, 3);
    let downstream: { to: string; message: string } | undefined;
    for (const dep of def.deps) {
      if (!random.chance(dep.share)) continue;
      const callId = id(16);
      if (dep.kind === 'producer') {
        emit(makeSpan(service, traceId, callId, spanId, 'producer', `publish ${dep.to}`, cursor, 1, undefined, { 'messaging.destination.name': `${dep.to}-events` }));
        serve(dep.to, traceId, callId, 'consumer', cursor + random.uniform(5, 200));
        cursor += 1;
        continue;
      }
      const child = serve(dep.to, traceId, callId, 'server', cursor + 0.3);
      const durationMs = child.durationMs + 0.6;
      const message = child.failed ? `upstream ${dep.to} failed: 503 Service Unavailable after ${Math.round(durationMs)} ms` : undefined;
      emit(makeSpan(service, traceId, callId, spanId, 'client', `call ${dep.to}`, cursor, durationMs, message, random.chance(0.5) ? { 'peer.service': dep.to } : {}));
      if (message && !downstream) downstream = { to: dep.to, message };
      cursor += durationMs;
    }
    for (const ext of def.externals) {
      if (!random.chance(ext.share)) continue;
      const durationMs = ext.slowMs * random.uniform(0.5, 1.5);
      const message = random.chance(0.01) ? `429 Too Many Requests from ${ext.host}` : undefined;
      emit(makeSpan(service, traceId, id(16), spanId, 'client', `POST ${ext.host}`, cursor, durationMs, message, { 'server.address': ext.host }));
      if (message && !downstream) downstream = { to: ext.host, message };
      cursor += durationMs;
    }
    const fault = activeFault(world, service, startMs);
    const ownRate = fault ? fault.errorRate : world.baseError.get(service)! * errorJitter.get(service)!;
    let message: string | undefined;
    if (random.chance(ownRate)) {
      message = fault ? fault.message.replace(/\d+/g, (d) => (d.length >= 3 ? String(random.int(10 ** (d.length - 1), 10 ** d.length - 1)) : d)) : random.pick(noiseMessages)(random);
      if (fault && (fault.firstBadSpanMs === undefined || startMs < fault.firstBadSpanMs)) fault.firstBadSpanMs = startMs;
    } else if (downstream && random.chance(propagation(world, service, startMs))) {
      message = `upstream ${downstream.to} failed: 503 Service Unavailable after ${Math.round(cursor - startMs)} ms`;
    }
    const durationMs = cursor - startMs + random.uniform(1, 25);
    emit(makeSpan(service, traceId, spanId, parentSpanId, kind, kind === 'consumer' ? `process ${service}-events` : `handle ${service}`, startMs, durationMs, message));
    return { failed: message !== undefined, durationMs, message };
  };

  for (const root of fleet.roots) {
    const requests = Math.round(root.perBucket * trafficFactor * random.uniform(0.85, 1.15));
    for (let i = 0; i < requests; i++) serve(root.service, id(32), undefined, 'server', bucketStartMs + random.next() * world.resolutionMs);
  }
  return out;
};
