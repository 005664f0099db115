// Forwards stored events to heph.events from a checkpoint: the events table is the outbox. Delivery is
// at least once (consumers dedupe by event id); order follows the global position. The publisher reads
// when appends are announced (LISTEN/NOTIFY on PostgreSQL, in process on embedded PGlite); a read
// every `safetyMs` (5 s) covers an announcement lost with a connection, and a failed send is retried.
// Every process that appends events may start one: on PostgreSQL one publishes at a time, holding a
// session advisory lock; the others wait on the lock and take over when its session ends (a killed
// process's connection closes, and PostgreSQL releases its locks).
import { topics } from '@hephaestus/schemas';
import type { Database, Sql } from './database.ts';
import { onEventsAppended } from './event-notifications.ts';
import { readAll, readCheckpoint, storeCheckpoint } from './event-store.ts';
import type { Log } from './log.ts';
import type { Logger } from './logger.ts';
import { sessionLock, type Turn } from './session-lock.ts';

/** The publisher's advisory lock key (migrations hold 727_001 while they run, appends 727_002, the active analyzer 727_004). */
export const publisherLockKey = 727_003;

export const startEventPublisher = (database: Pick<Database, 'sql' | 'kind' | 'url'>, log: Log, logger: Logger, options: { safetyMs?: number; retryMs?: number } = {}) => {
  const { sql } = database;
  const safetyMs = options.safetyMs ?? 5000;
  const retryMs = options.retryMs ?? 500;
  let stopped = false;
  let announced = false;
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    announced = true;
    wakeUp?.();
  };
  /** Until an append is announced, `ms` pass, or the publisher stops. */
  const rest = (ms: number) =>
    new Promise<void>((resolve) => {
      if (announced || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  const lock = database.kind === 'postgresql' ? sessionLock(database.url, publisherLockKey, 'heph-publisher') : undefined;
  const takeTurn = async (): Promise<Turn> => {
    if (!lock) return { holds: async () => true, end: async () => {} };
    logger.debug('waiting for the publishing lock');
    const turn = await lock.take();
    logger.info('publishing heph.events (this process holds the publishing lock)');
    return turn;
  };
  const listening = onEventsAppended(database, wake);
  const loop = async () => {
    const unlisten = await listening.catch((error: unknown) => {
      logger.warn({ err: error }, `appends are not announced: the publisher reads every ${safetyMs / 1000} s`);
      return async () => {};
    });
    while (!stopped) {
      let turn: Turn;
      try {
        turn = await takeTurn();
      } catch (error) {
        if (stopped) break;
        logger.error({ err: error }, 'waiting for the publishing lock failed, retrying');
        await new Promise((r) => setTimeout(r, retryMs));
        continue;
      }
      await publishWhileHolding(turn);
      await turn.end();
    }
    await unlisten();
  };
  /** Publishes until this process loses its turn or stops. */
  const publishWhileHolding = async (turn: Turn) => {
    while (!stopped) {
      announced = false;
      try {
        if (!(await turn.holds())) {
          logger.warn('the publishing lock was lost with its connection: standing by');
          return;
        }
        if (await publishBatch(sql)) continue;
        await rest(safetyMs);
      } catch (error) {
        if (stopped) return;
        logger.error({ err: error }, 'event publishing failed, retrying');
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  };
  /** Sends the next events after the checkpoint and moves it past them; false when there were none. */
  const publishBatch = async (sql: Sql): Promise<boolean> => {
    const checkpoint = 'publisher:heph.events';
    const events = await readAll(sql, await readCheckpoint(sql, checkpoint), 500);
    if (events.length === 0) return false;
    await log.send(
      topics.events,
      events.map(({ position, ...event }) => ({
        key: event.streamId,
        value: Buffer.from(JSON.stringify(event)),
        headers: { 'content-type': 'application/json', 'heph-event-type': event.type, 'heph-position': position.toString() },
      })),
    );
    await storeCheckpoint(sql, checkpoint, events.at(-1)!.position);
    return true;
  };
  const done = loop();
  return {
    stop: async () => {
      stopped = true;
      wakeUp?.();
      // Ending the lock's session stops a wait for the lock, and releases it if held.
      await lock?.close();
      await done;
    },
  };
};
