// OpenTelemetry for an agent in one call: the Node SDK exporting traces, metrics and logs as OTLP/HTTP
// protobuf to Hephaestus ingest, with the agent's control endpoint announced as `heph.control.url`.
import { randomUUID } from 'node:crypto';
import { context, diag, metrics, propagation, trace, type Attributes, type Meter, type Tracer } from '@opentelemetry/api';
import { logs, type Logger } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK, logs as sdkLogs, metrics as sdkMetrics, resources, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { startControlServer, type ControlServer, type ControlServerOptions } from './control-server.ts';

export type TelemetryOptions = {
  serviceName: string;
  serviceVersion?: string;
  /** `service.instance.id` (default: a random UUID per process). */
  serviceInstanceId?: string;
  /** Ingest's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318; the signal paths /v1/traces, /v1/metrics, /v1/logs are added. */
  endpoint: string;
  /** Bearer token for ingest (one of its HEPH_INGEST_TOKENS). */
  token?: string;
  /** Starts the control endpoint and announces its URL as the `heph.control.url` resource attribute. */
  control?: ControlServerOptions;
  resourceAttributes?: Attributes;
  /** Default 10 000, the analyzer's resolution. */
  metricExportIntervalMs?: number;
  /** How long one export may take before it is given up (default 10 000). */
  exportTimeoutMs?: number;
  instrumentations?: NodeSDKConfiguration['instrumentations'];
  /** Flush and stop on these signals (e.g. ['SIGTERM', 'SIGINT']); then the process ends as the signal would end it, unless the agent listens for it too. */
  shutdownOn?: NodeJS.Signals[];
};

export type Telemetry = {
  tracer: Tracer;
  meter: Meter;
  logger: Logger;
  /** The control endpoint's URL, when one was asked for. */
  controlUrl: string | undefined;
  /** Flushes what is buffered and stops exporting; exporter failures are reported through OpenTelemetry's diag logger, never thrown. */
  shutdown(): Promise<void>;
};

// The OpenTelemetry API holds one global provider per signal, so one telemetry setup runs at a time.
let running = false;

export const startTelemetry = async (options: TelemetryOptions): Promise<Telemetry> => {
  if (running) throw new Error('telemetry is already started in this process; shut it down before starting it again');
  running = true;
  let control: ControlServer | undefined;
  try {
    control = options.control ? await startControlServer(options.control) : undefined;
  } catch (error) {
    running = false;
    throw error;
  }

  const base = options.endpoint.replace(/\/+$/, '');
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const exporterOptions = (path: string) => ({
    url: `${base}${path}`,
    headers,
    timeoutMillis: options.exportTimeoutMs ?? 10_000,
  });
  const attributes: Attributes = {
    ...options.resourceAttributes,
    'service.name': options.serviceName,
    'service.instance.id': options.serviceInstanceId ?? randomUUID(),
    ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
    ...(control ? { 'heph.control.url': control.url } : {}),
  };
  const sdk = new NodeSDK({
    resource: resources.defaultResource().merge(resources.resourceFromAttributes(attributes)),
    serviceName: options.serviceName,
    // The SDK batches spans itself, honouring the OTEL_BSP_* variables.
    traceExporter: new OTLPTraceExporter(exporterOptions('/v1/traces')),
    metricReaders: [
      new sdkMetrics.PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(exporterOptions('/v1/metrics')),
        exportIntervalMillis: options.metricExportIntervalMs ?? 10_000,
      }),
    ],
    logRecordProcessors: [new sdkLogs.BatchLogRecordProcessor({ exporter: new OTLPLogExporter(exporterOptions('/v1/logs')) })],
    instrumentations: options.instrumentations ?? [],
  });
  sdk.start();

  const signals = options.shutdownOn ?? [];
  const onSignal = (signal: NodeJS.Signals) => {
    void shutdown().then(() => {
      // Re-raised with our listener gone, the signal ends the process as it would have without us.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  for (const signal of signals) process.once(signal, onSignal);

  let stopped: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const signal of signals) process.off(signal, onSignal);
      await Promise.all([
        sdk.shutdown().catch((error: unknown) => diag.error('@hephaestus/agent: telemetry shutdown failed', error)),
        control?.close().catch((error: unknown) => diag.error('@hephaestus/agent: control endpoint close failed', error)),
      ]);
      // Gives the globals back, so telemetry can be started again in this process.
      trace.disable();
      metrics.disable();
      logs.disable();
      propagation.disable();
      context.disable();
      running = false;
    })());

  return {
    tracer: trace.getTracer(options.serviceName, options.serviceVersion),
    meter: metrics.getMeter(options.serviceName, options.serviceVersion),
    logger: logs.getLogger(options.serviceName, options.serviceVersion),
    controlUrl: control?.url,
    shutdown,
  };
};
