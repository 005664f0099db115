// The OTLP/HTTP receiver for traces, metrics and logs: decode → normalize → validate → write. It answers
// 2xx only after the log acknowledged every kept record; 503 + Retry-After when the log is down or slow;
// 429 + Retry-After when too many bytes are in flight; 4xx with a message for bad input. The token is
// checked before a byte of the body is read, bytes in flight are counted as they stream in, and a body
// that has not arrived within the body timeout is answered 408 and its connection closed.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerTokenIdentity, createHttpServer, LogUnavailableError, type Log, type Logger } from '@hephaestus/platform';
import { globMatches, otlpProtoContentType, telemetryHeaders, telemetrySchemaVersion, type AttributeLimits } from '@hephaestus/schemas';
import type { IngestToken } from './config.ts';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { signals, type Format, type SignalPipeline } from './signals.ts';

export type IngestOptions = {
  log: Log;
  logger: Logger;
  registry: Registry;
  /** HEPH_INGEST_TOKENS; a plain string may speak for any service. None: no authentication. */
  tokens: Array<string | IngestToken>;
  maxBodyBytes: number;
  /** How long a request's body may take to arrive (HEPH_INGEST_BODY_TIMEOUT_SECONDS); 30 s. */
  bodyTimeoutMs?: number;
  writeTimeoutMs: number;
  maxInFlightBytes?: number;
  limits?: AttributeLimits;
  /** A resource batch encoded larger than this becomes several log records (Kafka's default limit is 1 MiB). */
  maxRecordBytes?: number;
  /** What /readyz checks, by name (the log it writes to unless told). */
  readiness?: Record<string, () => Promise<boolean>>;
};

