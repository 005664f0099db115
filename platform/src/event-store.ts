// The Postgres event store: append-only, optimistic concurrency on (stream_id, version), idempotent on
// event id. Appends take a transaction so the state they decide on commits with them.
import type { EventMetadata, HephEvent, NewEvent, StoredEvent } from '@hephaestus/schemas';
import type { Sql, TransactionSql } from './database.ts';
import { deterministicId } from './ids.ts';
import { signalEventsAppended } from './event-notifications.ts';

export type EventToAppend = NewEvent & { id: string; occurredAt: Date; metadata?: EventMetadata };

export type ExpectedVersion = number | 'any';

export type AppendResult =
  | { ok: true; events: StoredEvent[]; duplicate: boolean }
  | { ok: false; error: { code: 'WRONG_EXPECTED_VERSION'; streamId: string; expected: number; actual: number } };

const appendLock = 727_002;

type EventRow = {
  position: string;
  id: string;
  stream_id: string;
  version: number;
  type: string;
  occurred_at: Date;
  data: unknown;
  metadata: unknown;
};

const toEvent = (row: EventRow): StoredEvent =>
  ({
    position: BigInt(row.position),
    id: row.id,
    streamId: row.stream_id,
    version: row.version,
    type: row.type,
    occurredAt: row.occurred_at.toISOString(),
    data: row.data,
    metadata: row.metadata,
  }) as StoredEvent;

/** Appends inside the caller's transaction. Events whose ids are already stored make the call a no-op. */
export const appendToStream = async (
  tx: TransactionSql,
  streamId: string,
  expected: ExpectedVersion,
  events: EventToAppend[],
): Promise<AppendResult> => {
  if (events.length === 0) return { ok: true, events: [], duplicate: false };
  // One global append lock: positions then commit in order, so a reader polling "after position N"
  // never skips an event that commits late (the table is also the outbox).
  await tx`SELECT pg_advisory_xact_lock(${appendLock})`;
  const ids = events.map((e) => e.id);
  const known = await tx<EventRow[]>`SELECT * FROM events WHERE id IN ${tx(ids)} ORDER BY position`;
  if (known.length === events.length) return { ok: true, events: known.map(toEvent), duplicate: true };
  const [row] = await tx<{ current: number }[]>`
    SELECT coalesce(max(version), 0)::int AS current FROM events WHERE stream_id = ${streamId}`;
  const current = row?.current ?? 0;
  if (expected !== 'any' && expected !== current) {
    return { ok: false, error: { code: 'WRONG_EXPECTED_VERSION', streamId, expected, actual: current } };
  }
  const inserted: EventRow[] = [];
  for (const [i, e] of events.entries()) {
    const [stored] = await tx<EventRow[]>`
      INSERT INTO events (id, stream_id, version, type, occurred_at, data, metadata)
      VALUES (${e.id}, ${streamId}, ${current + i + 1}, ${e.type}, ${e.occurredAt},
              ${tx.json(e.data as never)}, ${tx.json((e.metadata ?? {}) as never)})
      RETURNING *`;
    inserted.push(stored!);
  }
  signalEventsAppended();
  return { ok: true, events: inserted.map(toEvent), duplicate: false };
};

export const readStream = async (sql: Sql | TransactionSql, streamId: string): Promise<StoredEvent[]> =>
  (await sql<EventRow[]>`SELECT * FROM events WHERE stream_id = ${streamId} ORDER BY version`).map(toEvent);

/** Events after `afterPosition` (exclusive), in global order. */
export const readAll = async (sql: Sql | TransactionSql, afterPosition: bigint, limit = 500): Promise<StoredEvent[]> =>
  (
    await sql<EventRow[]>`
      SELECT * FROM events WHERE position > ${afterPosition.toString()} ORDER BY position LIMIT ${limit}`
  ).map(toEvent);

/** Events of these streams, in global order. */
export const readStreams = async (sql: Sql | TransactionSql, streamIds: string[]): Promise<StoredEvent[]> =>
  streamIds.length === 0 ? [] : (await sql<EventRow[]>`SELECT * FROM events WHERE stream_id IN ${sql(streamIds)} ORDER BY position`).map(toEvent);

/** The streams holding an event of `type` whose data has these fields (a fix's stream names its incident in its first event). */
export const streamIdsWith = async (sql: Sql | TransactionSql, type: string, data: Record<string, string>): Promise<string[]> =>
  (await sql<{ stream_id: string }[]>`SELECT DISTINCT stream_id FROM events WHERE type = ${type} AND data @> ${sql.json(data)}`).map((r) => r.stream_id);

/** Events of these types that occurred at or after `since`, in global order. */
export const readEventsOfTypes = async (sql: Sql | TransactionSql, types: string[], since: Date): Promise<StoredEvent[]> =>
  (await sql<EventRow[]>`SELECT * FROM events WHERE type IN ${sql(types)} AND occurred_at >= ${since} ORDER BY position`).map(toEvent);

/** Whether this store holds the event: a consumer of a shared topic acts only on its own control plane's events. */
export const hasEvent = async (sql: Sql | TransactionSql, eventId: string): Promise<boolean> =>
  (await sql`SELECT 1 FROM events WHERE id = ${eventId}`).length > 0;

/** The position of the newest event, 0n when the store is empty: where a follower that wants only new events starts. */
export const headPosition = async (sql: Sql | TransactionSql): Promise<bigint> => {
  const [row] = await sql<{ position: string }[]>`SELECT coalesce(max(position), 0)::text AS position FROM events`;
  return BigInt(row?.position ?? '0');
};

export const readCheckpoint = async (sql: Sql, name: string): Promise<bigint> => {
  const rows = await sql<{ position: string }[]>`SELECT position FROM checkpoints WHERE name = ${name}`;
  return rows[0] ? BigInt(rows[0].position) : 0n;
};

export const storeCheckpoint = async (sql: Sql | TransactionSql, name: string, position: bigint): Promise<void> => {
  await sql`
    INSERT INTO checkpoints (name, position) VALUES (${name}, ${position.toString()})
    ON CONFLICT (name) DO UPDATE SET position = GREATEST(checkpoints.position, excluded.position)`;
};

export type { HephEvent };

/**
 * Runs one command of a decider against its stream inside `tx`: reads the stream, folds it, decides,
 * and appends the new events with ids derived from stream and version (a retry is a no-op). Returns
 * the state after the new events. A concurrent writer makes it throw; the caller's next pass retries.
 */
export const decideOnStream = async <State, Command>(
  tx: TransactionSql,
  streamId: string,
  decider: {
    decide: (command: Command, state: State) => NewEvent[];
    evolve: (state: State, event: StoredEvent) => State;
    initialState: () => State;
  },
  command: Command,
  options: { occurredAt: Date; metadata?: EventMetadata },
): Promise<{ state: State; events: StoredEvent[] }> => {
  const past = await readStream(tx, streamId);
  const state = past.reduce(decider.evolve, decider.initialState());
  const decided = decider.decide(command, state);
  const result = await appendToStream(
    tx,
    streamId,
    past.length,
    decided.map((e, i) => ({ ...e, id: deterministicId(streamId, past.length + i + 1), occurredAt: options.occurredAt, metadata: options.metadata })),
  );
  if (!result.ok) throw new Error(`${streamId}: concurrent change (${result.error.code})`);
  return { state: result.events.reduce(decider.evolve, state), events: result.events };
};
