// The LLM call guard: an agent sends each of its model calls through `call`, which serves it from the
// cache, merges it into an identical call in flight, or runs it within the provider's concurrency limit
// behind a circuit breaker with a fallback model; and records it as a GenAI span and metrics
// (OpenTelemetry semantic conventions for generative AI: gen-ai-spans.md, gen-ai-metrics.md).
import { SpanKind, SpanStatusCode, diag, metrics, trace, type Attributes, type Meter, type Tracer } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import { admit, closedBreaker, failed, forced, released, succeeded, type BreakerOptions, type BreakerRoute, type BreakerState } from './circuit-breaker.ts';
import { createConcurrencyPool } from './concurrency-pool.ts';
import { costUsd, priceFor, usageOf, type LlmUsage, type ModelPrice } from './llm-usage.ts';
import { requestKey } from './request-key.ts';

/** A shared cache behind the in-process one (Redis, a database…). `undefined` or `null` from `get` is a miss. */
export type CacheSecondLayer = {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
};

export type LlmGuardOptions = {
  /** `gen_ai.provider.name`: openai, anthropic, gcp.gemini, aws.bedrock, azure.ai.openai… */
  provider: string;
  model: string;
  /** Where calls go while the breaker is open; without one they fail at once with CircuitOpenError. */
  fallbackModel?: string;
  /** `gen_ai.operation.name` (default chat). */
  operation?: string;
  pricing?: readonly ModelPrice[];
  /** Calls to the provider at once; more wait their turn. */
  concurrency: number;
  cache: { enabled?: boolean; ttlMs: number; maxEntries: number; secondLayer?: CacheSecondLayer };
  breaker: BreakerOptions;
  /** Default: the global tracer and meter, which startTelemetry sets up, before or after the guard is made (no-ops without it). */
  tracer?: Tracer;
  meter?: Meter;
  /** Token usage and response model of a response (default: usageOf, which knows the common client libraries). */
  usage?: (response: unknown) => LlmUsage;
  /** Whether an error counts against the breaker (default: every error). Errors that do not count leave it as it was. */
  isFailure?: (error: unknown) => boolean;
  /** Monotonic milliseconds for cache expiry and the breaker (default performance.now). */
  clock?: () => number;
};

/** What the control endpoint's set_config changes at run time. */
export type LlmGuardSettings = { model?: string; cache?: boolean; circuitBreaker?: 'open' | 'closed'; concurrency?: number };

export type LlmGuardStatus = {
  provider: string;
  model: string;
  fallbackModel: string | undefined;
  cache: boolean;
  cacheEntries: number;
  circuitBreaker: BreakerState['status'];
  /** Held open through set_config rather than by failures. */
  circuitBreakerForced: boolean;
  concurrency: { limit: number; active: number; waiting: number };
};

export type LlmGuard = {
  call<Req, Res>(request: Req, fn: (model: string, request: Req) => Promise<Res>): Promise<Res>;
  configure(settings: LlmGuardSettings): LlmGuardStatus;
  status(): LlmGuardStatus;
};

export class CircuitOpenError extends Error {
  readonly code = 'circuit_open';
  override name = 'CircuitOpenError';
}

// Bucket boundaries the GenAI metric conventions advise.
const tokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const durationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** `error.type`: the provider's or library's error code, else the error's class name, else the HTTP status, else `_OTHER`. */
export const errorTypeOf = (error: unknown): string => {
  if (error !== null && typeof error === 'object') {
    const { code, name, status } = error as { code?: unknown; name?: unknown; status?: unknown };
    if (typeof code === 'string' && code) return code;
    if (typeof name === 'string' && name && name !== 'Error') return name;
    if (typeof status === 'number') return String(status);
  }
  return '_OTHER';
};

type Source = 'provider' | 'cache' | 'merged';
type Answer = { value: unknown; source: Source };