class IngestError extends Error {
  readonly status: number;
  readonly retryAfterSeconds?: number;
  constructor(status: number, message: string, retryAfterSeconds?: number) {
    super(message);
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const formatOf = (contentType: string | undefined): Format | undefined => {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
};

/** google.rpc.Code for each HTTP status we answer (OTLP/HTTP failures carry a google.rpc.Status). */
const rpcCodes: Record<number, number> = { 400: 3, 401: 16, 408: 4, 413: 3, 415: 3, 429: 8, 500: 13, 503: 14 };

/**
 * The header on every record ingest writes: which request (and which of its records) it came from. The
 * analyzer applies a request id once, so when a write times out after the log kept it (the exporter was
 * told 503 and retries), the retry's records are skipped instead of counted twice.
 */
export const requestIdHeader = 'heph-request-id';

/**
 * A request's id is derived from what it carries, not drawn at random: an exporter's retry sends the same
 * body with the same token and must get the same id. The hash covers the signal, the token's name and
 * the decompressed body; each record adds its place in the request (`<hash>-<index>`), which splitting
 * by resource and by size keeps stable. Two identical bodies from one token are the same spans, points
 * and log records (ids and timestamps included), so counting them once is right even when the sender
 * meant to send them twice; the analyzer remembers ids for an hour.
 */
const requestIdOf = (signal: string, token: IngestToken | undefined, body: Buffer): string =>
  createHash('sha256').update(`${signal}\n${token?.name ?? ''}\n`).update(body).digest('hex').slice(0, 32);

/** What ingest tracks of one request while its body streams in. */
type RequestState = { token?: IngestToken; bytes: number; timer?: NodeJS.Timeout };

const statusError = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

/** google.rpc.Status { int32 code = 1; string message = 2; } */
const encodeRpcStatus = (code: number, message: string): Buffer =>
  Buffer.from(protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).finish());

const ingestMetrics = (registry: Registry) => {
  const signal = ['signal'] as const;
  return {
    requests: new Counter({ name: 'heph_ingest_requests_total', help: 'OTLP export requests by signal and response code.', labelNames: ['signal', 'code'], registers: [registry] }),
    received: new Counter({ name: 'heph_ingest_received_records_total', help: 'Records (spans, data points, log records) decoded from requests.', labelNames: signal, registers: [registry] }),
    accepted: new Counter({ name: 'heph_ingest_accepted_records_total', help: 'Records written to the log and acknowledged.', labelNames: signal, registers: [registry] }),
    rejected: new Counter({ name: 'heph_ingest_rejected_records_total', help: 'Records refused by validation (OTLP partial success).', labelNames: signal, registers: [registry] }),
    refused: new Counter({ name: 'heph_ingest_refused_records_total', help: 'Valid records not kept because the log failed (the client was told to retry).', labelNames: signal, registers: [registry] }),
    bytes: new Counter({ name: 'heph_ingest_received_bytes_total', help: 'Request body bytes received, before decompression.', labelNames: signal, registers: [registry] }),
    duration: new Histogram({ name: 'heph_ingest_request_duration_seconds', help: 'Time from request body received to response.', labelNames: signal, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    write: new Histogram({ name: 'heph_ingest_log_write_duration_seconds', help: 'Time the log took to acknowledge a request\'s records.', labelNames: signal, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    inFlight: new Gauge({ name: 'heph_ingest_in_flight_bytes', help: 'Request bytes being processed now.', registers: [registry] }),
  };
};

export const createIngestServer = (options: IngestOptions): FastifyInstance => {
  const { logger } = options;
  const maxInFlight = options.maxInFlightBytes ?? 16 * 1024 * 1024;
  const app = createHttpServer({ log: logger, registry: options.registry, readiness: options.readiness ?? { log: options.log.ready }, bodyLimitBytes: options.maxBodyBytes });
  const tokens = options.tokens.map((t, i): IngestToken => (typeof t === 'string' ? { name: `token-${i + 1}`, token: t, services: ['*'] } : t));
  const identify = bearerTokenIdentity(tokens.map((t, i) => ({ name: String(i), token: t.token })));
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
  const requests = new WeakMap<FastifyRequest, RequestState>();
  /** With tokens, a resource is kept only when its token may speak for its service. */
  const maySpeakFor = (token: IngestToken | undefined, service: string) => tokens.length === 0 || (token?.services.some((glob) => globMatches(glob, service)) ?? false);
  if (options.tokens.length === 0) logger.warn('HEPH_INGEST_TOKENS is not set: ingest accepts telemetry without authentication');
  const metrics = ingestMetrics(options.registry);
  let inFlightBytes = 0;

  // Bodies arrive as raw bytes; decoding (and gunzip) happens in the handler where errors map to OTLP statuses.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const inflate = (raw: Buffer, contentEncoding: string | undefined): Buffer => {
    const encoding = (contentEncoding ?? 'identity').toLowerCase();
    if (encoding === 'identity') return raw;
    if (encoding !== 'gzip') throw new IngestError(415, `unsupported Content-Encoding '${encoding}': send gzip or none`);
    try {
      return gunzipSync(raw, { maxOutputLength: options.maxBodyBytes });
    } catch (error) {
      if (error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new IngestError(413, `request body inflates past ${options.maxBodyBytes} bytes`);
      }
      throw new IngestError(400, `gzip body could not be inflated: ${(error as Error).message}`);
    }
  };

  const fail = (reply: FastifyReply, format: Format | undefined, status: number, message: string, retryAfterSeconds?: number) => {
    if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
    // OTLP/HTTP: an error body is a google.rpc.Status in the request's encoding.
    const code = rpcCodes[status] ?? 2;
    if (format === 'protobuf') return reply.code(status).type(otlpProtoContentType).send(encodeRpcStatus(code, message));
    return reply.code(status).type('application/json').send({ code, message });
  };

  const isExport = (request: FastifyRequest) => request.method === 'POST' && (request.routeOptions.url?.startsWith('/v1/') ?? false);

  // Before the body is read: the token (an unauthenticated upload costs no memory), and too much in flight
  // judged from the declared length.
  app.addHook('onRequest', async (request, reply) => {
    if (!isExport(request)) return;
    const signal = request.routeOptions.url!.slice(4);
    const state: RequestState = { bytes: 0 };
    requests.set(request, state);
    if (tokens.length > 0) {
      const index = identify(request.headers.authorization);
      if (index === undefined) {
        metrics.requests.inc({ signal, code: '401' });
        return fail(reply.header('connection', 'close'), formatOf(request.headers['content-type']), 401, 'missing or invalid bearer token');
      }
      state.token = tokens[Number(index)];
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (inFlightBytes > 0 && inFlightBytes + declared > maxInFlight) {
      metrics.requests.inc({ signal, code: '429' });
      return fail(reply, formatOf(request.headers['content-type']), 429, 'ingest is overloaded; retry later', 1);
    }
  });

  // While the body streams in: every chunk counts in flight at once, and the body has a deadline.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const state = requests.get(request);
    if (!state) return payload;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        state.bytes += chunk.length;
        inFlightBytes += chunk.length;
        metrics.inFlight.set(inFlightBytes);
        if (inFlightBytes > maxInFlight && inFlightBytes > state.bytes) return callback(statusError(429, 'ingest is overloaded; retry later'));
        callback(null, chunk);
      },
    });
    state.timer = setTimeout(() => counted.destroy(statusError(408, `the request body did not arrive within ${bodyTimeoutMs / 1000} s`)), bodyTimeoutMs);
    counted.once('end', () => clearTimeout(state.timer));
    payload.once('error', (error) => counted.destroy(error));
    return payload.pipe(counted);
  });

  const release = async (request: FastifyRequest) => {
    const state = requests.get(request);
    if (!state) return;
    requests.delete(request);
    clearTimeout(state.timer);
    inFlightBytes -= state.bytes;
    metrics.inFlight.set(inFlightBytes);
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);

