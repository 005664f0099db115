// Server-Sent Events over the event store: each event appended after a page connects, in commit order,
// so the console's views change when something happens instead of on a refresh timer. The stream is
// pushed too: the events table is read when events were appended (LISTEN/NOTIFY on PostgreSQL, an
// in-process signal on embedded PGlite), never on a timer.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { headPosition, onEventsAppended, readAll, type Database, type Logger, type Sql } from '@hephaestus/platform';
import type { StoredEvent } from '@hephaestus/schemas';

export type EventStreamOptions = {
  sql: Sql;
  /** Which database `sql` reaches: how appends are heard (PostgreSQL: LISTEN; PGlite: in process). */
  databaseKind: Database['kind'];
  logger: Logger;
  /** A comment line this often keeps proxies from cutting a quiet stream (15 s). */
  heartbeatMs?: number;
};

/** What a page needs to know that its view is stale: the event's type, stream and incident. */
export type EventFrame = { position: string; type: string; streamId: string; occurredAt: string; incidentId?: string };

const frameOf = (event: StoredEvent): EventFrame => {
  const data = event.data as { incidentId?: unknown };
  return {
    position: event.position.toString(),
    type: event.type,
    streamId: event.streamId,
    occurredAt: event.occurredAt,
    ...(typeof data.incidentId === 'string' ? { incidentId: data.incidentId } : {}),
  };
};

const sse = (event: string, data: unknown, id?: string) => `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** A read that failed is tried again after this long (a retry, not a poll: nothing reads while reads succeed). */
const retryMs = 1000;

/**
 * GET /api/events/stream: `ready` once, then one `event` frame per stored event. One follower per
 * server reads the events table after its position (the table is the outbox: the append lock makes
 * positions commit in order, as the publisher relies on) each time appends are announced, while at
 * least one page listens. A page re-reads its view on every (re)connection, so no resume position is kept.
 */
export const registerEventStream = (app: FastifyInstance, options: EventStreamOptions) => {
  const { sql, logger } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const listeners = new Set<FastifyReply>();
  /** Where the follower has read to; unset while no page listens. */
  let position: bigint | undefined;
  let reading: Promise<void> | undefined;
  /** An announcement arrived during a read: read once more after it. */
  let again = false;
  let closing = false;
  let retry: NodeJS.Timeout | undefined;
  let subscription: Promise<() => Promise<void>> | undefined;

  const broadcast = (text: string) => {
    for (const reply of listeners) reply.raw.write(text);
  };

  const readNew = async () => {
    do {
      again = false;
      if (position === undefined) return;
      for (;;) {
        const events = await readAll(sql, position, 500);
        if (listeners.size === 0 || closing) return;
        for (const event of events) broadcast(sse('event', frameOf(event), event.position.toString()));
        if (events.length > 0) position = events.at(-1)!.position;
        if (events.length < 500) break;
      }
    } while (again && !closing);
  };

  const wake = () => {
    if (closing || listeners.size === 0) return;
    if (reading) {
      again = true;
      return;
    }
    reading = readNew()
      .catch((error: unknown) => {
        if (closing) return;
        logger.warn({ err: error }, 'event stream read failed, retrying');
        retry ??= setTimeout(() => {
          retry = undefined;
          wake();
        }, retryMs);
      })
      .finally(() => {
        reading = undefined;
      });
  };

  app.addHook('preClose', async () => {
    closing = true;
    clearTimeout(retry);
    for (const reply of listeners) reply.raw.end();
    listeners.clear();
    await reading;
    if (subscription) await (await subscription.catch(() => async () => {}))();
  });

  app.get('/api/events/stream', async (_request, reply) => {
    // Listening before the head is read: an append between the two is announced, not lost.
    subscription ??= onEventsAppended({ sql, kind: options.databaseKind }, wake);
    try {
      await subscription;
    } catch (error) {
      subscription = undefined;
      throw error;
    }
    const from = await headPosition(sql);
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // The connection is the stream's: ended when the stream ends (a console closing ends its streams), never reused.
      connection: 'close',
    });
    reply.raw.write(`retry: 2000\n${sse('ready', { position: from.toString() })}`);
    if (listeners.size === 0) position = from;
    listeners.add(reply);
    const heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), heartbeatMs);
    reply.raw.once('close', () => {
      clearInterval(heartbeat);
      listeners.delete(reply);
      if (listeners.size === 0) position = undefined;
    });
    wake();
  });
};
