// SQL migrations, applied in file-name order at start under an advisory lock, in one transaction.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type postgres from 'postgres';
import type { Logger } from './logger.ts';

const directory = join(import.meta.dirname, 'migrations');
const lockKey = 727_001;

export const migrate = async (sql: postgres.Sql, log: Logger): Promise<string[]> => {
  const files = (await readdir(directory)).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${lockKey})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set((await tx<{ name: string }[]>`SELECT name FROM schema_migrations`).map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(await readFile(join(directory, file), 'utf8'));
      await tx`INSERT INTO schema_migrations (name) VALUES (${file})`;
      applied.push(file);
    }
  });
  if (applied.length > 0) log.info({ applied }, 'database migrated');
  return applied;
};
