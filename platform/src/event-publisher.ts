// Forwards stored events to heph.events from a checkpoint: the events table is the outbox. Delivery is
// at least once (consumers dedupe by event id); order follows the global position. The publisher reads
// when appends are announced (LISTEN/NOTIFY on PostgreSQL, in process on embedded PGlite); a read
// every `safetyMs` (5 s) covers an announcement lost with a connection, and a failed send is retried.
import { topics } from '@hephaestus/schemas';
import type { Database } from './database.ts';
import { onEventsAppended } from './event-notifications.ts';
import { readAll, readCheckpoint, storeCheckpoint } from './event-store.ts';
import type { Log } from './log.ts';
import type { Logger } from './logger.ts';

export const startEventPublisher = (database: Pick<Database, 'sql' | 'kind'>, log: Log, logger: Logger, options: { safetyMs?: number; retryMs?: number } = {}) => {
  const { sql } = database;
  const checkpoint = 'publisher:heph.events';
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
  const listening = onEventsAppended(database, wake);
  const loop = async () => {
    const unlisten = await listening.catch((error: unknown) => {
      logger.warn({ err: error }, `appends are not announced: the publisher reads every ${(options.safetyMs ?? 5000) / 1000} s`);
      return async () => {};
    });
    while (!stopped) {
      announced = false;
      try {
        const events = await readAll(sql, await readCheckpoint(sql, checkpoint), 500);
        if (events.length > 0) {
          await log.send(
            topics.events,
            events.map(({ position, ...event }) => ({
              key: event.streamId,
              value: Buffer.from(JSON.stringify(event)),
              headers: { 'content-type': 'application/json', 'heph-event-type': event.type, 'heph-position': position.toString() },
            })),
          );
          await storeCheckpoint(sql, checkpoint, events.at(-1)!.position);
          continue;
        }
        await rest(options.safetyMs ?? 5000);
      } catch (error) {
        if (stopped) break;
        logger.error({ err: error }, 'event publishing failed, retrying');
        await new Promise((r) => setTimeout(r, options.retryMs ?? 500));
      }
    }
    await unlisten();
  };
  const done = loop();
  return {
    stop: async () => {
      stopped = true;
      wakeUp?.();
      await done;
    },
  };
};
