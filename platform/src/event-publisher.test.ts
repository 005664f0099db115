// The outbox publisher hears appends instead of polling: with its safety read an hour away, every
// appended event still reaches heph.events, in order, on PostgreSQL (LISTEN/NOTIFY) and on embedded
// PGlite (announced in process).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.ts';
import { appendToStream } from './event-store.ts';
import { startEventPublisher } from './event-publisher.ts';
import { createPgLog } from './pg-log.ts';
import { freshDatabase, testLogger } from './testing.ts';

const hour = 3_600_000;

const publishes = async (db: Database) => {
  const log = createPgLog(db.sql, testLogger(), { pollMs: 20 });
  await log.ensureTopics();
  const publisher = startEventPublisher(db, log, testLogger(), { safetyMs: hour });
  const seen: string[] = [];
  const subscription = await log.subscribe({ groupId: 'publisher-test', topics: ['heph.events'], handle: async ({ records }) => void seen.push(...records.map((r) => r.headers['heph-event-type']!)) });
  const append = (n: number) =>
    db.sql.begin((tx) => appendToStream(tx, 'silence-publisher-test', n, [{ id: crypto.randomUUID(), type: 'silence.expired', occurredAt: new Date(), data: { silenceId: `s-${n}`, by: 'test' } }]));
  try {
    // The first append after the publisher went idle, then two more while it may be sending.
    await append(0);
    while (seen.length < 1) await sleep(20);
    await append(1);
    await append(2);
    while (seen.length < 3) await sleep(20);
    return seen;
  } finally {
    await subscription.stop();
    await publisher.stop();
    await log.close();
  }
};

describe('event publisher', () => {
  it('publishes each append as it is announced on PostgreSQL, with no poll to wait for', async () => {
    const fresh = await freshDatabase();
    const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    try {
      expect(await publishes(db)).toEqual(['silence.expired', 'silence.expired', 'silence.expired']);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });

  it('publishes each append as it is announced on embedded PGlite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heph-publisher-'));
    const db = await openDatabase({ dataDir: dir, log: testLogger() });
    try {
      expect(db.kind).toBe('pglite');
      expect(await publishes(db)).toEqual(['silence.expired', 'silence.expired', 'silence.expired']);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
