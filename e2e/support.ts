// End-to-end helpers: a loopback webhook receiver, a demo agent in its own process, polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually as pollUntil, kafkaBrokers } from '@hephaestus/platform/testing';

/** `eventually` of the platform's test helpers, asking every 200 ms (other processes do the work). */
export const eventually = <T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> => pollUntil(what, probe, timeoutMs, 200);

/**
 * The environment of a control plane for end-to-end tests: Kafka and the given database, ports chosen
 * by the system, 2-second intervals judged 1 s after they close, consumer groups of its own.
 */
export const testPlaneEnv = (databaseUrl: string, playbooksDir: string, groupPrefix: string): Record<string, string> => ({
  KAFKA_BROKERS: kafkaBrokers().join(','),
  DATABASE_URL: databaseUrl,
  HEPH_PLAYBOOKS_DIR: playbooksDir,
  HEPH_INGEST_PORT: '0',
  HEPH_CONSOLE_PORT: '0',
  HEPH_RESOLUTION_SECONDS: '2',
  HEPH_DETECT_GRACE_SECONDS: '1',
  ...ownKafka(groupPrefix),
});

/**
 * Consumer groups and Kafka topics of a test's own (`<prefix>.otel.spans`…): test files run side by
 * side on one broker, and a control plane must read neither another test's telemetry nor its backlog.
 */
export const ownKafka = (prefix: string) => ({ HEPH_CONSUMER_GROUP_PREFIX: prefix, HEPH_KAFKA_TOPIC_PREFIX: `${prefix}.` });

/** A playbook that restarts an agent of these services when its error rate bursts, verified over `verifySeconds` (4 s). */
export const restartPlaybook = (serviceGlob: string, verifySeconds = 4) => `id: restart-on-error-burst
description: restart an agent whose error rate bursts
match:
  service: "${serviceGlob}"
  signal: error_rate
steps:
  - name: restart the agent
    action: agent.restart
    timeoutSeconds: 5
verify:
  signal: error_rate
  windowSeconds: ${verifySeconds}
  max: 0.05
`;

/** A control call a test agent received: path, idempotency key and body. */
export type ControlCall = { path: string; key: string; body: string };

/** A test agent on loopback that answers every control call with 202 and records it. */
export const startRecordingAgent = async () => {
  const calls: ControlCall[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      calls.push({ path: request.url!, key: String(request.headers['idempotency-key']), body });
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { url, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
};

export type WebhookCall = { headers: Record<string, unknown>; body: any };

export const startWebhookReceiver = async () => {
  const calls: WebhookCall[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      calls.push({ headers: request.headers, body: JSON.parse(body) });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/alerts`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
};

/** The demo agent as a separate process, exporting with the real OpenTelemetry JS SDK and exporter. */
export const startAgent = async (args: { service: string; ingestUrl: string; rate?: number }) => {
  const lines: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    [join(import.meta.dirname, '../cli/src/demo/agent.ts'), '--service', args.service, '--ingest', args.ingestUrl, '--rate', String(args.rate ?? 40)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const controlUrl = await eventually('the agent to announce its control endpoint', () => {
    for (const line of lines) {
      const match = /control endpoint (\S+)/.exec(line);
      if (match) return match[1];
    }
    return undefined;
  }, 120_000);
  return {
    lines,
    controlUrl,
    injectFault: async () => {
      const response = await fetch(`${controlUrl}/fault`, { method: 'POST' });
      if (response.status !== 202) throw new Error(`fault injection answered ${response.status}`);
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
};
