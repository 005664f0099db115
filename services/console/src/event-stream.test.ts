// The console's Server-Sent Events on real PostgreSQL over real HTTP: a page hears each event appended
// after it connected, in order, with the incident it concerns; the stream needs the token; closing the
// console ends the streams instead of hanging; the events table is read when appends are announced
// (LISTEN/NOTIFY), not on a timer; and on embedded PGlite, where appends are announced in process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { listen, newRegistry, openDatabase, type Database, type Sql } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { createConsoleServer } from './console.ts';
import type { EventFrame } from './event-stream.ts';

/** Reads an SSE response frame by frame: `next(predicate)` resolves with the first frame that matches. */
const frames = (body: ReadableStream<Uint8Array>) => {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  const seen: Array<{ event: string; id?: string; data: any }> = [];
  /** Keep-alive comments read so far. */
  let heartbeats = 0;
  const read = async (options: { heartbeat?: boolean } = {}): Promise<{ event: string; id?: string; data: any } | undefined> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (text.startsWith(': keep-alive')) {
          heartbeats++;
          if (options.heartbeat) return { event: 'heartbeat', data: heartbeats };
        }
        const event = /^event: (.*)$/m.exec(text)?.[1];
        if (!event) continue;
        const frame = { event, id: /^id: (.*)$/m.exec(text)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(text)![1]!) };
        seen.push(frame);
        return frame;
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  };
  return { seen, read, cancel: () => reader.cancel() };
};

/** `sql`, counting the statements that read the events table after a position (the follower's reads). */
const countingReads = (sql: Sql) => {
  const counter = { reads: 0 };
  const counted = new Proxy(sql, {
    apply(target, self, args: unknown[]) {
      const strings = args[0] as readonly string[] | undefined;
      if (Array.isArray(strings) && strings.join('?').includes('FROM events WHERE position >')) counter.reads++;
      return Reflect.apply(target, self, args);
    },
  });
  return { sql: counted, counter };
};

const open = (sql: Database['sql'], incidentId: string) =>
  handleIncidentCommand(sql, {
    type: 'OpenIncident', at: new Date().toISOString(), incidentId, service: `svc-${incidentId}`, signal: 'error_rate', severity: 'critical', summary: 'errors',
    value: 0.4, baseline: 0.01, calls: 100, errors: 40, windowStart: new Date().toISOString(), traceIds: [],
  });

