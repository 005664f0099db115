import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.ts';
import { appendToStream, hasEvent, headPosition, readAll, readEventsOfTypes, readStream, readStreams, streamIdsWith, type EventToAppend } from './event-store.ts';
import { deterministicId, randomId } from './ids.ts';
import { freshDatabase, testLogger } from './testing.ts';

const resolved = (incidentId: string, id = randomId()): EventToAppend => ({
  id,
  type: 'incident.resolved',
  occurredAt: new Date('2026-01-01T00:00:00Z'),
  data: { incidentId, service: 'checkout', signal: 'error_rate', reason: 'quiet', value: 0 },
});

// One contract, two stores: the real PostgreSQL server and embedded PGlite.
const stores: Array<[string, () => Promise<{ db: Database; cleanup: () => Promise<void> }>]> = [
  [
    'postgresql',
    async () => {
      const fresh = await freshDatabase();
      const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
      return { db, cleanup: async () => (await db.close(), await fresh.drop()) };
    },
  ],
  [
    'pglite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'heph-pglite-'));
      const db = await openDatabase({ dataDir: dir, log: testLogger() });
      return { db, cleanup: async () => (await db.close(), await rm(dir, { recursive: true, force: true })) };
    },
  ],
];

describe.each(stores)('event store on %s', (_name, open) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ db, cleanup } = await open()));
  afterAll(async () => cleanup());

  it('appends events with consecutive versions and reads the stream back in order', async () => {
    const result = await db.sql.begin((tx) => appendToStream(tx, 'incident-a', 0, [resolved('a'), resolved('a')]));
    expect(result.ok).toBe(true);
    const stream = await readStream(db.sql, 'incident-a');
    expect(stream.map((e) => e.version)).toEqual([1, 2]);
    expect(stream[0]!.data).toMatchObject({ incidentId: 'a', service: 'checkout' });
    expect(typeof stream[0]!.occurredAt).toBe('string');
  });

  it('refuses an append whose expected version is stale', async () => {
    await db.sql.begin((tx) => appendToStream(tx, 'incident-b', 0, [resolved('b')]));
    const stale = await db.sql.begin((tx) => appendToStream(tx, 'incident-b', 0, [resolved('b')]));
    expect(stale).toMatchObject({ ok: false, error: { code: 'WRONG_EXPECTED_VERSION', expected: 0, actual: 1 } });
    expect(await readStream(db.sql, 'incident-b')).toHaveLength(1);
  });

  it('treats a second append of the same event id as already done', async () => {
    const id = deterministicId('incident-c', 'opened');
    await db.sql.begin((tx) => appendToStream(tx, 'incident-c', 'any', [resolved('c', id)]));
    const again = await db.sql.begin((tx) => appendToStream(tx, 'incident-c', 'any', [resolved('c', id)]));
    expect(again).toMatchObject({ ok: true, duplicate: true });
    expect(await readStream(db.sql, 'incident-c')).toHaveLength(1);
  });

  it('reads all events after a global position', async () => {
    const all = await readAll(db.sql, 0n);
    expect(all.length).toBeGreaterThanOrEqual(4);
    const positions = all.map((e) => e.position);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    const after = await readAll(db.sql, positions[1]!);
    expect(after[0]!.position).toBe(positions[2]);
  });

  it('reads several streams in global order, and finds the streams an event of a type names', async () => {
    const acknowledged = (incidentId: string, at = '2026-01-01T00:00:00Z'): EventToAppend => ({ id: randomId(), type: 'incident.acknowledged', occurredAt: new Date(at), data: { incidentId, by: 'alice' } });
    await db.sql.begin((tx) => appendToStream(tx, 'fix-e1', 0, [acknowledged('e')]));
    await db.sql.begin((tx) => appendToStream(tx, 'incident-e', 0, [resolved('e')]));
    await db.sql.begin((tx) => appendToStream(tx, 'fix-e2', 0, [acknowledged('e'), resolved('e')]));
    await db.sql.begin((tx) => appendToStream(tx, 'fix-f', 0, [acknowledged('f')]));
    expect((await streamIdsWith(db.sql, 'incident.acknowledged', { incidentId: 'e' })).sort()).toEqual(['fix-e1', 'fix-e2']);
    expect(await streamIdsWith(db.sql, 'incident.resolved', { incidentId: 'f' })).toEqual([]);
    const read = await readStreams(db.sql, ['incident-e', 'fix-e1', 'fix-e2']);
    expect(read.map((e) => `${e.streamId}/${e.version}`)).toEqual(['fix-e1/1', 'incident-e/1', 'fix-e2/1', 'fix-e2/2']);
    expect(await readStreams(db.sql, [])).toEqual([]);
  });

  it('reads the events of some types from a moment on, in global order', async () => {
    const at = (iso: string): EventToAppend => ({ ...resolved('g'), occurredAt: new Date(iso) });
    const mitigated: EventToAppend = { id: randomId(), type: 'incident.mitigated', occurredAt: new Date('2026-02-01T00:00:30Z'), data: { incidentId: 'g', remediationId: 'r', detail: 'restarted' } };
    await db.sql.begin((tx) => appendToStream(tx, 'incident-g', 0, [at('2026-02-01T00:00:00Z'), mitigated, at('2026-02-01T00:01:00Z')]));
    const since = async (iso: string) => (await readEventsOfTypes(db.sql, ['incident.resolved', 'incident.mitigated'], new Date(iso))).filter((e) => e.streamId === 'incident-g').map((e) => e.version);
    expect(await since('2026-01-31T00:00:00Z')).toEqual([1, 2, 3]);
    expect(await since('2026-02-01T00:00:30Z')).toEqual([2, 3]);
    expect((await readEventsOfTypes(db.sql, ['incident.mitigated'], new Date('2026-01-31T00:00:00Z'))).map((e) => e.version)).toEqual([2]);
  });

  it('knows the events it holds and the position of the newest', async () => {
    const id = randomId();
    expect(await hasEvent(db.sql, id)).toBe(false);
    const result = await db.sql.begin((tx) => appendToStream(tx, 'incident-h', 0, [resolved('h', id)]));
    expect(await hasEvent(db.sql, id)).toBe(true);
    expect(result.ok && result.events[0]!.position).toBe(await headPosition(db.sql));
  });

  it('rolls back the events when the transaction that decided them fails', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await appendToStream(tx, 'incident-d', 0, [resolved('d')]);
        throw new Error('projection update failed');
      }),
    ).rejects.toThrow('projection update failed');
    expect(await readStream(db.sql, 'incident-d')).toHaveLength(0);
  });
});
