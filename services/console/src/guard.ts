// Who may call the console and from where, decided once per request before any handler runs: on the
// route the router chose (so `/%61pi/…` is `/api/…`), the Host it was addressed to (DNS rebinding), the
// bearer token and its name (who acts), and for writes the Origin (CSRF) and a JSON content type.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { beforeListen, bearerTokenIdentity, type NamedToken } from '@hephaestus/platform';

export type GuardOptions = {
  /** Named bearer tokens (HEPH_CONSOLE_TOKENS); none: the API is open, and only on loopback. */
  tokens: NamedToken[];
  /** Host names (optionally with a port) requests may be addressed to (HEPH_CONSOLE_ALLOWED_HOSTS); none: the defaults. */
  allowedHosts: string[];
  /** The console's advertised URL (HEPH_CONSOLE_URL): its host is allowed by default. */
  consoleUrl?: string;
};

export type GuardError =
  | { code: 'NUL_IN_URL' }
  | { code: 'MISDIRECTED'; host: string }
  | { code: 'UNAUTHORIZED' }
  | { code: 'FOREIGN_ORIGIN'; origin: string }
  | { code: 'NOT_JSON'; contentType: string | undefined };

/** Each refusal's status, title and detail: rendered once, as application/problem+json. */
export const guardProblem = (error: GuardError): { status: number; title: string; detail: string } => {
  switch (error.code) {
    case 'NUL_IN_URL':
      return { status: 400, title: 'Bad Request', detail: 'the path or query contains a NUL character (%00)' };
    case 'MISDIRECTED':
      return { status: 421, title: 'Misdirected Request', detail: `host ${JSON.stringify(error.host)} is not one of this console's names (HEPH_CONSOLE_ALLOWED_HOSTS)` };
    case 'UNAUTHORIZED':
      return { status: 401, title: 'Unauthorized', detail: 'missing or invalid bearer token' };
    case 'FOREIGN_ORIGIN':
      return { status: 403, title: 'Forbidden', detail: `cross-origin write from ${JSON.stringify(error.origin)} refused` };
    case 'NOT_JSON':
      return { status: 415, title: 'Unsupported Media Type', detail: `a write takes application/json, got ${error.contentType ? JSON.stringify(error.contentType) : 'no content type'}` };
  }
};

const principals = new WeakMap<FastifyRequest, string>();

/** The name of the token the request came with, when tokens are configured: who acts (`by`, `createdBy`). */
export const principalOf = (request: FastifyRequest): string | undefined => principals.get(request);

/** Whether a listen host only accepts connections from this machine. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(?:\.\d{1,3}){3}$/.test(bare) || bare === '::ffff:127.0.0.1';
};

export class ConsoleExposedError extends Error {
  readonly code = 'CONSOLE_EXPOSED';
}

const loopbackNames = ['localhost', '127.0.0.1', '[::1]'];
const wildcard = new Set(['0.0.0.0', '::', '[::]', '']);

/** `host` or `host:port` as the URL API writes it (lower case, IPv6 in brackets), or undefined. */
const parseHost = (text: string): URL | undefined => {
  if (!/^[^/?#@\s\\]+$/.test(text)) return undefined;
  const bracketed = text.includes(':') && !text.startsWith('[') && text.indexOf(':') !== text.lastIndexOf(':') ? `[${text}]` : text;
  return URL.canParse(`http://${bracketed}`) ? new URL(`http://${bracketed}`) : undefined;
};

/** An allowed name without a port allows every port; with one, only that port. */
const hostAllowed = (allowed: URL[], header: string | undefined): boolean => {
  const given = header === undefined ? undefined : parseHost(header);
  if (!given) return false;
  return allowed.some((a) => (a.port === '' ? a.hostname === given.hostname : a.host === given.host));
};

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const jsonType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const hasBody = (request: FastifyRequest) => Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;

export const registerGuard = (app: FastifyInstance, options: GuardOptions, send: (reply: FastifyReply, error: GuardError) => FastifyReply): void => {
  const identify = bearerTokenIdentity(options.tokens);
  const open = options.tokens.length === 0;
  const allowed = new Set<string>(options.allowedHosts.length > 0 ? options.allowedHosts : loopbackNames);
  if (options.allowedHosts.length === 0 && options.consoleUrl && URL.canParse(options.consoleUrl)) allowed.add(new URL(options.consoleUrl).host);
  let allowedHosts = [...allowed].flatMap((h) => parseHost(h) ?? []);

  beforeListen(app, (host) => {
    if (open && !isLoopbackHost(host)) {
      throw new ConsoleExposedError(
        `HEPH_CONSOLE_HOST=${host} is not a loopback address and HEPH_CONSOLE_TOKENS is not set: the console would be open to the network. ` +
          'Set HEPH_CONSOLE_TOKENS (e.g. alice:s3cret,bob:0ther) or listen on 127.0.0.1.',
      );
    }
    // The listen host is one of the console's names, unless names are configured or it listens everywhere.
    if (options.allowedHosts.length === 0 && !wildcard.has(host)) allowedHosts = [...allowedHosts, ...(parseHost(host) ? [parseHost(host)!] : [])];
  });

  app.addHook('onRequest', async (request, reply) => {
    // Decoded, a NUL reaches PostgreSQL (which refuses it in text) from any path or query parameter.
    if (/%00|\0/.test(request.url)) return send(reply, { code: 'NUL_IN_URL' });
    const route = request.routeOptions.config ?? {};
    if (!route.anyHost && !hostAllowed(allowedHosts, request.headers.host)) return send(reply, { code: 'MISDIRECTED', host: request.headers.host ?? '' });
    // By route: the route the router matched (on the decoded path) is public or needs a token; no route, a token.
    if (route.public) return;
    if (!open) {
      const name = identify(request.headers.authorization);
      if (name === undefined) return send(reply, { code: 'UNAUTHORIZED' });
      principals.set(request, name);
    }
    if (!writeMethods.has(request.method)) return;
    // A browser names the page that sent a request; only the console's own page may write.
    const origin = request.headers.origin;
    if (origin !== undefined && (!URL.canParse(origin) || new URL(origin).host !== parseHost(request.headers.host ?? '')?.host)) {
      return send(reply, { code: 'FOREIGN_ORIGIN', origin });
    }
    // Cross-site forms and no-cors fetches can only send simple content types; a body-less DELETE needs a preflight anyway.
    const contentType = request.headers['content-type'];
    if ((request.method !== 'DELETE' || hasBody(request)) && !jsonType.test(contentType ?? '')) return send(reply, { code: 'NOT_JSON', contentType });
  });
};
