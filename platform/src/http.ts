// HTTP helpers every service shares: a Fastify server with /healthz, /readyz and Prometheus /metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export type HttpServerOptions = {
  log: Logger;
  registry: Registry;
  /** Each named check answers whether that dependency responds. */
  readiness: Record<string, () => Promise<boolean>>;
  bodyLimitBytes?: number;
};

export const createHttpServer = (options: HttpServerOptions): FastifyInstance => {
  const app = Fastify({
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    // On close, idle keep-alive connections go at once; requests in flight finish first.
    forceCloseConnections: 'idle',
  });
  // While closing, answers to requests in flight close their connection, so a client's keep-alive
  // connection cannot hold the shutdown open until its idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results = Object.fromEntries(
      await Promise.all(Object.entries(options.readiness).map(async ([name, check]) => [name, await check().catch(() => false)] as const)),
    );
    const ok = Object.values(results).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: results });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(options.registry.contentType).send(await options.registry.metrics()),
  );
  return app;
};

export const newRegistry = (): Registry => new Registry();

export const listen = async (app: FastifyInstance, host: string, port: number): Promise<number> => {
  await app.listen({ host, port });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : port;
};

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * A bearer-token check for an `Authorization` header: digests compared in constant time, so neither a
 * token nor its length leaks through timing. With no tokens configured every request passes.
 */
export const bearerTokenCheck = (tokens: string[]) => {
  const digests = tokens.map(digest);
  return (authorization: string | undefined): boolean => {
    if (digests.length === 0) return true;
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match) return false;
    const given = digest(match[1]!.trim());
    return digests.some((d) => timingSafeEqual(d, given));
  };
};
