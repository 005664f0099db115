// The demo fleet: planner → researcher → coder → reviewer, each agent its own process (agent.ts), the
// planner driving traffic; after a delay, one fault of the catalogue is injected into one agent through
// its control endpoint. Everything the agents print goes to the logger, with the agent's name.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { faults, type FaultName } from './faults.ts';

export const fleetServices = ['planner', 'researcher', 'coder', 'reviewer'] as const;

/** What the fleet needs of a logger; a pino logger is one. */
export type FleetLogger = {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
};

export type DemoFleetOptions = {
  /** Ingest's OTLP/HTTP base URL. */
  ingestUrl: string;
  /** Bearer token for ingest, when it wants one. */
  ingestToken?: string;
  /** The agents' control token: give the healer's HEPH_AGENT_CONTROL_TOKEN. Unset: open control endpoints on loopback. */
  controlToken?: string;
  logger: FleetLogger;
  faultName?: FaultName;
  faultAfterSeconds: number;
  /** The agent the fault hits (default: the fault's own choice, see faults.ts). */
  faultService?: string;
  /** Requests per second the planner drives. */
  rate: number;
  /** How often the agents export metrics (default 5 s): at most the analyzer's resolution. */
  metricIntervalSeconds?: number;
  /** LLM prices for the agents' cost metric (default: the repository's config/costs.yaml). */
  costsFile?: string;
  /** Put before every agent's service.name (e.g. `b1-` makes `b1-planner`), so fleets can run side by side. */
  namePrefix?: string;
};

export type FleetAgent = { service: string; workUrl: string; controlUrl: string };
export type DemoFleet = { agents: FleetAgent[]; stop(): Promise<void> };

const agentScript = new URL('./agent.ts', import.meta.url).pathname;
// A failsafe, not a timing: a busy machine (two cores, a CI run beside a bench) took over 30 s to start one.
const readyTimeoutMs = 120_000;
const stopTimeoutMs = 10_000;

type Running = FleetAgent & { child: ChildProcess };

const startAgent = async (service: string, args: string[], env: NodeJS.ProcessEnv, logger: FleetLogger): Promise<Running> => {
  const child = spawn(process.execPath, [agentScript, '--service', service, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    logger.warn({ agent: service }, line);
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<{ workUrl: string; controlUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent ${service} did not get ready within ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
    lines.on('line', (line) => {
      logger.info({ agent: service }, line);
      const match = /work endpoint (\S+) control endpoint (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ workUrl: match[1]!, controlUrl: match[2]! });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`agent ${service} exited (${signal ?? `code ${code}`}) before it was ready${stderr.length ? `: ${stderr.slice(-5).join(' | ')}` : ''}`));
    });
  });
  try {
    return { service, child, ...(await ready) };
  } catch (error) {
    await stopAgent(child);
    throw error;
  }
};

const stopAgent = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  await exited;
  clearTimeout(timer);
};

export const runDemoFleet = async (options: DemoFleetOptions): Promise<DemoFleet> => {
  const { logger } = options;
  const fault = options.faultName ? faults[options.faultName] : undefined;
  const prefix = options.namePrefix ?? '';
  const services = fleetServices.map((name) => `${prefix}${name}`);
  const faultService = options.faultService ?? (fault ? `${prefix}${fault.defaultService}` : undefined);
  if (fault && !services.includes(faultService!)) {
    throw new Error(`no agent '${faultService}' in the demo fleet; there are ${services.join(', ')}`);
  }

  // Tokens go through the environment, not the command line, where any user of the machine could read them.
  // Only the tokens given here count: none is inherited from this process's environment.
  const env: NodeJS.ProcessEnv = { ...process.env, HEPH_AGENT_CONTROL_TOKEN: options.controlToken, HEPH_INGEST_TOKEN: options.ingestToken };
  for (const name of ['HEPH_AGENT_CONTROL_TOKEN', 'HEPH_INGEST_TOKEN']) if (!env[name]) delete env[name];
  const common = ['--ingest', options.ingestUrl, '--metric-interval', String(options.metricIntervalSeconds ?? 5), ...(options.costsFile ? ['--costs', options.costsFile] : [])];

  // Callees first: each agent is told where its downstream agent listens.
  const running: Running[] = [];
  let stopping = false;
  const stopAll = async () => {
    // The entry agent first, so no new work flows while the others stop.
    for (const agent of [...running].reverse()) await stopAgent(agent.child);
  };
  try {
    for (const service of [...services].reverse()) {
      const next = running.at(-1);
      const args = [...common, ...(next ? ['--downstream', `${next.service}=${next.workUrl}`] : []), ...(service === services[0] ? ['--rate', String(options.rate)] : [])];
      running.push(await startAgent(service, args, env, logger));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  for (const agent of running) {
    agent.child.once('exit', (code, signal) => {
      if (!stopping) logger.error({ agent: agent.service, code, signal }, `agent ${agent.service} exited on its own (${signal ?? `code ${code}`})`);
    });
  }
  logger.info({ rate: options.rate }, `demo fleet up: ${services.join(' → ')}; the ${services[0]} drives ${options.rate} requests/s`);

  const inject = async () => {
    if (!fault || !faultService) return;
    const target = running.find((a) => a.service === faultService)!;
    try {
      const response = await fetch(`${target.controlUrl}/fault`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `demo-fault-${fault.name}-${faultService}`,
          ...(options.controlToken ? { authorization: `Bearer ${options.controlToken}` } : {}),
        },
        body: JSON.stringify({ name: fault.name }),
      });
      if (!response.ok) throw new Error(`${target.controlUrl}/fault answered ${response.status}: ${await response.text()}`);
      logger.info({ fault: fault.name, service: faultService }, `fault injected: ${fault.name} on ${faultService}: ${fault.effect}`);
      logger.info({ fault: fault.name, service: faultService }, `the control plane should see it in ${fault.detection}; the cure: ${fault.cure}`);
    } catch (error) {
      logger.error({ fault: fault.name, service: faultService, err: error }, `fault injection failed: ${fault.name} on ${faultService}`);
    }
  };
  let injecting: Promise<void> | undefined;
  const timer = fault
    ? setTimeout(() => {
        injecting = inject();
      }, options.faultAfterSeconds * 1000)
    : undefined;
  if (fault) logger.info({ fault: fault.name, service: faultService }, `in ${options.faultAfterSeconds} s, fault ${fault.name} hits ${faultService}: ${fault.effect}`);

  return {
    agents: running.map(({ service, workUrl, controlUrl }) => ({ service, workUrl, controlUrl })).reverse(),
    stop: async () => {
      stopping = true;
      clearTimeout(timer);
      await injecting;
      await stopAll();
    },
  };
};
