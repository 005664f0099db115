// A simulated AI agent of the demo fleet, built on @hephaestus/agent: it serves POST /work (a SERVER span
// continuing the caller's trace), asks a simulated LLM through the call guard, calls a tool and its
// downstream agents, exports traces, metrics and logs to ingest, and answers the healer on its control
// endpoint (restart, config, fault, rollback). One process per agent: the telemetry is process-global.
// Run it alone: `node cli/src/demo/agent.ts --service planner --ingest http://127.0.0.1:4318 --rate 5`.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, type Context, type Span } from '@opentelemetry/api';
import { loadCosts } from '@hephaestus/platform';
import { createLlmGuard, startControlServer, startTelemetry, type ControlConfig, type LlmGuard, type Telemetry } from '@hephaestus/agent';
import { conditionsAt, faults, faultNames, isFaultName, type ActiveFault } from './faults.ts';
import { startOpenControl } from './open-control.ts';
import {
  agentConcurrency,
  fallbackModel,
  llmOutcome,
  memoryLimitBytes,
  memoryUsageBytes,
  outOfMemory,
  primaryModel,
  provider,
  stableVersion,
  toolOutcome,
  type SimulatedError,
} from './simulation.ts';

const usage = `usage: agent.ts [options]

A simulated AI agent: serves POST /work with LLM calls (simulated ${provider} ${primaryModel}, fallback
${fallbackModel}), a tool call and calls to its downstream agents; exports OTLP traces, metrics and logs
to Hephaestus ingest; answers the healer on its control endpoint.

  --service NAME          service.name (default: planner)
  --ingest URL            ingest base URL (default: http://127.0.0.1:4318)
  --token TOKEN           bearer token for ingest (default: $HEPH_INGEST_TOKEN)
  --downstream LIST       agents this one calls for each request, in order: comma-separated
                          [name=]URL of their /work endpoints
  --rate N                requests per second it drives itself (default: 0, it only serves /work)
  --port PORT             /work port on 127.0.0.1 (default: 0, any free port)
  --control-port PORT     control endpoint port on 127.0.0.1 (default: 0, any free port)
  --control-token TOKEN   bearer token of the control endpoint (default: $HEPH_AGENT_CONTROL_TOKEN;
                          unset: the endpoint is open, on loopback only)
  --fault NAME            the fault --fault-after injects (default: error-burst); one of
                          ${faultNames.join(', ')}
  --fault-after S         inject --fault after S seconds (default: never; POST <control>/fault does it too)
  --breaker-threshold N   consecutive failures that open the circuit breaker by itself (default: 0,
                          only the control endpoint opens it)
  --metric-interval S     metric export interval in seconds (default: 5)
  --costs FILE            LLM prices for the heph.gen_ai.cost metric (default: config/costs.yaml)
  -h, --help              show this help`;