export const createLlmGuard = (options: LlmGuardOptions): LlmGuard => {
  const operation = options.operation ?? 'chat';
  const { provider, fallbackModel, breaker: breakerOptions } = options;
  const tracer = options.tracer ?? trace.getTracer('@hephaestus/agent');
  const usage = options.usage ?? usageOf;
  const isFailure = options.isFailure ?? (() => true);
  const clock = options.clock ?? (() => performance.now());

  let model = options.model;
  let cacheOn = options.cache.enabled ?? true;
  let breaker = closedBreaker();
  const pool = createConcurrencyPool(options.concurrency);
  // Wrapped because a cached response may be any value, and lru-cache stores objects.
  const memory = new LRUCache<string, { value: unknown }>({
    max: options.cache.maxEntries,
    ttl: options.cache.ttlMs,
    ttlResolution: 0,
    perf: { now: clock },
  });
  const secondLayer = options.cache.secondLayer;
  const inFlight = new Map<string, Promise<unknown>>();

  // The metrics API has no proxy provider (unlike traces): instruments made from the global meter
  // before startTelemetry would stay no-ops, so they are made again whenever the global provider changes.
  const createInstruments = (meter: Meter) => ({
    tokenUsage: meter.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      description: 'Number of input and output tokens used',
      advice: { explicitBucketBoundaries: tokenBuckets },
    }),
    operationDuration: meter.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'GenAI operation duration',
      advice: { explicitBucketBoundaries: durationBuckets },
    }),
    cost: meter.createCounter('heph.gen_ai.cost', { unit: 'USD', description: 'Spend on LLM calls, from token usage and the configured prices' }),
  });
  let made: { source: unknown; instruments: ReturnType<typeof createInstruments> } | undefined;
  const instruments = () => {
    const source = options.meter ?? metrics.getMeterProvider();
    if (made?.source !== source) made = { source, instruments: createInstruments(options.meter ?? metrics.getMeter('@hephaestus/agent')) };
    return made.instruments;
  };

  // ---- cache: the in-process LRU first, then the second layer, which also refills the first.
  const lookup = async (key: string): Promise<{ value: unknown } | undefined> => {
    const local = memory.get(key);
    if (local || !secondLayer) return local;
    try {
      const value = await secondLayer.get(key);
      if (value === undefined || value === null) return undefined;
      memory.set(key, { value });
      return { value };
    } catch (error) {
      diag.warn('@hephaestus/agent: cache second layer get failed; calling the provider', error);
      return undefined;
    }
  };
  const store = (key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    memory.set(key, { value });
    secondLayer?.set(key, value, options.cache.ttlMs).catch((error: unknown) => diag.warn('@hephaestus/agent: cache second layer set failed', error));
  };

  // ---- the provider call, behind the breaker and the pool; identical calls in flight share it.
  const callProvider = (key: string, route: BreakerRoute, callModel: string, request: unknown, fn: (model: string, request: unknown) => Promise<unknown>) => {
    const shared = pool
      .run(() => fn(callModel, request))
      .then(
        (value) => {
          breaker = succeeded(breaker, route);
          if (cacheOn) store(key, value);
          return value;
        },
        (error: unknown) => {
          breaker = isFailure(error) ? failed(breaker, route, breakerOptions, clock()) : released(breaker, route);
          throw error;
        },
      )
      .finally(() => inFlight.delete(key));
    inFlight.set(key, shared);
    return shared;
  };

  const answer = async (route: BreakerRoute, callModel: string, request: unknown, fn: (model: string, request: unknown) => Promise<unknown>): Promise<Answer> => {
    const key = requestKey(provider, callModel, request);
    const cached = cacheOn ? await lookup(key) : undefined;
    if (cached) {
      breaker = released(breaker, route);
      return { value: cached.value, source: 'cache' };
    }
    const joined = inFlight.get(key);
    if (joined) {
      breaker = released(breaker, route);
      return { value: await joined, source: 'merged' };
    }
    return { value: await callProvider(key, route, callModel, request, fn), source: 'provider' };
  };

  // ---- record: one CLIENT span per call and the GenAI client metrics.
  /** Records the spend of an answered call and returns the span attributes it adds. */
  const recordUsage = (requestModel: string, result: Answer): Attributes => {
    const { inputTokens, outputTokens, responseModel } = usage(result.value);
    const attributes: Attributes = { 'heph.cache.hit': result.source === 'cache', 'heph.request.merged': result.source === 'merged' };
    if (responseModel) attributes['gen_ai.response.model'] = responseModel;
    // Only a call that reached the provider spent tokens; cached and merged answers report none.
    if (result.source !== 'provider') return attributes;
    if (inputTokens !== undefined) attributes['gen_ai.usage.input_tokens'] = inputTokens;
    if (outputTokens !== undefined) attributes['gen_ai.usage.output_tokens'] = outputTokens;
    const metricAttributes: Attributes = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': provider,
      'gen_ai.request.model': requestModel,
      ...(responseModel ? { 'gen_ai.response.model': responseModel } : {}),
    };
    const { tokenUsage, cost } = instruments();
    if (inputTokens !== undefined) tokenUsage.record(inputTokens, { ...metricAttributes, 'gen_ai.token.type': 'input' });
    if (outputTokens !== undefined) tokenUsage.record(outputTokens, { ...metricAttributes, 'gen_ai.token.type': 'output' });
    const price = options.pricing && priceFor(options.pricing, responseModel ?? requestModel);
    if (price && (inputTokens || outputTokens)) cost.add(costUsd(price, inputTokens ?? 0, outputTokens ?? 0), metricAttributes);
    return attributes;
  };

  const status = (): LlmGuardStatus => ({
    provider,
    model,
    fallbackModel,
    cache: cacheOn,
    cacheEntries: memory.size,
    circuitBreaker: breaker.status,
    circuitBreakerForced: breaker.status === 'open' && breaker.forced,
    concurrency: { limit: pool.limit, active: pool.active, waiting: pool.waiting },
  });

  return {
    call<Req, Res>(request: Req, fn: (model: string, request: Req) => Promise<Res>): Promise<Res> {
      const admitted = admit(breaker, breakerOptions, clock());
      breaker = admitted.state;
      const { route } = admitted;
      const callModel = route === 'fallback' ? fallbackModel : model;
      const spanModel = callModel ?? model;
      const attributes: Attributes = {
        'gen_ai.operation.name': operation,
        'gen_ai.provider.name': provider,
        'gen_ai.request.model': spanModel,
        'heph.fallback': route === 'fallback',
      };
      return tracer.startActiveSpan(`${operation} ${spanModel}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
        const startedAt = performance.now();
        const durationAttributes: Attributes = { 'gen_ai.operation.name': operation, 'gen_ai.provider.name': provider, 'gen_ai.request.model': spanModel };
        try {
          if (callModel === undefined) throw new CircuitOpenError(`the circuit breaker for ${provider} ${model} is open and there is no fallback model`);
          const result = await answer(route, callModel, request, fn as (model: string, request: unknown) => Promise<unknown>);
          const outcome = recordUsage(callModel, result);
          span.setAttributes(outcome);
          durationAttributes['heph.cache.hit'] = outcome['heph.cache.hit'];
          if (outcome['gen_ai.response.model']) durationAttributes['gen_ai.response.model'] = outcome['gen_ai.response.model'];
          return result.value as Res;
        } catch (error) {
          const errorType = errorTypeOf(error);
          span.setAttributes({ 'error.type': errorType, 'heph.cache.hit': false });
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
          durationAttributes['error.type'] = errorType;
          throw error;
        } finally {
          instruments().operationDuration.record((performance.now() - startedAt) / 1000, durationAttributes);
          span.end();
        }
      });
    },

    configure(settings) {
      if (settings.concurrency !== undefined) pool.setLimit(settings.concurrency);
      if (settings.model !== undefined) model = settings.model;
      if (settings.cache !== undefined) {
        cacheOn = settings.cache;
        // Turning the cache off is how a bad cached answer is got rid of: start empty when it comes back.
        if (!cacheOn) memory.clear();
      }
      if (settings.circuitBreaker !== undefined) breaker = forced(settings.circuitBreaker, clock());
      return status();
    },

    status,
  };
};
