// The OTLP/HTTP receiver: decode → normalize → validate → write. It answers 2xx only after the log
// acknowledged every kept record; 503 + Retry-After when the log is down; 4xx with a message for bad input.
import { createHash, timingSafeEqual } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHttpServer, LogUnavailableError, type Log, type Logger } from '@hephaestus/platform';
import {
  decodeTracesJson,
  decodeTracesProtobuf,
  encodeTraceResponse,
  encodeTracesProtobuf,
  otlpProtoContentType,
  splitTracesByResource,
  telemetryHeaders,
  telemetrySchemaVersion,
  topics,
  validateTraces,
} from '@hephaestus/schemas';
import { Counter, type Registry } from 'prom-client';

export type IngestOptions = {
  log: Log;
  logger: Logger;
  registry: Registry;
  tokens: string[];
  maxBodyBytes: number;
  writeTimeoutMs: number;
};

type Format = 'protobuf' | 'json';

class IngestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const formatOf = (contentType: string | undefined): Format | undefined => {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
};

const digest = (token: string) => createHash('sha256').update(token).digest();

export const createIngestServer = (options: IngestOptions): FastifyInstance => {
  const { logger } = options;
  const app = createHttpServer({ log: logger, registry: options.registry, readiness: { log: options.log.ready }, bodyLimitBytes: options.maxBodyBytes });
  const tokenDigests = options.tokens.map(digest);
  if (tokenDigests.length === 0) logger.warn('HEPH_INGEST_TOKENS is not set: ingest accepts telemetry without authentication');
  const metrics = {
    requests: new Counter({ name: 'heph_ingest_requests_total', help: 'OTLP export requests by signal and response code.', labelNames: ['signal', 'code'], registers: [options.registry] }),
    accepted: new Counter({ name: 'heph_ingest_spans_accepted_total', help: 'Spans written to the log.', registers: [options.registry] }),
    rejected: new Counter({ name: 'heph_ingest_spans_rejected_total', help: 'Spans refused by validation (partial success).', registers: [options.registry] }),
  };

  // Bodies arrive as raw bytes; decoding (and gunzip) happens in the handler where errors map to OTLP statuses.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // Constant-time comparison of digests: the token's length leaks nothing either.
  const authorized = (request: FastifyRequest) => {
    if (tokenDigests.length === 0) return true;
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (!match) return false;
    const given = digest(match[1]!.trim());
    return tokenDigests.some((d) => timingSafeEqual(d, given));
  };

  const body = (request: FastifyRequest): Buffer => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
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

  const send = (reply: FastifyReply, format: Format, status: number, payload: { rejectedSpans: number; errorMessage?: string }) =>
    reply
      .code(status)
      .type(format === 'json' ? 'application/json' : otlpProtoContentType)
      .send(Buffer.from(encodeTraceResponse(payload, format)));

  const fail = (reply: FastifyReply, format: Format | undefined, status: number, message: string) => {
    // OTLP/HTTP: errors carry a google.rpc.Status; JSON clients get its JSON form, others a plain message.
    if (format === 'json' || format === undefined) return reply.code(status).type('application/json').send({ code: status, message });
    return reply.code(status).type('text/plain').send(message);
  };

  app.post('/v1/traces', async (request, reply) => {
    const format = formatOf(request.headers['content-type']);
    const answer = (status: number) => metrics.requests.inc({ signal: 'traces', code: String(status) });
    try {
      if (!authorized(request)) throw new IngestError(401, 'missing or invalid bearer token');
      if (!format) throw new IngestError(415, `unsupported Content-Type '${request.headers['content-type'] ?? ''}': send application/x-protobuf or application/json`);
      // decode → normalize
      const bytes = body(request);
      const decoded = format === 'json' ? decodeTracesJson(bytes.toString('utf8')) : decodeTracesProtobuf(bytes);
      if (!decoded.ok) throw new IngestError(400, decoded.error.message);
      // validate
      const { request: kept, rejectedSpans, message } = validateTraces(decoded.value);
      // write: one message per resource batch, keyed by service.name, in the OTLP protobuf encoding.
      const batches = splitTracesByResource(kept).filter((b) => b.spanCount > 0);
      const records = batches.map((b) => ({
        key: b.serviceName,
        value: Buffer.from(encodeTracesProtobuf(b.request)),
        headers: {
          [telemetryHeaders.contentType]: otlpProtoContentType,
          [telemetryHeaders.recordCount]: String(b.spanCount),
          [telemetryHeaders.schemaVersion]: telemetrySchemaVersion,
        },
      }));
      await withDeadline(options.log.send(topics.spans, records), options.writeTimeoutMs);
      const accepted = batches.reduce((n, b) => n + b.spanCount, 0);
      metrics.accepted.inc(accepted);
      metrics.rejected.inc(rejectedSpans);
      if (rejectedSpans > 0) logger.warn({ rejectedSpans, reason: message }, 'spans rejected by validation');
      answer(200);
      return send(reply, format, 200, { rejectedSpans, errorMessage: rejectedSpans > 0 ? message : undefined });
    } catch (error) {
      if (error instanceof IngestError) {
        answer(error.status);
        return fail(reply, format, error.status, error.message);
      }
      if (error instanceof LogUnavailableError) {
        logger.error({ err: error.cause ?? error }, 'log unavailable, asking the exporter to retry');
        answer(503);
        reply.header('retry-after', '5');
        return fail(reply, format, 503, 'the telemetry log is unavailable; retry later');
      }
      throw error;
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : (error.statusCode ?? 500);
    if (status >= 500) logger.error({ err: error, url: request.url }, 'ingest request failed');
    return fail(reply, formatOf(request.headers['content-type']), status, status === 413 ? `request body exceeds ${options.maxBodyBytes} bytes` : error.message);
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