const { values } = parseArgs({
  options: {
    service: { type: 'string', default: 'planner' },
    ingest: { type: 'string', default: 'http://127.0.0.1:4318' },
    token: { type: 'string', default: process.env.HEPH_INGEST_TOKEN },
    downstream: { type: 'string', default: '' },
    rate: { type: 'string', default: '0' },
    port: { type: 'string', default: '0' },
    'control-port': { type: 'string', default: '0' },
    'control-token': { type: 'string', default: process.env.HEPH_AGENT_CONTROL_TOKEN },
    fault: { type: 'string', default: 'error-burst' },
    'fault-after': { type: 'string' },
    'breaker-threshold': { type: 'string', default: '0' },
    'metric-interval': { type: 'string', default: '5' },
    costs: { type: 'string', default: fileURLToPath(new URL('../../../config/costs.yaml', import.meta.url)) },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const fail = (message: string): never => {
  console.error(`agent.ts: ${message}\n\n${usage}`);
  process.exit(2);
};
const numberOption = (name: string, raw: string, min: number): number => {
  const n = Number(raw);
  return Number.isFinite(n) && n >= min ? n : fail(`--${name} wants a number of at least ${min}, got '${raw}'`);
};

const service = values.service;
const rate = numberOption('rate', values.rate, 0);
const breakerThreshold = numberOption('breaker-threshold', values['breaker-threshold'], 0);
const metricIntervalMs = numberOption('metric-interval', values['metric-interval'], 0.1) * 1000;
const initialFault = isFaultName(values.fault) ? values.fault : fail(`no fault '${values.fault}'; the catalogue: ${faultNames.join(', ')}`);
const downstream = values.downstream
  .split(',')
  .map((entry) => entry.trim())
  .filter(Boolean)
  .map((entry) => {
    const at = entry.indexOf('=');
    const [name, url] = at > 0 && !entry.slice(0, at).includes(':') ? [entry.slice(0, at), entry.slice(at + 1)] : [undefined, entry];
    return URL.canParse(url) ? { name, url: new URL(url) } : fail(`--downstream: not a URL: ${url}`);
  });
const { prices } = await loadCosts(values.costs);
// Spans leave within half a second, so a short analyzer resolution sees them in time.
process.env.OTEL_BSP_SCHEDULE_DELAY ??= '500';

const say = (line: string) => console.log(`agent ${service}: ${line}`);
const gibibytes = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

// ---- the simulated world: faults active in this process and the conditions they make.
let active: ActiveFault[] = [];
/** Counts restarts and deploys: each is a new process as far as the requests in flight are concerned. */
let incarnation = 0;
const openResponses = new Set<ServerResponse>();
/** What a process restart does to the requests in flight: their connections reset, their spans never leave. */
const reincarnate = () => {
  incarnation++;
  for (const response of openResponses) response.destroy();
  openResponses.clear();
};
const conditions = () => conditionsAt(active, Date.now());

/** A failed step of a request: the HTTP status the request answers and the `error.type` it records. */
class WorkError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, failure: SimulatedError) {
    super(failure.message);
    this.status = status;
    this.code = failure.code;
  }
}

/** The simulated provider: answers in the OpenAI chat completion shape the guard reads usage from. */
const chatCompletion = async (model: string, request: { messages: Array<{ role: string; content: string }> }) => {
  const outcome = llmOutcome(conditions(), model, Math.random, runtime.guard.status().concurrency.limit);
  await sleep(outcome.latencyMs - (outcome.saturatedMs ?? 0));
  // Waiting for a connection of a saturated pool ends as soon as the agent sheds its load.
  const saturated = () => runtime.guard.status().concurrency.limit > conditions().providerConcurrency;
  for (let waited = 0; waited < (outcome.saturatedMs ?? 0) && saturated(); waited += 100) await sleep(100);
  if (outcome.error) throw Object.assign(new Error(outcome.error.message), { code: outcome.error.code, status: outcome.error.status });
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion',
    model,
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `(${model} on: ${request.messages.at(-1)?.content.slice(0, 60)})` } }],
    usage: { prompt_tokens: outcome.inputTokens, completion_tokens: outcome.outputTokens, total_tokens: outcome.inputTokens + outcome.outputTokens },
  };
};

// ---- telemetry and the model client, made again on a restart (client) or a new version (both).
const createGuard = (): LlmGuard =>
  createLlmGuard({
    provider,
    model: primaryModel,
    fallbackModel,
    pricing: prices,
    concurrency: agentConcurrency,
    // Off until the healer turns it on (agent.set_config cache): that is what caps a prompt loop's spend.
    cache: { enabled: false, ttlMs: 60_000, maxEntries: 1_000 },
    // Threshold 0: the breaker opens only when told to, so the control plane's decision is what cures an outage.
    breaker: { failureThreshold: breakerThreshold || Number.MAX_SAFE_INTEGER, resetMs: 30_000 },
  });

type Runtime = { telemetry: Telemetry; guard: LlmGuard; version: string };

// Without a control token the SDK's endpoint gets a random one, and an open loopback front stands before it.
const controlToken = values['control-token'] || randomBytes(24).toString('hex');
const controlPort = numberOption('control-port', values['control-port'], 0);
const control = await startControlServer({
  token: controlToken,
  port: values['control-token'] ? controlPort : 0,
  onRestart: () => restart(),
  onConfig: (config) => configure(config),
  health: () => health(),
  actions: { fault: (body) => injectFault(body), rollback: (body) => rollback(body), clear: () => clearFaults() },
});
const open = values['control-token'] ? undefined : await startOpenControl({ url: control.url, token: controlToken }, controlPort);
const controlUrl = open?.url ?? control.url;

const boot = async (version: string): Promise<Runtime> => {
  const telemetry = await startTelemetry({
    serviceName: service,
    serviceVersion: version,
    endpoint: values.ingest,
    token: values.token,
    // Where the healer acts, and the memory limit failure prediction aims at (no HEPH_LIMITS needed).
    resourceAttributes: { 'heph.control.url': controlUrl, 'heph.limit.process.memory.usage': memoryLimitBytes },
    metricExportIntervalMs: metricIntervalMs,
  });
  telemetry.meter
    .createObservableGauge('process.memory.usage', { unit: 'By', description: 'Memory in use by the agent process (simulated)' })
    .addCallback((result) => result.observe(memoryUsageBytes(conditions(), Math.random)));
  return { telemetry, guard: createGuard(), version };
};
let runtime = await boot(stableVersion);

