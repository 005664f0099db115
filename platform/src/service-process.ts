// One service as a process of its own (`heph ingest | analyzer | healer | console`): its runtime on the
// shared PostgreSQL database, its metrics, the event publisher when it appends events, and an HTTP
// server of its own for /healthz, /readyz and /metrics when it has no other.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { ConfigError, type BaseConfig } from './config.ts';
import type { Sql } from './database.ts';
import { startEventPublisher } from './event-publisher.ts';
import { createHttpServer, listen, newRegistry } from './http.ts';
import type { Logger } from './logger.ts';
import { openRuntime, type Runtime } from './runtime.ts';

/** What a service is wired onto: in its own process, or beside the others in `heph up`. */
export type ServiceParts = { runtime: Runtime; registry: Registry; logger: Logger };

/** A wired service: how to stop it, its URL when it serves HTTP, routes it adds to its ops server. */
export type WiredService = { url?: string; stop: () => Promise<void>; routes?: (app: FastifyInstance) => void };

export type RunningService = { url: string; stop: () => Promise<void> };

/** Whether the database answers a query within `withinMs` (a stalled one must not hang /readyz). */
export const databaseAnswers = async (sql: Sql, withinMs = 2000): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), withinMs);
  });
  try {
    return await Promise.race([sql`SELECT 1`.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
};

/** /readyz of a service process: what it runs on, by name. */
export const runtimeReadiness = (runtime: Runtime): Record<string, () => Promise<boolean>> => ({
  database: () => databaseAnswers(runtime.db.sql),
  log: runtime.log.ready,
});

/**
 * Services apart share one PostgreSQL database: embedded PGlite lives inside one process, so a service
 * started alone without DATABASE_URL would keep its state where no other service can see it.
 */
export const requireSharedDatabase = (config: BaseConfig, service: string): void => {
  if (config.DATABASE_URL) return;
  throw new ConfigError(
    `${service} runs apart from the other services, so they must share a PostgreSQL database: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/heph). ` +
      `The embedded database serves one process; 'heph up' runs every service in one process on it.`,
  );
};

export const startServiceProcess = async (options: {
  service: 'ingest' | 'analyzer' | 'healer' | 'console';
  config: BaseConfig;
  logger: Logger;
  /** It appends events: it runs the event publisher (one process at a time publishes). */
  publishes: boolean;
  /** An ops server (/healthz, /readyz, /metrics) of its own, for a service without an HTTP server. */
  ops?: { host: string; port: number };
  wire: (parts: ServiceParts) => Promise<WiredService>;
}): Promise<RunningService> => {
  const { service, config } = options;
  requireSharedDatabase(config, service);
  const logger = options.logger.child({ name: service });
  const runtime = await openRuntime(config, logger, `heph-${service}`);
  const registry = newRegistry();
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const wired = await options.wire({ runtime, registry, logger });
    stops.push(wired.stop);
    let url = wired.url;
    if (options.ops) {
      const ops = createHttpServer({ log: logger, registry, readiness: runtimeReadiness(runtime) });
      wired.routes?.(ops);
      const port = await listen(ops, options.ops.host, options.ops.port);
      stops.unshift(() => ops.close());
      url = `http://${options.ops.host}:${port}`;
    }
    if (options.publishes) stops.push(startEventPublisher(runtime.db, runtime.log, logger.child({ part: 'publisher' })).stop);
    logger.info({ service, url, database: runtime.db.kind, log: runtime.log.kind }, 'service up');
    return {
      url: url!,
      stop: async () => {
        for (const stop of stops) await stop();
        await runtime.close();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await runtime.close();
    throw error;
  }
};
