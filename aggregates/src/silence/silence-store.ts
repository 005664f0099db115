// Silences as events: the Silence decider's silence.created / silence.expired on the stream
// `silence-<id>`, with the `silences` projection updated in the same transaction; the reads the
// console's API and the analyzer's alert dispatcher use. The one module that touches the table.
import { decideOnStream, randomId, type Sql, type TransactionSql } from '@hephaestus/platform';
import type { Matcher, Silence, StoredEvent } from '@hephaestus/schemas';
import { silenceDecider, type SilenceAggregate, type SilenceCommand } from './silence.ts';

/** A silence as stored: the schema's silence plus when it last changed. */
export type StoredSilence = Silence & { updatedAt: string };

export type SilenceNotFound = { code: 'SILENCE_NOT_FOUND'; silenceId: string };

export type SilenceResult = { ok: true; silence: StoredSilence } | { ok: false; error: SilenceNotFound };

export const silenceStreamId = (silenceId: string): string => `silence-${silenceId}`;

type SilenceRow = {
  id: string;
  matchers: Matcher[];
  starts_at: Date;
  ends_at: Date;
  created_by: string;
  comment: string;
  updated_at: Date;
};

const toSilence = (r: SilenceRow): StoredSilence => ({
  id: r.id,
  matchers: r.matchers,
  startsAt: r.starts_at.toISOString(),
  endsAt: r.ends_at.toISOString(),
  createdBy: r.created_by,
  comment: r.comment,
  updatedAt: r.updated_at.toISOString(),
});

/** Applies one silence event to the projection; a replay runs the same function. */
export const projectSilenceEvent = async (tx: TransactionSql, event: StoredEvent): Promise<void> => {
  if (event.type === 'silence.created') {
    const d = event.data;
    await tx`
      INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at)
      VALUES (${d.silenceId}, ${tx.json(d.matchers)}, ${d.startsAt}, ${d.endsAt}, ${d.createdBy}, ${d.comment}, ${event.occurredAt})
      ON CONFLICT (id) DO NOTHING`;
  } else if (event.type === 'silence.expired') {
    // Expiring ends the silence at that moment; a pending one also starts then, as in Alertmanager.
    const at = event.occurredAt;
    await tx`
      UPDATE silences SET starts_at = LEAST(starts_at, ${at}), ends_at = LEAST(ends_at, ${at}), updated_at = ${at}
      WHERE id = ${event.data.silenceId}`;
  }
};

/** The silence decider over whatever a stream holds: another aggregate's event changes nothing. */
const onStoredEvents = {
  ...silenceDecider,
  evolve: (state: SilenceAggregate, event: StoredEvent): SilenceAggregate =>
    event.type === 'silence.created' || event.type === 'silence.expired' ? silenceDecider.evolve(state, event) : state,
};

/** Runs a command on the silence's stream and projects what it decided, in the caller's transaction. */
const handle = async (tx: TransactionSql, silenceId: string, command: SilenceCommand): Promise<void> => {
  const { events } = await decideOnStream(tx, silenceStreamId(silenceId), onStoredEvents, command, { occurredAt: new Date(command.at) });
  for (const stored of events) await projectSilenceEvent(tx, stored);
};

const lockSilence = async (tx: TransactionSql, silenceId: string): Promise<StoredSilence | undefined> => {
  const [row] = await tx<SilenceRow[]>`SELECT * FROM silences WHERE id = ${silenceId} FOR UPDATE`;
  return row && toSilence(row);
};

/** Expires inside the caller's transaction; a silence already expired stays as it is (Alertmanager's rule). */
const expireIn = async (tx: TransactionSql, silenceId: string, nowMs: number, by: string | undefined): Promise<SilenceResult> => {
  // The row lock orders concurrent expiries of one silence: the second sees it expired and appends nothing.
  if (!(await lockSilence(tx, silenceId))) return { ok: false, error: { code: 'SILENCE_NOT_FOUND', silenceId } };
  await handle(tx, silenceId, { type: 'ExpireSilence', at: new Date(nowMs).toISOString(), ...(by === undefined ? {} : { by }) });
  return { ok: true, silence: (await lockSilence(tx, silenceId))! };
};

/**
 * Creates a silence under a new id. With `replaces`, the silence of that id is expired in the same
 * transaction: an update never rewrites what was silenced before (Alertmanager's Set does the same
 * when the change would alter history).
 */
export const createSilence = async (
  sql: Sql,
  input: Omit<Silence, 'id'>,
  nowMs: number,
  replaces?: string,
): Promise<SilenceResult> =>
  sql.begin(async (tx): Promise<SilenceResult> => {
    if (replaces !== undefined) {
      const expired = await expireIn(tx, replaces, nowMs, input.createdBy);
      if (!expired.ok) return expired;
    }
    const silenceId = randomId();
    const { matchers, startsAt, endsAt, createdBy, comment } = input;
    await handle(tx, silenceId, { type: 'CreateSilence', at: new Date(nowMs).toISOString(), silenceId, matchers, startsAt, endsAt, createdBy, comment });
    return { ok: true, silence: (await lockSilence(tx, silenceId))! };
  });

export const expireSilence = async (sql: Sql, silenceId: string, nowMs: number, by?: string): Promise<SilenceResult> =>
  sql.begin((tx) => expireIn(tx, silenceId, nowMs, by));

export const getSilence = async (sql: Sql, silenceId: string): Promise<StoredSilence | undefined> => {
  const [row] = await sql<SilenceRow[]>`SELECT * FROM silences WHERE id = ${silenceId}`;
  return row && toSilence(row);
};

/** Every silence that has not ended before `endedAfterMs`: expired ones are listed for a while, then only kept as events. */
export const listSilences = async (sql: Sql, endedAfterMs: number): Promise<StoredSilence[]> =>
  (await sql<SilenceRow[]>`SELECT * FROM silences WHERE ends_at >= ${new Date(endedAfterMs)} ORDER BY ends_at`).map(toSilence);

/** The silences in force at `nowMs`, for deciding whether an alert is sent. */
export const activeSilences = async (sql: Sql, nowMs: number): Promise<Silence[]> => {
  const now = new Date(nowMs);
  const rows = await sql<SilenceRow[]>`SELECT * FROM silences WHERE starts_at <= ${now} AND ends_at > ${now}`;
  return rows.map(toSilence).map(({ updatedAt: _, ...s }) => s);
};

/**
 * The silences not ended at `nowMs`, pending ones too (the alert dispatcher wakes when one starts), as
 * stored: the caller checks their matchers.
 */
export const unendedSilences = async (sql: Sql, nowMs: number): Promise<StoredSilence[]> =>
  (await sql<SilenceRow[]>`SELECT * FROM silences WHERE ends_at > ${new Date(nowMs)}`).map(toSilence);