// A new service.version is a new deployment: telemetry and model client start again. One at a time.
let deploying = Promise.resolve();
const deploy = (version: string) =>
  (deploying = deploying.then(async () => {
    if (runtime.version === version) return;
    reincarnate();
    await runtime.telemetry.shutdown();
    runtime = await boot(version);
  }));

// ---- the control endpoint's actions.
const restart = () => {
  const cleared = active.filter((f) => faults[f.name].clearedByRestart).map((f) => f.name);
  const lost = inFlight;
  active = active.filter((f) => !faults[f.name].clearedByRestart);
  reincarnate();
  runtime.guard = createGuard();
  const remaining = active.map((f) => f.name);
  say(
    `restart requested by the healer: restarted, model client reset, ${lost} requests in flight lost` +
      (cleared.length ? `; cleared ${cleared.join(', ')}` : '') +
      (remaining.length ? `; still suffering ${remaining.join(', ')}, which a restart does not cure` : ''),
  );
  return { cleared, remaining };
};

const configure = (config: ControlConfig) => {
  const status = runtime.guard.configure(config);
  say(`config changed: ${Object.entries(config).map(([k, v]) => `${k} ${v}`).join(', ')} (model ${status.model}, circuit breaker ${status.circuitBreaker})`);
  return status;
};

const injectFault = async (body: unknown) => {
  const raw = body !== null && typeof body === 'object' && 'name' in body ? body.name : undefined;
  const name = raw === undefined ? 'error-burst' : String(raw);
  if (!isFaultName(name)) throw new Error(`no fault '${name}'; the catalogue: ${faultNames.join(', ')}`);
  const fault = faults[name];
  if (!active.some((f) => f.name === name)) {
    active = [...active, { name, sinceMs: Date.now() }];
    say(`fault ${name} begins: ${fault.effect}`);
  }
  await deploy(conditions().version);
  return { fault: name, effect: fault.effect, cure: fault.cure, version: runtime.version };
};

/** What a human's fix does (the benchmark's after phase): every fault gone, the stable version, the usual settings. */
const clearFaults = async () => {
  const cleared = active.map((f) => f.name);
  active = [];
  await deploy(conditions().version);
  const status = runtime.guard.configure({ model: primaryModel, cache: false, circuitBreaker: 'closed', concurrency: agentConcurrency });
  if (cleared.length) say(`faults cleared by hand: ${cleared.join(', ')}`);
  return { cleared, version: runtime.version, llm: status };
};

/** Back to the previous version: the only one before a bad deploy is the stable one. */
const rollback = async (body: unknown) => {
  const wanted = body !== null && typeof body === 'object' && 'version' in body && body.version !== undefined ? String(body.version) : stableVersion;
  if (wanted !== stableVersion) throw new Error(`no version ${wanted} to roll back to; the previous version is ${stableVersion}`);
  const from = runtime.version;
  active = active.filter((f) => f.name !== 'bad-deploy');
  await deploy(conditions().version);
  if (from !== runtime.version) say(`rolled back from ${from} to ${runtime.version}`);
  return { from, version: runtime.version };
};

const health = () => {
  const now = conditions();
  return {
    healthy: !outOfMemory(now),
    service,
    version: runtime.version,
    faults: active.map((f) => f.name),
    memoryBytes: memoryUsageBytes(now, Math.random),
    llm: runtime.guard.status(),
  };
};

// ---- the work: LLM calls, a tool call, the downstream agents, each in its own span.
const roles: Record<string, { does: string; tool: string }> = {
  planner: { does: 'break the task into steps', tool: 'task_board' },
  researcher: { does: 'find what the steps need', tool: 'web_search' },
  coder: { does: 'write the change', tool: 'run_tests' },
  reviewer: { does: 'review the change', tool: 'lint' },
};
// A fleet running beside others prefixes its names (`b1-coder`): the role is the last part.
const role = roles[service] ?? roles[service.slice(service.lastIndexOf('-') + 1)] ?? { does: 'handle the task', tool: 'lookup' };
const tasks = [
  'add pagination to the orders API',
  'fix the flaky checkout test',
  'upgrade the payment SDK',
  'add retries to the webhook sender',
  'speed up the search index rebuild',
  'add a dark mode toggle',
  'export invoices as CSV',
  'rate limit the login endpoint',
];

