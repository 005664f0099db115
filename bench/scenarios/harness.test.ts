// The scenarios' reading of the event store: each event once, however many reads it takes.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { readEvents } from './harness.ts';

describe('readEvents', () => {
  const db = useFreshDatabase();

  const append = async (count: number, from: number) => {
    for (let i = from; i < from + count; i++) {
      await db.sql`
        INSERT INTO events (id, stream_id, version, type, occurred_at, data)
        VALUES (${randomUUID()}, ${'bench-test'}, ${i}, ${'test.happened'}, now(), ${db.sql.json({ n: i })})`;
    }
  };

  it('returns every event once, in order, across reads that pass position 9, 99 and on', async () => {
    await append(9, 1);
    expect((await readEvents(db.sql)).map((e) => e.data.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Positions 10 to 12: as text, '9' sorts after '12', and a read going on from there got them twice.
    await append(3, 10);
    await readEvents(db.sql);
    await append(95, 13);
    await readEvents(db.sql);
    await append(2, 108);
    const all = await readEvents(db.sql);
    expect(all.map((e) => e.data.n)).toEqual(Array.from({ length: 109 }, (_, i) => i + 1));
    expect(new Set(all.map((e) => e.position)).size).toBe(109);
  });
});
