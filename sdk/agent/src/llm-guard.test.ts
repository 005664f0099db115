import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { CircuitOpenError, createLlmGuard, errorTypeOf, type CacheSecondLayer, type LlmGuardOptions } from './llm-guard.ts';

type Request = { messages: string[] };
type Response = { model: string; text: string; usage: { input_tokens: number; output_tokens: number } };

const t0 = 1_000_000;

/** A guard over in-memory exporters and a clock the test moves. */
const setup = (overrides: Partial<LlmGuardOptions> = {}) => {
  const spanExporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] }).getTracer('test');
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meter = new MeterProvider({ readers: [reader] }).getMeter('test');
  // Not 0: lru-cache takes a start time of 0 for "no expiry", and performance.now() is never 0.
  const clock = { now: t0 };
  const guard = createLlmGuard({
    provider: 'openai',
    model: 'gpt-4o-mini',
    fallbackModel: 'gpt-4.1-mini',
    concurrency: 4,
    cache: { ttlMs: 60_000, maxEntries: 100 },
    breaker: { failureThreshold: 3, resetMs: 30_000 },
    pricing: [{ model: 'gpt-4o-mini', inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6 }],
    tracer,
    meter,
    clock: () => clock.now,
    ...overrides,
  });
  const metric = async (name: string) => {
    await reader.forceFlush();
    const found = metricExporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics.flatMap((scope) => scope.metrics)
      .find((m) => m.descriptor.name === name);
    return found;
  };
  return { guard, clock, spans: () => spanExporter.getFinishedSpans(), metric };
};

const answer = (model: string, request: Request): Response => ({
  model: `${model}-2024-07-18`,
  text: `answer to ${request.messages.join(' ')}`,
  usage: { input_tokens: 1000, output_tokens: 200 },
});
const llm = () => vi.fn(async (model: string, request: Request) => answer(model, request));
const failing = () =>
  vi.fn(async (model: string, request: Request) => {
    if (model === 'gpt-4o-mini') throw Object.assign(new Error('upstream overloaded'), { code: 'overloaded_error' });
    return answer(model, request);
  });
const deferred = <T>() => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};
const settle = () => new Promise((r) => setImmediate(r));

