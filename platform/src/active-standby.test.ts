// One active instance among processes on one PostgreSQL database: the first to come is active at once,
// the next stands by and starts when the active one stops, or when its session dies (a killed process),
// and an active one whose lock connection is cut stops and says so.
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { runActiveStandby } from './active-standby.ts';
import { freshDatabase, testLogger } from './testing.ts';

const key = 727_999;

/** A stand-in service that records its life. */
const service = (name: string, life: string[]) => async () => {
  life.push(`${name} started`);
  return { stop: async () => void life.push(`${name} stopped`) };
};

const until = async (condition: () => boolean) => {
  while (!condition()) await sleep(10);
};

describe('active and standby', () => {
  it('starts the first at once, the second when the first stops, and never both', async () => {
    const fresh = await freshDatabase();
    const database = { kind: 'postgresql' as const, url: fresh.url };
    const life: string[] = [];
    const lost: string[] = [];
    try {
      const a = await runActiveStandby({ database, lockKey: key, name: 'a', logger: testLogger(), start: service('a', life), onLost: (r) => void lost.push(r) });
      expect(a.active()).toBe(true);
      const b = await runActiveStandby({ database, lockKey: key, name: 'b', logger: testLogger(), start: service('b', life), onLost: (r) => void lost.push(r) });
      expect(b.active()).toBe(false);
      expect(life).toEqual(['a started']);
      await a.stop();
      await until(() => b.active());
      // The active one stopped before the standby started: never two at once.
      expect(life).toEqual(['a started', 'a stopped', 'b started']);
      await b.stop();
      expect(life.at(-1)).toBe('b stopped');
      expect(lost).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });

  it('takes over when the active one\'s session dies, and the one that lost its lock stops and says so', async () => {
    const fresh = await freshDatabase();
    const database = { kind: 'postgresql' as const, url: fresh.url };
    const admin = postgres(fresh.url, { max: 1, onnotice: () => {} });
    const life: string[] = [];
    const lost: string[] = [];
    try {
      const a = await runActiveStandby({ database, lockKey: key, name: 'a', logger: testLogger(), start: service('a', life), onLost: (r) => void lost.push(`a: ${r}`), checkMs: 50 });
      const b = await runActiveStandby({ database, lockKey: key, name: 'b', logger: testLogger(), start: service('b', life), onLost: (r) => void lost.push(`b: ${r}`), checkMs: 50 });
      // What a SIGKILL does to the active process's lock: its session ends.
      const [holder] = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE application_name = 'heph-a'`;
      await admin`SELECT pg_terminate_backend(${holder!.pid})`;
      await until(() => b.active() && lost.length > 0);
      expect(lost).toEqual([expect.stringMatching(/^a: the lock (went with its database connection|cannot be checked)/)]);
      expect(life).toContain('a stopped');
      expect(life).toContain('b started');
      expect(a.active()).toBe(false);
      await a.stop();
      await b.stop();
    } finally {
      await admin.end();
      await fresh.drop();
    }
  });

  it('is active at once on the embedded database, which one process holds', async () => {
    const life: string[] = [];
    const only = await runActiveStandby({ database: { kind: 'pglite', url: '' }, lockKey: key, name: 'only', logger: testLogger(), start: service('only', life), onLost: () => {} });
    expect(only.active()).toBe(true);
    await only.stop();
    expect(life).toEqual(['only started', 'only stopped']);
  });
});
