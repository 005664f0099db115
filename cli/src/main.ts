#!/usr/bin/env node
// The `heph` command: run the control plane, the demo, or the migrations.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { analyzerConfig, startAnalyzerProcess } from '@hephaestus/analyzer';
import { consoleConfig, startConsoleProcess } from '@hephaestus/console';
import { healerConfig, startHealerProcess } from '@hephaestus/healer';
import { ingestConfig, startIngestProcess } from '@hephaestus/ingest';
import { ConfigError, createLogger, loadConfig, loadPlaybooks, openDatabase, type BaseConfig, type Logger } from '@hephaestus/platform';
import type { z } from 'zod';
import { playbookJsonSchema } from '@hephaestus/schemas';
import { startControlPlane, upConfig, type ControlPlane } from './control-plane.ts';
import { runDetect } from './detect.ts';
import { runBacktest } from './backtest.ts';
import { runReplay } from './replay.ts';
import { faultNames, faults, isFaultName, type FaultName } from './demo/faults.ts';
import { runDemoFleet } from './demo/fleet.ts';
import { startDemoGitHub, type DemoGitHub } from './demo/github.ts';

const usage = `usage: heph <command> [options]

Hephaestus: observability and auto-healing for fleets of AI agents.

commands:
  up        run ingest (:4318), analyzer, healer and console (:8080) in one process
  ingest    run ingest alone (OTLP/HTTP on :4318); with analyzer, healer and console apart, on a shared DATABASE_URL
  analyzer  run an analyzer alone (/healthz, /readyz, /metrics on :4319); on Kafka more share the collecting and detecting, one judges
  healer    run a healer alone (/healthz, /readyz, /metrics on :4320)
  console   run the console and its API alone (:8080)
  demo      run 'up' plus a demo agent that serves traffic, then suffers an error burst the healer cures
  detect    stream a timestamp,value CSV through a detector (heph detect --help)
  backtest  replay stored telemetry through the detectors, incident policy and playbooks without acting (heph backtest --help)
  replay    rebuild the incidents, remediations and silences tables from the event store (heph replay --help)
  playbooks check [DIR]   validate the playbooks in DIR (default ./playbooks); exit 1 on any error
  playbooks schema        print the playbook format as JSON Schema (for editors)
  migrate   apply the database migrations and exit
  help      show this help

Without KAFKA_BROKERS and DATABASE_URL everything runs embedded (PGlite and a Postgres-backed log
under HEPH_DATA_DIR, default ./.heph). Set both to run on Kafka and PostgreSQL:
  KAFKA_BROKERS=127.0.0.1:9092 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test heph up
Services run apart share one PostgreSQL database (DATABASE_URL is required); see "Running at scale" in
the README. heph <service> --help lists the variables a service reads.

options:
  -h, --help   show this help (also: heph <command> --help)

The environment variables each service reads are listed in the README (Configuration).`;

const demoUsage = `usage: heph demo [--fault-after SECONDS] [--fault NAME [--service AGENT]]

Without --fault: the control plane and one demo agent ("planner"). After --fault-after seconds
(default 10) the agent starts failing 60 % of its requests; watch the incident open, the alert, the
restart, the validation and the resolution.

With --fault: the demo fleet planner → researcher → coder → reviewer (one process each, on
@hephaestus/agent, with LLM calls and calls between agents carrying trace context), and the named
fault injected into one agent after --fault-after seconds. Faults:
${faultNames.map((name) => `  ${name.padEnd(16)} ${faults[name].effect} (on ${faults[name].defaultService})`).join('\n')}

The demo judges 5-second intervals unless HEPH_RESOLUTION_SECONDS is set; its detectors learn for 15
intervals (HEPH_DETECT_WARMUP_BUCKETS) before they judge, so inject a fault after about 90 s (for
example --fault-after 90) for the series faults (latency, spend, memory). Ctrl-C stops everything.`;

/** A service that runs as a process of its own: the variables it reads and how it starts. */
const service = <C extends BaseConfig>(config: z.ZodObject & z.ZodType<C>, start: (config: C, logger: Logger) => Promise<{ stop: () => Promise<void> }>, what: string) => ({
  config,
  what,
  run: async (env: Record<string, string | undefined>) => {
    const loaded: C = loadConfig(config, env);
    const logger = createLogger({ level: loaded.LOG_LEVEL, pretty: process.stdout.isTTY });
    stopOnSignal(await start(loaded, logger), logger);
  },
});

