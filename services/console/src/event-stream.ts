// Server-Sent Events over the event store: each event appended after a page connects, in commit order,
// so the console's views change when something happens instead of on a refresh timer.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readAll, type Logger, type Sql } from '@hephaestus/platform';
import type { StoredEvent } from '@hephaestus/schemas';

export type EventStreamOptions = {
  sql: Sql;
  logger: Logger;
  /** How long the follower waits after reading nothing new (250 ms). */
  idleMs?: number;
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

/**
 * GET /api/events/stream: `ready` once, then one `event` frame per stored event. One follower per
 * server reads the events table after its position (the table is the outbox: the append lock makes
 * positions commit in order, as the publisher relies on) while at least one page listens. A page
 * re-reads its view on every (re)connection, so no resume position is kept.
 */
export const registerEventStream = (app: FastifyInstance, options: EventStreamOptions) => {
  const { sql, logger } = options;
  const idleMs = options.idleMs ?? 250;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const listeners = new Set<FastifyReply>();
  let following: Promise<void> | undefined;
  let closing = false;
  let wake: (() => void) | undefined;

  const broadcast = (text: string) => {
    for (const reply of listeners) reply.raw.write(text);
  };

  const follow = async (from: bigint): Promise<bigint> => {
    let position = from;
    while (listeners.size > 0 && !closing) {
      try {
        const events = await readAll(sql, position, 500);
        for (const event of events) broadcast(sse('event', frameOf(event), event.position.toString()));
        if (events.length > 0) position = events.at(-1)!.position;
        if (events.length === 500) continue;
      } catch (error) {
        if (closing) break;
        logger.warn({ err: error }, 'event stream read failed, retrying');
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, idleMs);
      });
    }
    return position;
  };

  const ensureFollowing = (from: bigint) => {
    following ??= follow(from).then((position) => {
      following = undefined;
      // A page that connected while the loop was ending.
      if (listeners.size > 0 && !closing) ensureFollowing(position);
    });
  };

  const head = async () => {
    const [row] = await sql<{ position: string }[]>`SELECT coalesce(max(position), 0)::text AS position FROM events`;
    return BigInt(row?.position ?? '0');
  };

  app.addHook('preClose', async () => {
    closing = true;
    wake?.();
    for (const reply of listeners) reply.raw.end();
    listeners.clear();
    await following;
  });

  app.get('/api/events/stream', async (_request, reply) => {
    const position = await head();
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // The connection is the stream's: ended when the stream ends (a console closing ends its streams), never reused.
      connection: 'close',
    });
    reply.raw.write(`retry: 2000\n${sse('ready', { position: position.toString() })}`);
    listeners.add(reply);
    const heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), heartbeatMs);
    reply.raw.once('close', () => {
      clearInterval(heartbeat);
      listeners.delete(reply);
    });
    ensureFollowing(position);
  });
};
