// HTTP helpers every service shares: a Fastify server with /healthz, /readyz and Prometheus /metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a bearer token: health, metrics, static pages, webhooks checked by their signature. */
    public?: boolean;
    /** Answered whatever the Host header names (probes and scrapers address a pod by its IP). */
    anyHost?: boolean;
  }
}

export type HttpServerOptions = {
  log: Logger;
  registry: Registry;
  /** Each named check answers whether that dependency responds. */
  readiness: Record<string, () => Promise<boolean>>;
  bodyLimitBytes?: number;
  /**
   * The whole request (headers and body) must arrive within this long, or Node answers 408 and closes
   * the connection: a client trickling a body cannot hold a connection open (60 s by default).
   */
  requestTimeoutMs?: number;
};

export const createHttpServer = (options: HttpServerOptions): FastifyInstance => {
  const requestTimeout = options.requestTimeoutMs ?? 60_000;
  const app = Fastify({
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeout,
    // Node checks incomplete requests at this interval (30 s by default, far past a short timeout), and
    // enforces the request timeout only when the headers timeout is not longer.
    http: { connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(requestTimeout / 4))), headersTimeout: Math.min(requestTimeout, 60_000) },
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
  const operational = { config: { public: true, anyHost: true } };
  app.get('/healthz', operational, async () => ({ status: 'ok' }));
  app.get('/readyz', operational, async (_request, reply) => {
    const results = Object.fromEntries(
      await Promise.all(Object.entries(options.readiness).map(async ([name, check]) => [name, await check().catch(() => false)] as const)),
    );
    const ok = Object.values(results).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: results });
  });
  app.get('/metrics', operational, async (_request, reply) =>
    reply.type(options.registry.contentType).send(await options.registry.metrics()),
  );
  return app;
};

/** A webhook's handler: the raw body (its signature covers the exact bytes) in, a status and a message out. */
export type WebhookHandler = (request: { headers: Record<string, string | string[] | undefined>; body: string }) => Promise<{ status: number; message: string }>;

/**
 * A public POST route for signed webhook deliveries (GitHub's): this route alone keeps its body as the
 * raw string; a handler that throws means a payload not of the shape its event promises (400).
 */
export const registerWebhookRoute = (app: FastifyInstance, path: string, handle: WebhookHandler, logger: Logger): void => {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post(path, { config: { public: true, anyHost: true } }, async (request, reply) => {
      const answer = await handle({ headers: request.headers, body: String(request.body ?? '') }).catch((error: unknown) => {
        logger.warn({ err: error, event: request.headers['x-github-event'], delivery: request.headers['x-github-delivery'] }, 'webhook payload refused');
        return { status: 400, message: `payload not understood: ${error instanceof Error ? error.message : String(error)}` };
      });
      return reply.code(answer.status).type('text/plain').send(answer.message);
    });
  });
};

export const newRegistry = (): Registry => new Registry();

const listenChecks = new WeakMap<FastifyInstance, (host: string) => void>();

/**
 * A check run with the listen host before the server binds (e.g. "open only on loopback"); it throws to
 * refuse, and the server never listens.
 */
export const beforeListen = (app: FastifyInstance, check: (host: string) => void): void => {
  listenChecks.set(app, check);
};

export const listen = async (app: FastifyInstance, host: string, port: number): Promise<number> => {
  listenChecks.get(app)?.(host);
  await app.listen({ host, port });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : port;
};

const digest = (token: string) => createHash('sha256').update(token).digest();

/** A named bearer token: the name is who speaks (`alice`), the token the secret. */
export type NamedToken = { name: string; token: string };

/**
 * Who an `Authorization: Bearer …` header speaks for: the name of the token it carries, or undefined.
 * Digests are compared in constant time against every token, so neither a token, its length nor its
 * position in the list leaks through timing.
 */
export const bearerTokenIdentity = (tokens: NamedToken[]) => {
  const digests = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  return (authorization: string | undefined): string | undefined => {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const given = digest(match[1]!.trim());
    let found: string | undefined;
    for (const d of digests) if (timingSafeEqual(d.digest, given)) found ??= d.name;
    return found;
  };
};

/**
 * A bearer-token check for an `Authorization` header (see bearerTokenIdentity). With no tokens
 * configured every request passes.
 */
export const bearerTokenCheck = (tokens: string[]) => {
  const identify = bearerTokenIdentity(tokens.map((token, i) => ({ name: `token-${i + 1}`, token })));
  return (authorization: string | undefined): boolean => tokens.length === 0 || identify(authorization) !== undefined;
};