const services = {
  ingest: service(ingestConfig, startIngestProcess, 'the OTLP/HTTP receiver: writes telemetry to the log (Kafka, or the Postgres-backed log in DATABASE_URL).'),
  analyzer: service(analyzerConfig, startAnalyzerProcess, 'rollups, detection, the incident policy and alerts. On Kafka every analyzer collects and detects (rollups and detectors for the services of the telemetry partitions it holds; the partitions spread over them) and one judges (correlation, the incident policy, alerts); the others take the judging over when it stops or dies.'),
  healer: service(healerConfig, startHealerProcess, 'playbooks: matches incidents, acts, verifies, rolls back; GitHub webhooks arrive on its port.'),
  console: service(consoleConfig, startConsoleProcess, 'the on-call console and its API over the projections (stateless).'),
};
type ServiceName = keyof typeof services;
const isService = (name: string): name is ServiceName => Object.hasOwn(services, name);

/** `heph <service> --help`: what it runs and every variable it reads, with its default. */
const serviceUsage = (name: ServiceName): string => {
  const schema = services[name].config;
  const defaults = schema.parse({}) as Record<string, unknown>;
  const shown = (value: unknown) => (typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value !== '') ? ` (default ${value})` : '');
  // HEPH_DATA_DIR is the embedded database's, which a service apart does not use.
  const variables = Object.keys(schema.shape)
    .filter((key) => key !== 'HEPH_DATA_DIR')
    .map((key) => `  ${key}${key === 'DATABASE_URL' ? ' (required: the database every service shares)' : shown(defaults[key])}`);
  return `usage: heph ${name}

Runs ${name} alone: ${services[name].what}
It answers /healthz, /readyz (database, log) and /metrics on its port. Without KAFKA_BROKERS the log is
the Postgres-backed log in DATABASE_URL. SIGINT or SIGTERM stops it.

environment variables it reads:
${variables.join('\n')}`;
};

const commands = ['up', 'ingest', 'analyzer', 'healer', 'console', 'demo', 'detect', 'backtest', 'replay', 'playbooks', 'migrate', 'help'];

const main = async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    strict: false,
    options: { help: { type: 'boolean', short: 'h' }, 'fault-after': { type: 'string' }, fault: { type: 'string' }, service: { type: 'string' } },
  });
  const command = positionals[0] ?? 'help';
  if (!commands.includes(command)) {
    // Before --help: `heph anything --help` is a typo to point out, not a request for the general help.
    console.error(`heph: unknown command '${command}' (the commands are ${commands.join(', ')})\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  if (command === 'detect') {
    process.exitCode = await runDetect(process.argv.slice(3), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
    return;
  }
  if (command === 'backtest') {
    process.exitCode = await runBacktest(process.argv.slice(3), { stdout: process.stdout, stderr: process.stderr });
    return;
  }
  if (command === 'replay') {
    process.exitCode = await runReplay(process.argv.slice(3), { stdout: process.stdout, stderr: process.stderr });
    return;
  }
  if (command === 'playbooks') {
    process.exitCode = await playbooksCommand(positionals.slice(1));
    return;
  }
  if (isService(command)) {
    if (values.help) return console.log(serviceUsage(command));
    return services[command].run(process.env);
  }
  if (command === 'help' || (values.help && command !== 'demo')) return console.log(usage);
  if (command === 'demo' && values.help) return console.log(demoUsage);

  const env = { ...process.env };
  const wiring: DemoGitHubWiring = { agents: new Map() };
  if (command === 'demo' && values.fault === 'bad-deploy' && !env.HEPH_GITHUB_REPOSITORY) {
    // A bad deploy is cured by a revert pull request: on the demo's GitHub stand-in unless a real
    // repository is configured. Its CD deploys a merged revert by rolling the agent back.
    const token = env.HEPH_AGENT_CONTROL_TOKEN;
    wiring.github = await startDemoGitHub({
      services: [typeof values.service === 'string' ? values.service : faults['bad-deploy'].defaultService],
      deploy: async (service, version) => {
        const response = await fetch(`${wiring.agents.get(service)}/rollback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ version }),
        });
        if (!response.ok) throw new Error(`rollback answered ${response.status}`);
      },
      say: (line) => console.log(line),
    });
    Object.assign(env, wiring.github.env);
  }
  if (command === 'demo') {
    env.HEPH_RESOLUTION_SECONDS ??= '5';
    // The demo detects within minutes: its detectors learn for 15 intervals (not 300). The agents report
    // their memory limit themselves (heph.limit.process.memory.usage), so a leak is predicted.
    env.HEPH_DETECT_WARMUP_BUCKETS ??= '15';
  }
  const config = loadConfig(upConfig, env);
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: process.stdout.isTTY });

  switch (command) {
    case 'migrate': {
      const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.HEPH_DATA_DIR, log: logger });
      await db.close();
      return logger.info('migrations applied');
    }
    case 'up': {
      const plane = await startControlPlane(config, logger);
      return stopOnSignal(plane, logger);
    }
    case 'demo': {
      const fault = typeof values.fault === 'string' ? values.fault : undefined;
      if (fault !== undefined && !isFaultName(fault)) {
        console.error(`heph: unknown fault '${fault}'; the faults are ${faultNames.join(', ')}`);
        process.exitCode = 2;
        return;
      }
      return demo(config, logger, Number(values['fault-after'] ?? 10), wiring, fault, typeof values.service === 'string' ? values.service : undefined);
    }
    default:
      console.error(`heph: unknown command '${command}' (the commands are ${commands.join(', ')})\n\n${usage}`);
      process.exitCode = 2;
  }
};

