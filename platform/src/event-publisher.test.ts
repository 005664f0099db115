// The outbox publisher hears appends instead of polling: with its safety read an hour away, every
// appended event still reaches heph.events, in order, on PostgreSQL (LISTEN/NOTIFY) and on embedded
// PGlite (announced in process). Several publishers on one PostgreSQL database publish one at a time,
// and a standby takes over when the holder's session ends.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.ts';
import { appendToStream } from './event-store.ts';
import { publisherLockKey, startEventPublisher } from './event-publisher.ts';
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

/** The sessions holding or waiting for the publishing lock. */
const lockSessions = (admin: postgres.Sql) =>
  admin<{ pid: number; granted: boolean }[]>`
    SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = ${publisherLockKey} AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY granted DESC`;

describe('event publishers of several processes', () => {
  it('publish one at a time, and a standby takes over when the holder\'s session is killed', async () => {
    const fresh = await freshDatabase();
    const admin = postgres(fresh.url, { max: 1, onnotice: () => {} });
    const [a, b] = [await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() }), await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() })];
    const logs = [createPgLog(a.sql, testLogger(), { pollMs: 20 }), createPgLog(b.sql, testLogger(), { pollMs: 20 })];
    for (const log of logs) await log.ensureTopics();
    const positions: number[] = [];
    const subscription = await logs[0]!.subscribe({
      groupId: 'takeover-test',
      topics: ['heph.events'],
      handle: async ({ records }) => void positions.push(...records.map((r) => Number(r.headers['heph-position']))),
    });
    let version = 0;
    const append = () =>
      a.sql.begin((tx) => appendToStream(tx, 'silence-takeover-test', version++, [{ id: crypto.randomUUID(), type: 'silence.expired', occurredAt: new Date(), data: { silenceId: `s-${version}`, by: 'test' } }]));
    const published = async (count: number) => {
      while (positions.length < count) await sleep(20);
    };
    /** The holder and the waiting sessions once there are that many waiting and none of `gone` is left. */
    const holder = async (waiting: number, gone?: number) => {
      for (;;) {
        const sessions = await lockSessions(admin);
        if (sessions.length === 1 + waiting && sessions[0]!.granted && !sessions.some((s) => s.pid === gone)) return sessions;
        await sleep(20);
      }
    };
    const publishers = [startEventPublisher(a, logs[0]!, testLogger(), { safetyMs: 200 })];
    try {
      await append();
      await published(1);
      const [first] = await holder(0);

      // A second publisher stands by: it waits for the lock and publishes nothing twice.
      publishers.push(startEventPublisher(b, logs[1]!, testLogger(), { safetyMs: 200 }));
      const [stillFirst, standby] = await holder(1);
      expect(stillFirst!.pid).toBe(first!.pid);
      expect(standby!.granted).toBe(false);
      await append();
      await append();
      await published(3);

      // The holder's session dies as a killed process's would: the standby takes the lock and
      // publishes; the publisher that lost it reconnects and waits in its turn.
      await admin`SELECT pg_terminate_backend(${first!.pid})`;
      const [second, rejoined] = await holder(1, first!.pid);
      expect(rejoined!.granted).toBe(false);
      await append();
      await append();
      await published(5);

      // Stopping the holder (the second publisher: the first lost its turn) hands the lock to the one waiting.
      await publishers[1]!.stop();
      const [third] = await holder(0);
      expect(third!.pid).toBe(rejoined!.pid);
      await append();
      await published(6);

      // Each event once, in the order of the store: no publisher sent what another had sent.
      expect(positions).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await subscription.stop();
      for (const publisher of publishers) await publisher.stop();
      for (const log of logs) await log.close();
      await a.close();
      await b.close();
      await admin.end();
      await fresh.drop();
    }
  }, 60_000);
});
