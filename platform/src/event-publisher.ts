// Forwards stored events to heph.events from a checkpoint: the events table is the outbox. Delivery is
// at least once (consumers dedupe by event id); order follows the global position.
import { topics } from '@hephaestus/schemas';
import type { Sql } from './database.ts';
import { readAll, readCheckpoint, storeCheckpoint } from './event-store.ts';
import type { Log } from './log.ts';
import type { Logger } from './logger.ts';

export const startEventPublisher = (sql: Sql, log: Log, logger: Logger, options: { pollMs?: number } = {}) => {
  const checkpoint = 'publisher:heph.events';
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
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
      } catch (error) {
        if (stopped) return;
        logger.error({ err: error }, 'event publishing failed, retrying');
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
    }
  };
  const done = loop();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
};
