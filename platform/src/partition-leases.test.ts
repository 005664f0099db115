// Partition leases on real PostgreSQL: members of a pool split its partitions, each partition held by one;
// a member whose session ends (as a killed process's does) loses its partitions at once and another
// takes them at its next look; a stopped member hands its partitions on.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { startPartitionLeases, type PartitionRef } from './partition-leases.ts';
import { eventually, postgresUrl, testLogger } from './testing.ts';

// Interleaved, as the analyzer gives them: spans 0, metrics 0, logs 0, spans 1, …
const partitions: PartitionRef[] = [0, 1, 2].flatMap((partition) => ['otel.spans', 'otel.metrics', 'otel.logs'].map((topic) => ({ topic, partition })));
const key = (p: PartitionRef) => `${p.topic}/${p.partition}`;

describe('partition leases', () => {
  const admin = postgres(postgresUrl(), { max: 1, onnotice: () => {} });
  afterAll(() => admin.end());

  it('split a pool between members, move a dead member’s partitions at once, and hand them on at a stop', async () => {
    const pool = `leases-${randomBytes(4).toString('hex')}`;
    const member = async () => {
      const reads = new Set<string>();
      const changes: Array<{ gained: string[]; released: string[] }> = [];
      const leases = await startPartitionLeases({
        url: postgresUrl(),
        pool,
        partitions,
        logger: testLogger(),
        everyMs: 50,
        onChange: async ({ gained, released }) => {
          for (const p of released) reads.delete(key(p));
          for (const p of gained) reads.add(key(p));
          changes.push({ gained: gained.map(key), released: released.map(key) });
        },
      });
      return { leases, reads, changes };
    };

    const a = await member();
    await eventually('the only member to hold all 9', () => a.reads.size === 9);
    const b = await member();
    await eventually('two members to hold 5 and 4', () => [a.reads.size, b.reads.size].sort().join() === '4,5');
    expect([...a.reads].filter((p) => b.reads.has(p))).toEqual([]);
    expect(a.leases.held().map(key).sort()).toEqual([...a.reads].sort());
    // Every other partition in the order given: each topic's partitions spread over both.
    for (const reads of [a.reads, b.reads]) expect(new Set([...reads].map((p) => p.split('/')[0])).size).toBe(3);

    // a's session ends as a killed process's does: b takes its partitions without waiting for a.
    const before = b.changes.length;
    const lostCount = a.reads.size;
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${`heph-leases-${pool}`} AND pid IN (
      SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 GROUP BY pid HAVING count(*) = ${lostCount + 1})`;
    await eventually('b to take the partitions a lost', () => b.changes.slice(before).some((c) => c.gained.length === lostCount) || undefined);
    await eventually('a to stop reading what it lost', () => a.changes.some((c) => c.released.length === lostCount) || undefined);

    // a is back (its client reconnects) and they split again; then b stops and a takes everything.
    await eventually('a and b to split again', () => a.reads.size + b.reads.size === 9 && a.reads.size > 0 && b.reads.size > 0);
    await b.leases.stop();
    expect(b.reads.size).toBe(0);
    await eventually('a to hold all 9 after b stopped', () => a.reads.size === 9);
    await a.leases.stop();
    expect(a.reads.size).toBe(0);
  }, 60_000);
});