describe('console event stream', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  let base = '';
  const auth = { authorization: 'Bearer s3cret' };

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    app = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry(), tokens: [{ name: 'alice', token: 's3cret' }] });
    base = `http://127.0.0.1:${await listen(app, '127.0.0.1', 0)}`;
    // History before a page connects is not replayed: the page reads its view when the stream is ready.
    await open(db.sql, 'before');
  });
  afterAll(async () => {
    // fetch (undici) leaves sockets open on which it never sent a request: Node waits for their headers
    // (headersTimeout) before a close completes. The streams themselves ended with their tests.
    app.server.closeAllConnections();
    await app.close();
    await db.close();
    await drop();
  });

  it('refuses a stream without the token', async () => {
    const response = await fetch(`${base}/api/events/stream`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect((await response.json()).detail).toBe('missing or invalid bearer token');
  });

  it('sends ready, then every event appended after it in commit order, with the incident it concerns', async () => {
    const response = await fetch(`${base}/api/events/stream`, { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const stream = frames(response.body!);
    const ready = await stream.read();
    expect(ready?.event).toBe('ready');

    await open(db.sql, 'live-1');
    await handleIncidentCommand(db.sql, { type: 'AcknowledgeIncident', at: new Date().toISOString(), incidentId: 'live-1', by: 'alice' });
    await open(db.sql, 'live-2');
    const got: EventFrame[] = [];
    while (got.length < 3) got.push((await stream.read())!.data);
    expect(got.map((f) => [f.type, f.incidentId, f.streamId])).toEqual([
      ['incident.opened', 'live-1', 'incident-live-1'],
      ['incident.acknowledged', 'live-1', 'incident-live-1'],
      ['incident.opened', 'live-2', 'incident-live-2'],
    ]);
    // Positions rise, and each frame's id is its position (for a reader that wants to resume).
    const positions = got.map((f) => BigInt(f.position));
    expect(positions[0]! > BigInt(ready!.data.position)).toBe(true);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect(stream.seen.slice(1).map((f) => f.id)).toEqual(got.map((f) => f.position));
    // The event's data stays behind the incident's own API: a frame says only what changed.
    expect(Object.keys(got[0]!).sort()).toEqual(['incidentId', 'occurredAt', 'position', 'streamId', 'type']);
    await stream.cancel();
  });

  it('serves two pages at once, and a page that left does not stop the others', async () => {
    const first = frames((await fetch(`${base}/api/events/stream`, { headers: auth })).body!);
    const second = frames((await fetch(`${base}/api/events/stream`, { headers: auth })).body!);
    expect((await first.read())?.event).toBe('ready');
    expect((await second.read())?.event).toBe('ready');
    await open(db.sql, 'both');
    expect((await first.read())?.data.incidentId).toBe('both');
    expect((await second.read())?.data.incidentId).toBe('both');
    await first.cancel();
    await open(db.sql, 'second-only');
    expect((await second.read())?.data.incidentId).toBe('second-only');
    await second.cancel();
  });

  it('reads the events table when an append is announced, never on a timer', async () => {
    const { sql, counter } = countingReads(db.sql);
    const pushed = createConsoleServer({ sql, logger: testLogger(), registry: newRegistry(), eventStreamHeartbeatMs: 25 });
    const url = `http://127.0.0.1:${await listen(pushed, '127.0.0.1', 0)}`;
    const stream = frames((await fetch(`${url}/api/events/stream`)).body!);
    expect((await stream.read())?.event).toBe('ready');
    // The reads of connecting are done by the first heartbeat; then twenty heartbeats (half a second, two polls of the old 250 ms timer) pass idle.
    await stream.read({ heartbeat: true });
    const settled = counter.reads;
    for (let beats = 0; beats < 20; beats++) expect((await stream.read({ heartbeat: true }))?.event).toBe('heartbeat');
    expect(counter.reads).toBe(settled);
    await open(db.sql, 'pushed');
    expect((await stream.read())?.data.incidentId).toBe('pushed');
    expect(counter.reads).toBeGreaterThan(settled);
    await stream.cancel();
    pushed.server.closeAllConnections();
    await pushed.close();
  });

  it('ends open streams when the console closes', async () => {
    const other = createConsoleServer({ sql: db.sql, logger: testLogger(), registry: newRegistry() });
    const url = `http://127.0.0.1:${await listen(other, '127.0.0.1', 0)}`;
    const stream = frames((await fetch(`${url}/api/events/stream`)).body!);
    expect((await stream.read())?.event).toBe('ready');
    await other.close();
    expect(await stream.read()).toBeUndefined();
  });
});

describe('console event stream on embedded PGlite', () => {
  let dir: string;
  let db: Database;
  let app: FastifyInstance;
  let base = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'heph-stream-'));
    db = await openDatabase({ dataDir: dir, log: testLogger() });
    app = createConsoleServer({ sql: db.sql, databaseKind: db.kind, logger: testLogger(), registry: newRegistry() });
    base = `http://127.0.0.1:${await listen(app, '127.0.0.1', 0)}`;
  }, 60_000);
  afterAll(async () => {
    app.server.closeAllConnections();
    await app.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hears appends in process: each event reaches the page, in order', async () => {
    expect(db.kind).toBe('pglite');
    const stream = frames((await fetch(`${base}/api/events/stream`)).body!);
    expect((await stream.read())?.event).toBe('ready');
    await open(db.sql, 'embedded-1');
    await handleIncidentCommand(db.sql, { type: 'AcknowledgeIncident', at: new Date().toISOString(), incidentId: 'embedded-1', by: 'alice' });
    const got: EventFrame[] = [];
    while (got.length < 2) got.push((await stream.read())!.data);
    expect(got.map((f) => [f.type, f.incidentId])).toEqual([['incident.opened', 'embedded-1'], ['incident.acknowledged', 'embedded-1']]);
    await stream.cancel();
  });
});
