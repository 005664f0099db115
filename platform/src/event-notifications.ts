// Wakes whoever follows the events table when events are appended, so nothing polls it. On PostgreSQL
// a trigger notifies `heph_events` when the appending transaction commits (LISTEN works from any
// process); embedded PGlite serves one connection, which a LISTEN connection cannot share, and runs
// every service in this process, so there appendToStream signals in process.
import { EventEmitter } from 'node:events';
import type { Database } from './database.ts';

export const eventsChannel = 'heph_events';

const inProcess = new EventEmitter().setMaxListeners(0);

/**
 * Called by appendToStream once its events are inserted, before its transaction commits. A follower
 * woken by it reads on PGlite's one connection, which the transaction holds until it ends: the read
 * runs after the commit and sees the events.
 */
export const signalEventsAppended = () => {
  inProcess.emit('appended');
};

/**
 * Calls `wake` after events were appended, and whenever the subscription (re)starts, so a follower
 * catches up on what was appended while a LISTEN connection was being re-established. Returns the
 * function that ends the subscription.
 */
export const onEventsAppended = async (database: Pick<Database, 'sql' | 'kind'>, wake: () => void): Promise<() => Promise<void>> => {
  if (database.kind === 'pglite') {
    inProcess.on('appended', wake);
    wake();
    return async () => {
      inProcess.off('appended', wake);
    };
  }
  const { unlisten } = await database.sql.listen(eventsChannel, () => wake(), wake);
  return unlisten;
};