const ask = (guard: LlmGuard, step: string, task: string) =>
  guard.call(
    {
      messages: [
        { role: 'system', content: `You are the ${service} agent: ${role.does}.` },
        // Most requests carry their own context; the rest repeat, so the cache has something to hit. A
        // prompt loop (spend-runaway) sends the same prompt again and again.
        { role: 'user', content: conditions().repeatedPrompts ? `${step}: continue` : `${step}: ${task}${Math.random() < 0.8 ? ` (context ${randomUUID()})` : ''}` },
      ],
    },
    chatCompletion,
  ).catch((error: unknown) => {
    throw new WorkError(502, { code: String((error as { code?: unknown }).code ?? 'llm_error'), message: error instanceof Error ? error.message : String(error) });
  });

const failSpan = (span: Span, error: unknown, errorType: string) => {
  span.setAttribute('error.type', errorType);
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
};

// GenAI conventions: a tool execution is an INTERNAL span `execute_tool {gen_ai.tool.name}`.
const useTool = ({ telemetry }: Runtime) =>
  telemetry.tracer.startActiveSpan(
    `execute_tool ${role.tool}`,
    { kind: SpanKind.INTERNAL, attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': role.tool } },
    async (span) => {
      try {
        const outcome = toolOutcome(conditions(), Math.random);
        await sleep(outcome.latencyMs);
        if (outcome.error) {
          const error = new WorkError(500, outcome.error);
          failSpan(span, error, outcome.error.code);
          throw error;
        }
      } finally {
        span.end();
      }
    },
  );

const downstreamTimeoutMs = 30_000;

// HTTP conventions: a CLIENT span named after the method; the callee's SERVER span is its child through `traceparent`.
const callDownstream = ({ telemetry }: Runtime, target: { name: string | undefined; url: URL }, task: string) =>
  telemetry.tracer.startActiveSpan(
    'POST',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'POST',
        'url.full': target.url.href,
        'server.address': target.url.hostname,
        'server.port': Number(target.url.port || 80),
        ...(target.name ? { 'peer.service': target.name } : {}),
      },
    },
    async (span) => {
      const callee = target.name ?? target.url.host;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        propagation.inject(context.active(), headers);
        const response = await fetch(target.url, { method: 'POST', headers, body: JSON.stringify({ task }), signal: AbortSignal.timeout(downstreamTimeoutMs) }).catch(
          (error: unknown) => {
            throw new WorkError(502, { code: error instanceof Error ? error.name : 'fetch_error', message: `${callee} did not answer: ${error instanceof Error ? error.message : String(error)}` });
          },
        );
        span.setAttribute('http.response.status_code', response.status);
        const answer = (await response.json().catch(() => ({}))) as { error?: string };
        if (!response.ok) throw new WorkError(502, { code: String(response.status), message: `${callee} answered ${response.status}: ${answer.error ?? 'no detail'}` });
      } catch (error) {
        failSpan(span, error, error instanceof WorkError ? error.code : '_OTHER');
        throw error;
      } finally {
        span.end();
      }
    },
  );

// ---- what happened in the last interval, printed for whoever watches the demo.
let stats = { requests: 0, failed: 0, latenciesMs: [] as number[] };
let inFlight = 0;

type Answer = { status: number; body: object };

/**
 * Serves one request. Answers undefined for a request a restart cut short: the process that served it
 * is gone, so its SERVER span is never exported and its caller sees the connection reset.
 */
const handle = (parent: Context, task: string): Promise<Answer | undefined> => {
  const current = runtime;
  const born = incarnation;
  const { tracer, logger } = current.telemetry;
  inFlight++;
  const startedAt = performance.now();
  return tracer.startActiveSpan(
    'POST /work',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/work', 'url.path': '/work' } },
    parent,
    async (span): Promise<Answer | undefined> => {
      let failure: WorkError | undefined;
      try {
        if (outOfMemory(conditions())) {
          throw new WorkError(503, { code: 'ERR_OUT_OF_MEMORY', message: `JavaScript heap out of memory: ${gibibytes(memoryLimitBytes)} limit reached` });
        }
        await ask(current.guard, 'plan', task);
        await useTool(current);
        for (const target of downstream) await callDownstream(current, target, task);
        if (Math.random() < 0.5) await ask(current.guard, 'summarize', task);
      } catch (error) {
        failure = error instanceof WorkError ? error : new WorkError(500, { code: '_OTHER', message: String(error) });
      }
      inFlight--;
      if (born !== incarnation) return undefined;
      stats.requests++;
      stats.latenciesMs.push(performance.now() - startedAt);
      span.setAttribute('http.response.status_code', failure?.status ?? 200);
      if (failure) {
        failSpan(span, failure, failure.code);
        stats.failed++;
        // Emitted inside the span, so the record carries its trace and span ids.
        logger.emit({
          severityNumber: 17,
          severityText: 'ERROR',
          body: `work failed: ${failure.message}`,
          attributes: { 'error.type': failure.code, 'http.response.status_code': failure.status },
        });
      }
      span.end();
      return failure
        ? { status: failure.status, body: { service, version: current.version, error: failure.message } }
        : { status: 200, body: { service, version: current.version, task, done: true } };
    },
  );
};

