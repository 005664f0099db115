// A turn that one process at a time holds across processes sharing a PostgreSQL database: a session
// advisory lock on a connection of its own. A killed process's connection closes and PostgreSQL releases
// its locks, so a process waiting for the lock takes over at once. The event publisher and the active
// analyzer take their turns this way.
import postgres from 'postgres';

/** A held turn: `holds` asks PostgreSQL whether this session still holds it (the client reconnects silently after a lost connection, and the lock goes with it). */
export type Turn = { holds: () => Promise<boolean>; end: () => Promise<void> };

export const sessionLock = (url: string, key: number, applicationName: string) => {
  const lockSql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10, connection: { application_name: applicationName } });
  let waiting: postgres.PendingQuery<postgres.Row[]> | undefined;
  const turn = (): Turn => ({
    holds: async () => {
      const [row] = await lockSql<{ held: boolean }[]>`
        SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
          AND classid = 0 AND objid = ${key} AND objsubid = 1) AS held`;
      return row!.held;
    },
    end: async () => {
      await lockSql`SELECT pg_advisory_unlock(${key})`.catch(() => {});
    },
  });
  return {
    /** Waits until no other session holds the lock, then holds it. */
    take: async (): Promise<Turn> => {
      // A waiting backend does not notice its client is gone until it writes; this makes a killed
      // process's waiter leave the queue within 2 s (PostgreSQL 14 and later; older ones ignore it).
      await lockSql`SELECT set_config('client_connection_check_interval', '2000', false)`.catch(() => {});
      waiting = lockSql`SELECT pg_advisory_lock(${key})`;
      try {
        await waiting;
      } finally {
        waiting = undefined;
      }
      return turn();
    },
    /** The lock now if no other session holds it, otherwise undefined at once. */
    tryTake: async (): Promise<Turn | undefined> => {
      const [row] = await lockSql<{ taken: boolean }[]>`SELECT pg_try_advisory_lock(${key}) AS taken`;
      return row!.taken ? turn() : undefined;
    },
    /** Stops a wait for the lock and ends the session, which releases a held lock. */
    close: async () => {
      await waiting?.cancel();
      await lockSql.end({ timeout: 1 });
    },
  };
};