  const handle = (pipeline: SignalPipeline) => async (request: FastifyRequest, reply: FastifyReply) => {
    const format = formatOf(request.headers['content-type']);
    const signal = pipeline.signal;
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const stopTimer = metrics.duration.startTimer({ signal });
    metrics.bytes.inc({ signal }, raw.length);
    let kept = 0;
    try {
      if (!format) throw new IngestError(415, `unsupported Content-Type '${request.headers['content-type'] ?? ''}': send application/x-protobuf or application/json`);
      // decode → normalize → validate
      const inflated = inflate(raw, request.headers['content-encoding']);
      // A gzip body is held inflated while it is decoded and written: that counts in flight too.
      const state = requests.get(request);
      if (state && inflated !== raw) {
        const extra = Math.max(0, inflated.length - raw.length);
        state.bytes += extra;
        inFlightBytes += extra;
        metrics.inFlight.set(inFlightBytes);
        if (inFlightBytes > maxInFlight && inFlightBytes > state.bytes) throw new IngestError(429, 'ingest is overloaded; retry later', 1);
      }
      const prepared = pipeline.prepare(inflated, format, options.limits ?? {});
      if (!prepared.ok) throw new IngestError(400, prepared.error.message);
      // A token speaks only for its services: a resource of another service is refused (partial
      // success), so a token cannot fake an error burst, a leak or a control URL for a service it does
      // not own and get the healer to act on it. The resources it may speak for are kept.
      const token = state?.token;
      const requestId = requestIdOf(signal, token, inflated);
      const foreign = prepared.value.batches.filter((b) => !maySpeakFor(token, b.serviceName));
      const refused = foreign.reduce((n, b) => n + b.count, 0);
      const foreignServices = [...new Set(foreign.map((b) => b.serviceName))];
      if (refused > 0) logger.warn({ signal, token: token?.name, services: foreignServices, refused }, `${pipeline.recordName} refused: the token may not speak for these services`);
      const rejected = prepared.value.rejected + refused;
      const message = [prepared.value.message, refused > 0 ? `${refused} ${pipeline.recordName} refused: token '${token?.name}' may not speak for service.name ${foreignServices.map((n) => `'${n}'`).join(', ')}` : undefined]
        .filter(Boolean)
        .join('; ');
      const batches = prepared.value.batches
        .filter((b) => b.count > 0 && maySpeakFor(token, b.serviceName))
        .flatMap((b) => pipeline.fit(b, options.maxRecordBytes ?? 1_000_000));
      kept = batches.reduce((n, b) => n + b.count, 0);
      metrics.received.inc({ signal }, kept + rejected);
      metrics.rejected.inc({ signal }, rejected);
      if (rejected > 0) logger.warn({ signal, rejected, reason: message }, `${pipeline.recordName} rejected by validation`);
      // write: one message per resource batch, keyed by service.name, in the OTLP protobuf encoding.
      const stopWrite = metrics.write.startTimer({ signal });
      await withDeadline(
        options.log.send(
          pipeline.topic,
          batches.map((b, i) => ({
            key: b.serviceName,
            value: Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength),
            headers: {
              [telemetryHeaders.contentType]: otlpProtoContentType,
              [telemetryHeaders.recordCount]: String(b.count),
              [telemetryHeaders.schemaVersion]: telemetrySchemaVersion,
              [requestIdHeader]: `${requestId}-${i}`,
            },
          })),
        ),
        options.writeTimeoutMs,
      );
      stopWrite();
      metrics.accepted.inc({ signal }, kept);
      metrics.requests.inc({ signal, code: '200' });
      const body = pipeline.respond(rejected, rejected > 0 ? message : undefined, format);
      return reply.code(200).type(format === 'json' ? 'application/json' : otlpProtoContentType).send(typeof body === 'string' ? body : Buffer.from(body));
    } catch (error) {
      if (error instanceof IngestError) {
        metrics.requests.inc({ signal, code: String(error.status) });
        return fail(reply, format, error.status, error.message, error.retryAfterSeconds);
      }
      if (error instanceof LogUnavailableError) {
        logger.error({ signal, err: error.cause ?? error }, 'log unavailable, asking the exporter to retry');
        metrics.refused.inc({ signal }, kept);
        metrics.requests.inc({ signal, code: '503' });
        return fail(reply, format, 503, 'the telemetry log is unavailable; retry later', 5);
      }
      throw error;
    } finally {
      stopTimer();
    }
  };

  app.post('/v1/traces', handle(signals.traces));
  app.post('/v1/metrics', handle(signals.metrics));
  app.post('/v1/logs', handle(signals.logs));

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : (error.statusCode ?? 500);
    if (status >= 500) logger.error({ err: error, url: request.url }, 'ingest request failed');
    const message = status === 413 ? `request body exceeds ${options.maxBodyBytes} bytes` : status >= 500 ? 'internal error' : error.message;
    // A body refused before it fully arrived (too large, too slow, too much in flight) is not read further.
    if (status === 408 || status === 413 || status === 429) reply.header('connection', 'close');
    if (status === 429) reply.header('retry-after', '1');
    return fail(reply, formatOf(request.headers['content-type']), status, message);
  });

  return app;
};

const withDeadline = async <T>(promise: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LogUnavailableError(`the log did not acknowledge within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
};
