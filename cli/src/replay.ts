// `heph replay`: rebuilds the projections (incidents, remediations, silences) from the event store in
// one transaction, with the same functions that keep them as events are appended, and says what
// differed from the tables it replaced. `--check` compares and changes nothing.
import { parseArgs } from 'node:util';
import { projectIncidentEvent, projectRemediationEvent, projectSilenceEvent } from '@hephaestus/aggregates';
import { ConfigError, createLogger, loadConfig, openDatabase, readAll, type Sql, type TransactionSql } from '@hephaestus/platform';
import type { StoredEvent } from '@hephaestus/schemas';
import { upConfig } from './control-plane.ts';

export const replayUsage = `usage: heph replay [--check]

Rebuilds the projections the console, the healer and the alert dispatcher read (incidents,
remediations, silences) from the event store: in one transaction, the tables are emptied and every
event is applied again in its global order, by the same code that keeps them as events are appended.
It prints, per table, the rows rebuilt and those that differed from before (missing, extra or
changed, with the first few ids). Exit 0 when every table came out the same, 1 when one differed.

options:
  --check      compare only: rebuild inside the transaction, report, and roll it back
  -h, --help   show this help

It reads DATABASE_URL (else the embedded database under HEPH_DATA_DIR: stop 'heph up' first, the
embedded database serves one process). On PostgreSQL a running control plane waits while the tables
are rebuilt (they are locked), then goes on from the rebuilt rows.`;

/** One projection: its table, the streams it is made of, and the function that applies one of their events. */
const projections: Array<{ table: string; streamPrefix: string; project: (tx: TransactionSql, event: StoredEvent) => Promise<void> }> = [
  { table: 'incidents', streamPrefix: 'incident-', project: projectIncidentEvent },
  { table: 'remediations', streamPrefix: 'remediation-', project: projectRemediationEvent },
  { table: 'silences', streamPrefix: 'silence-', project: projectSilenceEvent },
];

export type TableReport = { table: string; rows: number; missing: string[]; extra: string[]; changed: string[] };
export type ReplayReport = { events: number; tables: TableReport[]; same: boolean };

class RolledBack extends Error {}

const rowsById = async (tx: TransactionSql, table: string): Promise<Map<string, string>> =>
  new Map((await tx.unsafe<Array<{ id: string }>>(`SELECT * FROM ${table} ORDER BY id`)).map((row) => [row.id, JSON.stringify(row)]));

/**
 * Rebuilds every projection from the event store and compares it with the rows it replaced; with
 * `check`, rolls back. `progress` hears the count of events applied every 10,000.
 */
export const rebuildProjections = async (sql: Sql, options: { check?: boolean; progress?: (events: number) => void } = {}): Promise<ReplayReport> => {
  let report: ReplayReport | undefined;
  try {
    await sql.begin(async (tx) => {
      // Appends that update a projection wait for the rebuild; those already committed are in the events read below.
      await tx.unsafe(`LOCK TABLE ${projections.map((p) => p.table).join(', ')} IN ACCESS EXCLUSIVE MODE`);
      const before = new Map<string, Map<string, string>>();
      for (const { table } of projections) before.set(table, await rowsById(tx, table));
      await tx.unsafe(`TRUNCATE ${projections.map((p) => p.table).join(', ')}`);
      let events = 0;
      let after = 0n;
      for (;;) {
        const page = await readAll(tx, after, 1000);
        if (page.length === 0) break;
        for (const event of page) {
          await projections.find((p) => event.streamId.startsWith(p.streamPrefix))?.project(tx, event);
          events++;
          if (events % 10_000 === 0) options.progress?.(events);
        }
        after = page.at(-1)!.position;
      }
      const tables: TableReport[] = [];
      for (const { table } of projections) {
        const was = before.get(table)!;
        const now = await rowsById(tx, table);
        tables.push({
          table,
          rows: now.size,
          missing: [...was.keys()].filter((id) => !now.has(id)),
          extra: [...now.keys()].filter((id) => !was.has(id)),
          changed: [...now.keys()].filter((id) => was.has(id) && was.get(id) !== now.get(id)),
        });
      }
      report = { events, tables, same: tables.every((t) => t.missing.length + t.extra.length + t.changed.length === 0) };
      if (options.check) throw new RolledBack();
    });
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
  }
  return report!;
};

const ids = (list: string[]) => (list.length > 3 ? `${list.slice(0, 3).join(', ')} and ${list.length - 3} more` : list.join(', '));

export const formatReplayReport = (report: ReplayReport, check: boolean): string[] => [
  `${check ? 'checked' : 'rebuilt'} ${report.tables.map((t) => t.table).join(', ')} from ${report.events.toLocaleString('en-US')} events`,
  ...report.tables.map((t) => {
    const differences = [
      t.missing.length ? `${t.missing.length} missing from the rebuild (${ids(t.missing)})` : '',
      t.extra.length ? `${t.extra.length} not in the table before (${ids(t.extra)})` : '',
      t.changed.length ? `${t.changed.length} changed (${ids(t.changed)})` : '',
    ].filter(Boolean);
    return `  ${t.table}: ${t.rows} rows, ${differences.length ? differences.join('; ') : 'the same as before'}`;
  }),
  report.same ? 'every projection matches the event store' : check ? 'the projections differ from the event store: run heph replay to rebuild them' : 'the projections differed from the event store and are rebuilt',
];

export const runReplay = async (argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, env: Record<string, string | undefined> = process.env): Promise<number> => {
  let check = false;
  try {
    const { values } = parseArgs({ args: argv, options: { check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.stdout.write(`${replayUsage}\n`);
      return 0;
    }
    check = values.check === true;
  } catch (error) {
    io.stderr.write(`heph replay: ${error instanceof Error ? error.message : String(error)}\n\n${replayUsage}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(upConfig, env);
  } catch (error) {
    io.stderr.write(`heph replay: ${error instanceof ConfigError ? error.message : String(error)}\n`);
    return 2;
  }
  const logger = createLogger({ level: env.LOG_LEVEL ?? 'silent' });
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.HEPH_DATA_DIR, log: logger });
  try {
    const report = await rebuildProjections(db.sql, { check, progress: (events) => io.stderr.write(`replay: ${events.toLocaleString('en-US')} events applied\n`) });
    for (const line of formatReplayReport(report, check)) io.stdout.write(`${line}\n`);
    return report.same ? 0 : 1;
  } finally {
    await db.close();
  }
};