/** `heph playbooks check [dir]` and `heph playbooks schema`: no control plane needed. */
const playbooksCommand = async ([sub, dir = './playbooks']: string[]): Promise<number> => {
  if (sub === 'schema') {
    console.log(JSON.stringify(playbookJsonSchema(), null, 2));
    return 0;
  }
  if (sub !== 'check') {
    console.error(`heph: usage: heph playbooks check [DIR] | heph playbooks schema`);
    return 2;
  }
  const { playbooks, errors } = await loadPlaybooks(dir).catch((error: NodeJS.ErrnoException) => {
    console.error(`heph: cannot read ${dir}: ${error.code ?? error.message}`);
    return { playbooks: undefined, errors: [] };
  });
  if (!playbooks) return 2;
  for (const p of playbooks) console.log(`ok     ${p.id}: ${p.match.service} ${p.match.signal} → ${p.steps.map((s) => s.action).join(', ')}`);
  for (const e of errors) console.log(`error  ${e.file}:${e.line}: ${e.reason}`);
  console.log(`${playbooks.length} playbook${playbooks.length === 1 ? '' : 's'} valid, ${errors.length} refused`);
  return errors.length > 0 ? 1 : 0;
};

const stopOnSignal = (plane: Pick<ControlPlane, 'stop'>, logger: Logger, extra: () => Promise<void> = async () => {}) => {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await extra();
    await plane.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
};

/** A loopback webhook receiver standing in for the on-call engineer's pager. */
const startPager = async (logger: Logger): Promise<{ url: string; close: () => void }> => {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const payload = JSON.parse(body) as { status: string; incident: { service: string; summary: string; links: { incident: string } } };
      logger.info(`on-call pager received ${payload.status.toUpperCase()}: ${payload.incident.service} ${payload.status === 'firing' ? payload.incident.summary : 'recovered'} (${payload.incident.links.incident})`);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/alerts`, close: () => server.close() };
};

type DemoGitHubWiring = { github?: DemoGitHub; agents: Map<string, string> };

const demo = async (config: ReturnType<typeof upConfig.parse>, logger: Logger, faultAfterSeconds: number, { github, agents }: DemoGitHubWiring, fault?: FaultName, faultService?: string) => {
  const pager = config.HEPH_ALERT_WEBHOOK_URL ? undefined : await startPager(logger);
  const plane = await startControlPlane({ ...config, HEPH_ALERT_WEBHOOK_URL: config.HEPH_ALERT_WEBHOOK_URL ?? pager?.url }, logger);
  github?.deliverTo(plane.consoleUrl);
  if (fault) {
    const fleet = await runDemoFleet({
      ingestUrl: plane.ingestUrl,
      controlToken: config.HEPH_AGENT_CONTROL_TOKEN,
      logger,
      faultName: fault,
      faultAfterSeconds,
      faultService,
      rate: 5,
      metricIntervalSeconds: config.HEPH_RESOLUTION_SECONDS,
      costsFile: config.HEPH_COSTS_FILE,
    });
    for (const agent of fleet.agents) agents.set(agent.service, agent.controlUrl);
    logger.info(`demo: fleet ${fleet.agents.map((a) => a.service).join(' → ')} running; ${fault} in ${faultAfterSeconds} s. Console: ${plane.consoleUrl}/`);
    return stopOnSignal(plane, logger, async () => {
      await fleet.stop();
      await github?.close();
      pager?.close();
    });
  }
  const agent = spawn(
    process.execPath,
    [new URL('./demo/agent.ts', import.meta.url).pathname, '--service', 'planner', '--ingest', plane.ingestUrl, '--rate', '20', '--fault-after', String(faultAfterSeconds)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  agent.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logger.info(line);
  });
  logger.info(`demo: agent 'planner' starts normal traffic; an error burst begins in ${faultAfterSeconds} s. Console: ${plane.consoleUrl}/api/incidents`);
  stopOnSignal(plane, logger, async () => {
    agent.kill('SIGTERM');
    pager?.close();
  });
};

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`heph: ${error.message}`);
    process.exit(2);
  }
  console.error('heph: failed to start:', error);
  process.exit(1);
});
