// The PostgreSQL connection every service shares: a real server when DATABASE_URL is set, otherwise
// embedded PGlite served over a loopback socket so the same `postgres` client and SQL serve both.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import type { Logger } from './logger.ts';
import { migrate } from './migrations.ts';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export type Database = {
  sql: Sql;
  kind: 'postgresql' | 'pglite';
  /** Where a second process (or `psql`) can reach the same database. */
  url: string;
  close: () => Promise<void>;
};

export const openDatabase = async (options: { url?: string; dataDir: string; log: Logger }): Promise<Database> => {
  const database = options.url ? openPostgres(options.url) : await openPglite(options.dataDir, options.log);
  await migrate(database.sql, options.log);
  return database;
};

const clientOptions = { onnotice: () => {}, connect_timeout: 10 } as const;

const openPostgres = (url: string): Database => {
  const sql = postgres(url, { ...clientOptions, max: 10 });
  return { sql, kind: 'postgresql', url, close: () => sql.end({ timeout: 5 }) };
};

const openPglite = async (dataDir: string, log: Logger): Promise<Database> => {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const directory = resolve(join(dataDir, 'pgdata'));
  await mkdir(directory, { recursive: true });
  const db = await PGlite.create(directory);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  // PGlite is a single backend: one client connection, so transactions never interleave.
  const sql = postgres(url, { ...clientOptions, max: 1 });
  log.info({ directory, url }, 'embedded pglite started');
  return {
    sql,
    kind: 'pglite',
    url,
    close: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
    },
  };
};

/**
 * PostgreSQL text is valid UTF-8 without NUL: a lone surrogate (half a UTF-16 pair, which JavaScript
 * strings allow) and NUL both become U+FFFD, so one odd string cannot make a statement fail.
 */
export const pgText = (value: string): string => {
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  return wellFormed.includes('\u0000') ? wellFormed.replaceAll('\u0000', '\uFFFD') : wellFormed;
};

/**
 * The extended query protocol counts a statement's bind parameters in 16 bits (65,535 at most); the
 * `postgres` client refuses a statement with 65,534 or more before sending it.
 */
export const maxBindParameters = 65_533;

/** Rows in consecutive chunks small enough for one multi-row statement of `parametersPerRow` each. */
export const chunksOf = <T>(rows: T[], parametersPerRow: number): T[][] => {
  const size = Math.max(1, Math.floor(maxBindParameters / parametersPerRow));
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
};
