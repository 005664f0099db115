// The control endpoint the healer calls on an agent (its `heph.control.url`): POST restart and config,
// GET health. A bearer token guards every route; an `Idempotency-Key` makes a retried call act once.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';

/** The body of `POST /control/config` (the healer's set_config). Unknown fields are refused, so a typo never passes silently. */
export const controlConfigSchema = z
  .strictObject({
    model: z.string().min(1).optional(),
    cache: z.boolean().optional(),
    circuitBreaker: z.enum(['open', 'closed']).optional(),
    concurrency: z.number().int().min(1).max(10_000).optional(),
  })
  .refine((config) => Object.keys(config).length > 0, 'give at least one of model, cache, circuitBreaker, concurrency');
export type ControlConfig = z.infer<typeof controlConfigSchema>;

export type ControlServerOptions = {
  /** The bearer token the healer sends (HEPH_AGENT_CONTROL_TOKEN on its side). */
  token: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** The host name the control URL carries when `host` is a wildcard address (default: this machine's host name). */
  advertiseHost?: string;
  /** What a restart does; its result, if any, is sent back as `detail`. */
  onRestart?: () => unknown;
  /** Applies a validated config change; its result, if any, is sent back as `detail`. */
  onConfig?: (config: ControlConfig) => unknown;
  /** Health details; throwing, or answering `{ healthy: false }`, makes the endpoint answer 503. */
  health?: () => unknown;
  /** More actions, each at `POST /control/<name>` behind the same token and idempotency (the demo's fault injection). The JSON body, if any, is passed on. */
  actions?: Record<string, (body: unknown) => unknown>;
  /** How many idempotency keys are remembered (default 10 000), and for how long (default 24 h). */
  idempotency?: { maxKeys?: number; ttlMs?: number };
};

export type ControlServer = { url: string; close(): Promise<void> };

type Reply = { status: number; body: unknown; problem?: true };

const maxBodyBytes = 64 * 1024;
const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
// Errors are RFC 9457 problem details, as the console answers them.
const problem = (status: number, detail: string): Reply => ({ status, body: { type: 'about:blank', title: titles[status] ?? 'Error', status, detail }, problem: true });

class BodyTooLarge extends Error {}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        request.removeAllListeners('data');
        request.resume();
        reject(new BodyTooLarge());
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

// Both sides hashed first, so the comparison takes the same time whatever the lengths.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
const bearerMatches = (header: string | undefined, expected: Buffer): boolean => {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return timingSafeEqual(digest(match?.[1]?.trim() ?? ''), expected) && match !== null;
};

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const parseJson = (raw: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
};

export const startControlServer = async (options: ControlServerOptions): Promise<ControlServer> => {
  if (!options.token) throw new Error('the control endpoint needs a token');
  for (const name of Object.keys(options.actions ?? {})) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name) || ['restart', 'config', 'health'].includes(name)) throw new Error(`not a name for a control action: ${name}`);
  }
  const expected = digest(options.token);
  const host = options.host ?? '127.0.0.1';
  // Answers kept per key for replay; answers still being worked out are shared, so a concurrent retry waits for them.
  const answered = new LRUCache<string, Reply>({ max: options.idempotency?.maxKeys ?? 10_000, ttl: options.idempotency?.ttlMs ?? 86_400_000 });
  const pending = new Map<string, Promise<Reply>>();

  const restart = async (): Promise<Reply> => {
    if (!options.onRestart) return problem(404, 'this agent registered no restart hook');
    return { status: 200, body: { action: 'restart', detail: (await options.onRestart()) ?? null } };
  };

  const configure = async (raw: string): Promise<Reply> => {
    if (!options.onConfig) return problem(404, 'this agent registered no config hook');
    const json = parseJson(raw);
    if (!json.ok) return problem(400, 'the body is not JSON');
    const parsed = controlConfigSchema.safeParse(json.value);
    if (!parsed.success) return problem(400, `invalid config: ${parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message).join('; ')}`);
    return { status: 200, body: { action: 'config', applied: parsed.data, detail: (await options.onConfig(parsed.data)) ?? null } };
  };

  const custom = async (name: string, act: (body: unknown) => unknown, raw: string): Promise<Reply> => {
    const json = raw.trim() ? parseJson(raw) : { ok: true as const, value: undefined };
    if (!json.ok) return problem(400, 'the body is not JSON');
    return { status: 200, body: { action: name, detail: (await act(json.value)) ?? null } };
  };

  const health = async (): Promise<Reply> => {
    try {
      const answer: unknown = (await options.health?.()) ?? {};
      const detail = answer !== null && typeof answer === 'object' && !Array.isArray(answer) ? (answer as Record<string, unknown>) : { detail: answer };
      const healthy = detail.healthy !== false;
      return { status: healthy ? 200 : 503, body: { status: healthy ? 'ok' : 'unhealthy', ...detail } };
    } catch (error) {
      return { status: 503, body: { status: 'unhealthy', error: errorMessage(error) } };
    }
  };

  /** Acts once per key: a replay gets the first answer. Only successes are kept, so a failed action can be retried. */
  const once = async (key: string | undefined, act: () => Promise<Reply>): Promise<Reply & { replayed: boolean }> => {
    const run = () => act().catch((error: unknown) => problem(500, `the action failed: ${errorMessage(error)}`));
    if (!key) return { ...(await run()), replayed: false };
    const done = answered.get(key) ?? (await pending.get(key));
    if (done && done.status < 300) return { ...done, replayed: true };
    const work = run();
    pending.set(key, work);
    try {
      const reply = await work;
      if (reply.status < 300) answered.set(key, reply);
      return { ...reply, replayed: false };
    } finally {
      pending.delete(key);
    }
  };

  const posts = new Map<string, (body: string) => Promise<Reply>>([
    ['/control/restart', () => restart()],
    ['/control/config', configure],
    ...Object.entries(options.actions ?? {}).map(([name, act]) => [`/control/${name}`, (body: string) => custom(name, act, body)] as const),
  ]);
  const routeList = [...[...posts.keys()].map((p) => `POST ${p}`), 'GET /control/health'].join(', ');

  const route = async (request: IncomingMessage): Promise<Reply & { replayed?: boolean; allow?: string }> => {
    const path = new URL(request.url ?? '/', 'http://control').pathname.replace(/\/+$/, '');
    const post = posts.get(path);
    if (!post && path !== '/control/health') return problem(404, `no control route ${path || '/'}; there are ${routeList}`);
    if (!bearerMatches(request.headers.authorization, expected)) return problem(401, 'missing or wrong bearer token');
    const method = post ? 'POST' : 'GET';
    if (request.method !== method) return { ...problem(405, `${path} takes ${method}`), allow: method };
    if (!post) return health();
    const body = await readBody(request);
    const rawKey = request.headers['idempotency-key'];
    const key = typeof rawKey === 'string' && rawKey ? `${path} ${rawKey}` : undefined;
    return once(key, () => post(body));
  };

  const send = (response: ServerResponse, reply: Reply & { replayed?: boolean; allow?: string }) => {
    const headers: Record<string, string> = { 'content-type': reply.problem ? 'application/problem+json' : 'application/json' };
    if (reply.status === 401) headers['www-authenticate'] = 'Bearer';
    if (reply.allow) headers.allow = reply.allow;
    if (reply.replayed) headers['idempotent-replayed'] = 'true';
    response.writeHead(reply.status, headers).end(JSON.stringify(reply.body));
  };

  const server = createServer((request, response) => {
    route(request).then(
      (reply) => send(response, reply),
      (error: unknown) => send(response, error instanceof BodyTooLarge ? problem(413, `the body is over ${maxBodyBytes} bytes`) : problem(500, errorMessage(error))),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const wildcard = host === '0.0.0.0' || host === '::';
  const urlHost = wildcard ? (options.advertiseHost ?? hostname()) : host;
  const url = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}/control`;

  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
};