describe('LLM guard: cache', () => {
  it('answers the second identical call from the cache without calling the provider', async () => {
    const { guard } = setup();
    const fn = llm();
    const first = await guard.call({ messages: ['plan', 'the trip'] }, fn);
    const second = await guard.call({ messages: ['plan', 'the trip'] }, fn);
    expect(second).toEqual(first);
    expect(fn).toHaveBeenCalledTimes(1);
    await guard.call({ messages: ['another'] }, fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('calls the provider again once the entry is older than ttlMs', async () => {
    const { guard, clock } = setup();
    const fn = llm();
    await guard.call({ messages: ['hi'] }, fn);
    clock.now = t0 + 59_999;
    await guard.call({ messages: ['hi'] }, fn);
    expect(fn).toHaveBeenCalledTimes(1);
    clock.now = t0 + 60_001;
    await guard.call({ messages: ['hi'] }, fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('consults the second layer on a local miss and fills it after a provider call', async () => {
    const shared = new Map<string, unknown>();
    const secondLayer: CacheSecondLayer = {
      get: vi.fn(async (key: string) => shared.get(key)),
      set: vi.fn(async (key: string, value: unknown) => void shared.set(key, value)),
    };
    const one = setup({ cache: { ttlMs: 60_000, maxEntries: 100, secondLayer } });
    const fn = llm();
    const first = await one.guard.call({ messages: ['hi'] }, fn);
    expect(secondLayer.set).toHaveBeenCalledWith(expect.stringMatching(/^openai:gpt-4o-mini:[0-9a-f]{64}$/), first, 60_000);

    // Another replica: its own empty in-process cache, the same second layer.
    const two = setup({ cache: { ttlMs: 60_000, maxEntries: 100, secondLayer } });
    await expect(two.guard.call({ messages: ['hi'] }, fn)).resolves.toEqual(first);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(two.spans()[0]?.attributes['heph.cache.hit']).toBe(true);
    // Refilled locally: the next hit does not ask the second layer again.
    await two.guard.call({ messages: ['hi'] }, fn);
    expect(secondLayer.get).toHaveBeenCalledTimes(2);
  });

  it('calls the provider when the second layer fails', async () => {
    const secondLayer: CacheSecondLayer = { get: () => Promise.reject(new Error('redis down')), set: () => Promise.reject(new Error('redis down')) };
    const { guard } = setup({ cache: { ttlMs: 60_000, maxEntries: 100, secondLayer } });
    const fn = llm();
    await expect(guard.call({ messages: ['hi'] }, fn)).resolves.toMatchObject({ text: 'answer to hi' });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not cache failures', async () => {
    const { guard } = setup({ fallbackModel: undefined });
    const fn = vi.fn().mockRejectedValueOnce(new Error('timeout')).mockResolvedValueOnce(answer('gpt-4o-mini', { messages: ['hi'] }));
    await expect(guard.call({ messages: ['hi'] }, fn)).rejects.toThrow('timeout');
    await expect(guard.call({ messages: ['hi'] }, fn)).resolves.toMatchObject({ text: 'answer to hi' });
  });
});

describe('LLM guard: merging and concurrency', () => {
  it('merges identical calls in flight into one provider call', async () => {
    const { guard, spans } = setup();
    guard.configure({ cache: false });
    const gate = deferred<Response>();
    const fn = vi.fn(() => gate.promise);
    const calls = [1, 2, 3].map(() => guard.call({ messages: ['same'] }, fn));
    await settle();
    gate.resolve(answer('gpt-4o-mini', { messages: ['same'] }));
    const answers = await Promise.all(calls);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(new Set(answers).size).toBe(1);
    expect(spans().map((s) => s.attributes['heph.request.merged'])).toEqual([false, true, true]);
    // Only the call that reached the provider reports the tokens it spent.
    expect(spans().map((s) => s.attributes['gen_ai.usage.input_tokens'])).toEqual([1000, undefined, undefined]);
  });

  it('keeps at most `concurrency` provider calls in flight, and follows a new limit at run time', async () => {
    const { guard } = setup({ concurrency: 2 });
    const gates: Array<ReturnType<typeof deferred<void>>> = [];
    let running = 0;
    let peak = 0;
    const fn = async (model: string, request: Request) => {
      peak = Math.max(peak, ++running);
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
      running--;
      return answer(model, request);
    };
    const calls = [1, 2, 3, 4, 5].map((i) => guard.call({ messages: [`task ${i}`] }, fn));
    await settle();
    expect(running).toBe(2);
    expect(guard.status().concurrency).toEqual({ limit: 2, active: 2, waiting: 3 });
    guard.configure({ concurrency: 3 });
    await settle();
    expect(running).toBe(3);
    while (gates.length > 0) {
      gates.shift()?.resolve();
      await settle();
    }
    await Promise.all(calls);
    expect(peak).toBe(3);
  });
});

describe('LLM guard: circuit breaker', () => {
  it('opens after failureThreshold consecutive failures and sends calls to the fallback model', async () => {
    const { guard, spans } = setup();
    const fn = failing();
    for (const i of [1, 2, 3]) await expect(guard.call({ messages: [`try ${i}`] }, fn)).rejects.toThrow('upstream overloaded');
    expect(guard.status().circuitBreaker).toBe('open');
    await expect(guard.call({ messages: ['try 4'] }, fn)).resolves.toMatchObject({ model: 'gpt-4.1-mini-2024-07-18' });
    expect(fn).toHaveBeenLastCalledWith('gpt-4.1-mini', { messages: ['try 4'] });
    const last = spans().at(-1);
    expect(last?.name).toBe('chat gpt-4.1-mini');
    expect(last?.attributes['heph.fallback']).toBe(true);
  });

  it('tries the primary model again after resetMs and closes when it answers', async () => {
    const { guard, clock } = setup();
    let outage = true;
    const fn = vi.fn(async (model: string, request: Request) => {
      if (outage && model === 'gpt-4o-mini') throw new Error('503');
      return answer(model, request);
    });
    for (const i of [1, 2, 3]) await guard.call({ messages: [`${i}`] }, fn).catch(() => undefined);
    clock.now = t0 + 29_999;
    await guard.call({ messages: ['still open'] }, fn);
    expect(fn).toHaveBeenLastCalledWith('gpt-4.1-mini', expect.anything());

    // Half-open, the trial fails: open again for another resetMs.
    clock.now = t0 + 30_000;
    await expect(guard.call({ messages: ['trial 1'] }, fn)).rejects.toThrow('503');
    expect(guard.status().circuitBreaker).toBe('open');
    clock.now = t0 + 59_999;
    await guard.call({ messages: ['open again'] }, fn);
    expect(fn).toHaveBeenLastCalledWith('gpt-4.1-mini', expect.anything());

    // The provider is back: the next trial closes the breaker.
    outage = false;
    clock.now = t0 + 60_000;
    await expect(guard.call({ messages: ['trial 2'] }, fn)).resolves.toMatchObject({ model: 'gpt-4o-mini-2024-07-18' });
    expect(guard.status().circuitBreaker).toBe('closed');
    await guard.call({ messages: ['closed'] }, fn);
    expect(fn).toHaveBeenLastCalledWith('gpt-4o-mini', expect.anything());
  });

  it('without a fallback model fails fast with circuit_open while open', async () => {
    const { guard, spans } = setup({ fallbackModel: undefined });
    const fn = failing();
    for (const i of [1, 2, 3]) await guard.call({ messages: [`${i}`] }, fn).catch(() => undefined);
    const error = await guard.call({ messages: ['4'] }, fn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(spans().at(-1)?.attributes['error.type']).toBe('circuit_open');
  });

  it('does not count errors that isFailure excludes', async () => {
    const { guard } = setup({ isFailure: (error) => errorTypeOf(error) !== 'invalid_request_error' });
    const fn = vi.fn(async () => {
      throw Object.assign(new Error('bad prompt'), { code: 'invalid_request_error' });
    });
    for (const i of [1, 2, 3, 4]) await guard.call({ messages: [`${i}`] }, fn).catch(() => undefined);
    expect(guard.status().circuitBreaker).toBe('closed');
  });
});

describe('LLM guard: run-time config', () => {
  it('switches model, cache and breaker as set_config asks', async () => {
    const { guard } = setup();
    const fn = llm();
    expect(guard.configure({ model: 'gpt-4o' })).toMatchObject({ model: 'gpt-4o' });
    await guard.call({ messages: ['a'] }, fn);
    expect(fn).toHaveBeenLastCalledWith('gpt-4o', { messages: ['a'] });

    expect(guard.configure({ circuitBreaker: 'open' })).toMatchObject({ circuitBreaker: 'open', circuitBreakerForced: true });
    await guard.call({ messages: ['b'] }, fn);
    expect(fn).toHaveBeenLastCalledWith('gpt-4.1-mini', { messages: ['b'] });
    guard.configure({ circuitBreaker: 'closed' });
    await guard.call({ messages: ['c'] }, fn);
    expect(fn).toHaveBeenLastCalledWith('gpt-4o', { messages: ['c'] });

    expect(guard.configure({ cache: false })).toMatchObject({ cache: false, cacheEntries: 0 });
    await guard.call({ messages: ['c'] }, fn);
    await guard.call({ messages: ['c'] }, fn);
    expect(fn).toHaveBeenCalledTimes(5);
  });
});

describe('LLM guard: telemetry', () => {
  it('records each call as a GenAI client span', async () => {
    const { guard, spans } = setup();
    const fn = llm();
    await guard.call({ messages: ['hi'] }, fn);
    await guard.call({ messages: ['hi'] }, fn);
    const [miss, hit] = spans();
    expect(miss?.name).toBe('chat gpt-4o-mini');
    expect(miss?.kind).toBe(SpanKind.CLIENT);
    expect(miss?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 200,
      'heph.cache.hit': false,
      'heph.request.merged': false,
      'heph.fallback': false,
    });
    expect(hit?.attributes).toMatchObject({ 'heph.cache.hit': true, 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18' });
    expect(hit?.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('marks a failed call with error.type and an error status', async () => {
    const { guard, spans } = setup();
    await guard.call({ messages: ['x'] }, failing()).catch(() => undefined);
    const span = spans()[0];
    expect(span?.attributes['error.type']).toBe('overloaded_error');
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream overloaded' });
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('records token usage, duration and cost metrics', async () => {
    const { guard, metric } = setup();
    const fn = llm();
    await guard.call({ messages: ['hi'] }, fn);
    await guard.call({ messages: ['hi'] }, fn);
    await guard.call({ messages: ['x'] }, failing()).catch(() => undefined);

    const tokens = await metric('gen_ai.client.token.usage');
    expect(tokens?.descriptor.unit).toBe('{token}');
    const byType = Object.fromEntries(
      (tokens?.dataPoints as DataPoint<Histogram>[]).map((p) => [String(p.attributes['gen_ai.token.type']), { count: p.value.count, sum: p.value.sum, attributes: p.attributes }]),
    );
    expect(byType.input).toMatchObject({ count: 1, sum: 1000 });
    expect(byType.output).toMatchObject({ count: 1, sum: 200 });
    expect(byType.input?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.token.type': 'input',
    });

    const duration = await metric('gen_ai.client.operation.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const points = duration?.dataPoints as DataPoint<Histogram>[];
    expect(points.reduce((n, p) => n + p.value.count, 0)).toBe(3);
    expect(points.find((p) => p.attributes['heph.cache.hit'] === true)?.value.count).toBe(1);
    expect(points.find((p) => p.attributes['error.type'] === 'overloaded_error')?.value.count).toBe(1);

    const cost = await metric('heph.gen_ai.cost');
    expect(cost?.descriptor.unit).toBe('USD');
    // 1000 input tokens at $0.15/M and 200 output at $0.60/M; the cache hit and the failure cost nothing.
    expect(cost?.dataPoints.reduce((sum, p) => sum + (p.value as number), 0)).toBeCloseTo(0.00027, 10);
  });

  it('works with no telemetry set up at all', async () => {
    const guard = createLlmGuard({
      provider: 'anthropic',
      model: 'claude-sonnet-4',
      concurrency: 1,
      cache: { ttlMs: 1000, maxEntries: 10 },
      breaker: { failureThreshold: 1, resetMs: 1000 },
    });
    await expect(guard.call('hello', async (model, prompt) => `${model}: ${prompt}`)).resolves.toBe('claude-sonnet-4: hello');
  });
});

describe('errorTypeOf', () => {
  it('prefers the error code, then the class name, then the HTTP status', () => {
    expect(errorTypeOf(Object.assign(new Error('x'), { code: 'rate_limit_exceeded', status: 429 }))).toBe('rate_limit_exceeded');
    expect(errorTypeOf(new TypeError('x'))).toBe('TypeError');
    expect(errorTypeOf(Object.assign(new Error('x'), { status: 529 }))).toBe('529');
    expect(errorTypeOf('weird')).toBe('_OTHER');
  });
});
