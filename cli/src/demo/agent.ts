// A simulated AI agent: serves "plan" requests that call an LLM, exports its traces over OTLP/HTTP with
// the OpenTelemetry Node SDK, and answers the healer on a control endpoint (restart, fault injection).
// Run as its own process: `node cli/src/demo/agent.ts --service planner --ingest http://127.0.0.1:4318`.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const usage = `usage: agent.ts [options]

A simulated agent that exports OTLP traces to Hephaestus ingest.

  --service NAME        service.name to export (default: planner)
  --ingest URL          ingest base URL (default: http://127.0.0.1:4318)
  --token TOKEN         bearer token for ingest (default: $HEPH_INGEST_TOKEN)
  --control-port PORT   control endpoint port on 127.0.0.1 (default: 0, any free port)
  --rate N              requests per second (default: 20)
  --fault-after S       start an error burst after S seconds (default: never)
  --error-ratio R       share of requests that fail during the burst (default: 0.6)
  -h, --help            show this help`;

const { values } = parseArgs({
  options: {
    service: { type: 'string', default: 'planner' },
    ingest: { type: 'string', default: 'http://127.0.0.1:4318' },
    token: { type: 'string', default: process.env.HEPH_INGEST_TOKEN },
    'control-port': { type: 'string', default: '0' },
    rate: { type: 'string', default: '20' },
    'fault-after': { type: 'string' },
    'error-ratio': { type: 'string', default: '0.6' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const service = values.service;
const rate = Number(values.rate);
const errorRatio = Number(values['error-ratio']);
const say = (line: string) => console.log(`agent ${service}: ${line}`);

let faulty = false;
let restarts = 0;
const seenKeys = new Map<string, string>();

const control = createServer((request, response) => {
  const reply = (status: number, body: object) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (request.method === 'GET' && request.url === '/control/health') return reply(200, { service, faulty, restarts });
  if (request.method !== 'POST') return reply(405, { error: 'use POST' });
  if (request.url === '/control/fault') {
    faulty = true;
    say(`fault injected: ${Math.round(errorRatio * 100)} % of requests now fail`);
    return reply(202, { faulty });
  }
  if (request.url === '/control/restart') {
    // The same idempotency key twice is one restart.
    const key = String(request.headers['idempotency-key'] ?? '');
    if (key && seenKeys.has(key)) return reply(202, { restarted: true, replay: true });
    if (key) seenKeys.set(key, 'done');
    restarts++;
    faulty = false;
    say(`restart requested by the healer (key ${key || 'none'}): restarted, model client reset`);
    return reply(202, { restarted: true, restarts });
  }
  return reply(404, { error: `no such control action: ${request.url}` });
});
await new Promise<void>((resolve) => control.listen(Number(values['control-port']), '127.0.0.1', resolve));
const address = control.address();
const controlUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/control`;

const exporter = new OTLPTraceExporter({
  url: `${values.ingest.replace(/\/$/, '')}/v1/traces`,
  headers: values.token ? { authorization: `Bearer ${values.token}` } : {},
});
const sdk = new NodeSDK({
  resource: resourceFromAttributes({ 'service.name': service, 'service.version': '1.4.2', 'heph.control.url': controlUrl }),
  spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  instrumentations: [],
  autoDetectResources: false,
});
sdk.start();
const tracer = trace.getTracer('hephaestus-demo-agent');

const serve = () =>
  tracer.startActiveSpan('POST /v1/plan', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/v1/plan' } }, (span) => {
    const fails = faulty && Math.random() < errorRatio;
    const llm = tracer.startSpan('chat gpt-4o-mini', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 300 + Math.floor(Math.random() * 200),
        'gen_ai.usage.output_tokens': 80 + Math.floor(Math.random() * 60),
      },
    });
    if (fails) {
      const error = new Error(`upstream model timeout after ${3000 + Math.floor(Math.random() * 100)} ms`);
      llm.recordException(error);
      llm.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    llm.end();
    span.end();
  });

const traffic = setInterval(serve, 1000 / rate);
say(`serving ${rate} requests/s, exporting traces to ${values.ingest}; control endpoint ${controlUrl}`);
if (values['fault-after']) {
  setTimeout(() => {
    faulty = true;
    say(`error burst begins: ${Math.round(errorRatio * 100)} % of requests fail`);
  }, Number(values['fault-after']) * 1000);
}

const shutdown = async () => {
  clearInterval(traffic);
  control.close();
  await sdk.shutdown();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
