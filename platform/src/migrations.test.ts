// Every process may migrate at start: several starting at once on a fresh database wait for each other
// (an advisory lock around the whole run), and each migration is applied once.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { migrate } from './migrations.ts';
import { freshDatabase, testLogger } from './testing.ts';

describe('migrations', () => {
  it('applies each migration once when three processes migrate a fresh database at the same moment', async () => {
    const fresh = await freshDatabase();
    const clients = [1, 2, 3].map(() => postgres(fresh.url, { max: 1, onnotice: () => {} }));
    try {
      const runs = await Promise.all(clients.map((sql) => migrate(sql, testLogger())));
      const applied = runs.flat();
      const [row] = await clients[0]!<{ n: number }[]>`SELECT count(*)::int AS n FROM schema_migrations`;
      expect(applied.length).toBeGreaterThan(0);
      expect(new Set(applied).size).toBe(applied.length);
      expect(applied.length).toBe(row!.n);
      // One run did the work; the others found it done.
      expect(runs.filter((r) => r.length > 0)).toHaveLength(1);
    } finally {
      for (const sql of clients) await sql.end();
      await fresh.drop();
    }
  });
});