const readBody = (request: IncomingMessage, maxBytes: number): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

const work = createServer((request, response) => {
  const reply = (status: number, body: object): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const path = new URL(request.url ?? '/', 'http://agent').pathname;
  if (path !== '/work') return reply(404, { error: `no route ${path}; POST /work` });
  if (request.method !== 'POST') return reply(405, { error: '/work takes POST' });
  readBody(request, 64 * 1024).then(
    (raw) => {
      if (raw === undefined) return reply(413, { error: 'the body is over 64 KiB' });
      let task: unknown;
      try {
        task = raw.trim() ? (JSON.parse(raw) as { task?: unknown }).task : undefined;
      } catch {
        return reply(400, { error: 'the body is not JSON' });
      }
      const parent = propagation.extract(ROOT_CONTEXT, request.headers);
      openResponses.add(response);
      return handle(parent, typeof task === 'string' && task ? task : 'an unnamed task').then((answer) => {
        openResponses.delete(response);
        if (answer) reply(answer.status, answer.body);
      });
    },
    (error: unknown) => reply(400, { error: `could not read the body: ${String(error)}` }),
  );
});
await new Promise<void>((resolve) => work.listen(numberOption('port', values.port, 0), '127.0.0.1', resolve));
const workAddress = work.address();
const workUrl = `http://127.0.0.1:${typeof workAddress === 'object' && workAddress ? workAddress.port : 0}/work`;

// ---- traffic this agent drives itself (the fleet's entry agent), bounded so a slow fleet is not buried.
const maxInFlight = 500;
let dropped = 0;
const traffic =
  rate > 0
    ? setInterval(() => {
        if (inFlight >= maxInFlight) return void dropped++;
        handle(ROOT_CONTEXT, tasks[Math.floor(Math.random() * tasks.length)]!).catch((error: unknown) => say(`request failed outside its span: ${String(error)}`));
      }, 1000 / rate)
    : undefined;

const summaryEveryMs = 10_000;
const summary = setInterval(() => {
  const { requests, failed, latenciesMs } = stats;
  stats = { requests: 0, failed: 0, latenciesMs: [] };
  if (requests === 0) return;
  const p50 = latenciesMs.sort((a, b) => a - b)[Math.floor(latenciesMs.length / 2)] ?? 0;
  const llm = runtime.guard.status();
  say(
    `last ${summaryEveryMs / 1000} s: ${requests} requests, ${failed} failed, p50 ${(p50 / 1000).toFixed(2)} s; ` +
      `version ${runtime.version}, model ${llm.model}, circuit breaker ${llm.circuitBreaker}, memory ${gibibytes(memoryUsageBytes(conditions(), Math.random))}` +
      (active.length ? `; faults: ${active.map((f) => f.name).join(', ')}` : '') +
      (dropped ? `; ${dropped} requests not started (over ${maxInFlight} in flight)` : ''),
  );
  dropped = 0;
}, summaryEveryMs);

const faultTimer = values['fault-after']
  ? setTimeout(() => void injectFault({ name: initialFault }).catch((error: unknown) => say(`fault injection failed: ${String(error)}`)), numberOption('fault-after', values['fault-after'], 0) * 1000)
  : undefined;

say(
  `${stableVersion} ready: work endpoint ${workUrl} control endpoint ${controlUrl}` +
    (downstream.length ? ` calls ${downstream.map((d) => d.name ?? d.url.host).join(' → ')}` : '') +
    (rate > 0 ? ` drives ${rate} requests/s` : '') +
    ` exports to ${values.ingest}` +
    (open ? ' (no control token: control calls are open on loopback)' : ''),
);
if (faultTimer) say(`fault ${initialFault} will begin in ${values['fault-after']} s`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(traffic);
  clearInterval(summary);
  clearTimeout(faultTimer);
  work.close();
  work.closeAllConnections();
  await Promise.all([open?.close(), control.close()]);
  await deploying;
  await runtime.telemetry.shutdown();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
