// What the scenario benchmark and e2e/scenarios.test.ts share: the control plane in process on Kafka and
// PostgreSQL with the default playbooks, a webhook pager, one demo fleet per fault (its agents' names
// prefixed, so fleets run side by side), and a wave runner: healthy phase, inject, wait for the story,
// healthy phase after.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Sql } from '@hephaestus/platform';
import { startControlPlane, upConfig, type ControlPlane } from '../../cli/src/control-plane.ts';
import { faults, type FaultName } from '../../cli/src/demo/faults.ts';
import { runDemoFleet, type DemoFleet } from '../../cli/src/demo/fleet.ts';
import { startDemoGitHub } from '../../cli/src/demo/github.ts';
import { baselineMemoryBytes, memoryLimitBytes } from '../../cli/src/demo/simulation.ts';
import { curedBy, storyOf, type BenchEvent, type ScenarioTimes } from './score.ts';

const root = new URL('../../', import.meta.url).pathname;

export type Bench = {
  plane: ControlPlane;
  sql: Sql;
  resolutionSeconds: number;
  warmupBuckets: number;
  /** Firing and resolved notices the pager received. */
  pages: Array<{ atMs: number; status: string; service: string }>;
  /** The playbooks in use, and what was changed in them for this run. */
  playbookNotes: string[];
  /** Control URLs of the running agents, by service (filled as fleets start). */
  agents: Map<string, string>;
  /** Lines from the demo GitHub (CI passed, deploys), for the progress log. */
  githubLines: string[];
  /** The control plane's last 600 log lines (info and above, JSON) when it is otherwise silent. */
  recentLog: string[];
  stop(): Promise<void>;
};

export type BenchOptions = {
  kafkaBrokers: string;
  databaseUrl: string;
  resolutionSeconds: number;
  /** Detector warm-up and history replay, in buckets (HEPH_DETECT_WARMUP_BUCKETS). */
  warmupBuckets: number;
  /**
   * Whether bad deploys are reverted through pull requests on the demo's GitHub stand-in (default); with
   * false, the revert playbook rolls the agent back instead.
   */
  github?: boolean;
};

const startPager = async (pages: Bench['pages']) => {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      try {
        const payload = JSON.parse(body) as { status?: string; incident?: { service?: string } };
        pages.push({ atMs: Date.now(), status: String(payload.status), service: String(payload.incident?.service) });
      } catch {
        pages.push({ atMs: Date.now(), status: 'unreadable', service: '' });
      }
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/alerts`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

/** The repository's playbooks, copied; without GitHub the revert step becomes the agent's own rollback. */
const preparePlaybooks = async (directory: string, github: boolean): Promise<string[]> => {
  await cp(join(root, 'playbooks'), directory, { recursive: true });
  if (github) return ['playbooks as in playbooks/'];
  const file = join(directory, 'bad-deploy-revert.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('action: github.revert', 'action: agent.rollback'));
  return ['playbooks as in playbooks/, except bad-deploy-revert: agent.rollback instead of github.revert (no GitHub fixer in the control plane)'];
};

export const startBench = async (options: BenchOptions): Promise<Bench> => {
  const run = randomBytes(4).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'heph-scenarios-'));
  const playbookDir = join(dir, 'playbooks');
  const withGitHub = options.github ?? true;
  const playbookNotes = await preparePlaybooks(playbookDir, withGitHub);
  const pages: Bench['pages'] = [];
  const pager = await startPager(pages);
  const agents = new Map<string, string>();
  const githubLines: string[] = [];
  // The bad deploy's release commit is tagged in the stand-in; a merged revert is deployed by rolling the agent back.
  const github = withGitHub
    ? await startDemoGitHub({
        services: [`${prefixes['bad-deploy']}${faults['bad-deploy'].defaultService}`],
        deploy: async (service, version) => post(`${agents.get(service)}/rollback`, { version }),
        say: (line) => githubLines.push(line),
      })
    : undefined;
  const config = upConfig.parse({
    ...process.env,
    KAFKA_BROKERS: options.kafkaBrokers,
    DATABASE_URL: options.databaseUrl,
    HEPH_DATA_DIR: join(dir, 'data'),
    HEPH_PLAYBOOKS_DIR: playbookDir,
    HEPH_INGEST_PORT: '0',
    HEPH_CONSOLE_PORT: '0',
    HEPH_RESOLUTION_SECONDS: String(options.resolutionSeconds),
    HEPH_DETECT_GRACE_SECONDS: options.resolutionSeconds >= 10 ? '2' : '1',
    HEPH_DETECT_WARMUP_BUCKETS: String(options.warmupBuckets),
    HEPH_ALERT_WEBHOOK_URL: pager.url,
    // Topics of this run's own: it reads neither earlier runs' fleets (their leaks and faults are still
    // in Kafka) nor a test running beside it.
    HEPH_CONSUMER_GROUP_PREFIX: `scenarios-${run}`,
    HEPH_KAFKA_TOPIC_PREFIX: `scenarios-${run}.`,
    HEPH_AGENT_CONTROL_TOKEN: undefined,
    HEPH_INGEST_TOKENS: undefined,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    ...github?.env,
  });
  // Silent by default, but the control plane's last info lines are kept: a story that times out prints
  // what the control plane was saying meanwhile (a run under load that stalls says why).
  const recentLog: string[] = [];
  const logger =
    config.LOG_LEVEL === 'silent'
      ? createLogger({ level: 'info', destination: { write: (line: string) => void (recentLog.push(line.trimEnd()) > 600 && recentLog.splice(0, recentLog.length - 600)) } })
      : createLogger({ level: config.LOG_LEVEL });
  const plane = await startControlPlane(config, logger);
  github?.deliverTo(plane.consoleUrl);
  return {
    plane,
    sql: plane.runtime.db.sql,
    resolutionSeconds: options.resolutionSeconds,
    warmupBuckets: options.warmupBuckets,
    pages,
    playbookNotes,
    agents,
    githubLines,
    recentLog,
    stop: async () => {
      await plane.stop();
      await github?.close();
      await pager.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

/** The events read so far from each database, and where the next read starts. */
const eventsRead = new WeakMap<Sql, { events: BenchEvent[]; after: string; reading: Promise<void> }>();

/**
 * Every event of the run, oldest first. Each call reads only the events appended since the last (appends
 * commit in position order): the stories poll every 2 s beside the control plane they watch, in its
 * process, and reading the whole store each time took CPU from it on a loaded machine.
 */
export const readEvents = async (sql: Sql): Promise<BenchEvent[]> => {
  let read = eventsRead.get(sql);
  if (!read) eventsRead.set(sql, (read = { events: [], after: '0', reading: Promise.resolve() }));
  const state = read;
  const next = state.reading.then(async () => {
    // Ordered by the column, a number: ordered by a text alias of the same name, '9' came after '12', the
    // next read started from 9 again, and the stories counted events 10 to 12 twice (one restart as two).
    const rows = await sql<{ at: string; type: string; occurred_at: Date; data: Record<string, any> }[]>`
      SELECT position::text AS at, type, occurred_at, data FROM events WHERE position > ${state.after} ORDER BY events.position`;
    for (const r of rows) state.events.push({ type: r.type, occurredAtMs: r.occurred_at.getTime(), data: r.data, position: r.at });
    if (rows.length > 0) state.after = rows.at(-1)!.at;
  });
  // One read at a time, each after the last; a failed read leaves the next to try again.
  state.reading = next.catch(() => {});
  await next;
  return state.events.slice();
};

export type WavePlan = {
  faults: FaultName[];
  /** Healthy phase before the first fault (default: warm-up plus 5 buckets). */
  healthyBeforeMs?: number;
  /** Between two faults' onsets, so their stories do not share a correlation window. */
  staggerMs: number;
  /** Give up waiting for a story after this long (per fault; default 4 minutes, the slow faults longer). */
  storyTimeoutMs?: Partial<Record<FaultName, number>>;
  /** Healthy phase after each story. */
  healthyAfterMs: number;
  rate: number;
  /** A progress line. */
  say: (line: string) => void;
};

const prefixes: Record<FaultName, string> = {
  'error-burst': 'eb-',
  'latency-spike': 'ls-',
  'memory-leak': 'ml-',
  'spend-runaway': 'sr-',
  'provider-outage': 'po-',
  'bad-deploy': 'bd-',
  'latency-creep': 'lc-',
};

const defaultStoryTimeoutMs: Record<FaultName, number> = {
  'error-burst': 240_000,
  'latency-spike': 240_000,
  'memory-leak': 600_000,
  'spend-runaway': 240_000,
  'provider-outage': 240_000,
  'bad-deploy': 300_000,
  'latency-creep': 480_000,
};

const quietLogger = { info: () => {}, warn: () => {}, error: (fields: Record<string, unknown>, message: string) => console.error(`fleet: ${message}`) };

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
};

/** The story is over once a remediation on the target is validated, or every remediation on the fleet since the onset ended without it. */
const storyOver = (events: BenchEvent[], prefix: string, target: string, onsetAtMs: number, cures: string[]): boolean => {
  const started = events.filter((e) => e.type === 'remediation.started' && e.occurredAtMs >= onsetAtMs && String(e.data.service).startsWith(prefix) && !e.data.dryRun);
  if (started.length === 0) return false;
  const ids = new Map(started.map((e) => [e.data.remediationId as string, e.data.service as string]));
  const ended = new Set(
    events.filter((e) => ['remediation.validated', 'remediation.failed', 'remediation.escalated', 'remediation.rejected'].includes(e.type) && ids.has(e.data.remediationId)).map((e) => e.data.remediationId as string),
  );
  const cure = new Set(started.filter((e) => e.data.service === target && cures.includes(e.data.playbookId)).map((e) => e.data.remediationId as string));
  const validatedOnTarget = events.some((e) => e.type === 'remediation.validated' && cure.has(e.data.remediationId));
  return validatedOnTarget || [...ids.keys()].every((id) => ended.has(id));
};

const leakLimitAfterMs = ((memoryLimitBytes - baselineMemoryBytes) / (0.01 * memoryLimitBytes)) * 10_000;

/** One demo fleet of four agents named with `prefix`, exporting to the bench's control plane. */
const startFleet = (bench: Bench, prefix: string, rate: number) =>
  runDemoFleet({ ingestUrl: bench.plane.ingestUrl, logger: quietLogger, faultAfterSeconds: 0, rate, metricIntervalSeconds: Math.max(1, bench.resolutionSeconds / 2), namePrefix: prefix });

/** Runs one wave: a fleet per fault, side by side; each fault injected in turn; returns each scenario's timings. */
export const runWave = async (bench: Bench, plan: WavePlan): Promise<ScenarioTimes[]> => {
  const resolutionMs = bench.resolutionSeconds * 1000;
  const fleets: Array<{ fault: FaultName; prefix: string; fleet: DemoFleet; startedAtMs: number }> = [];
  try {
    for (const fault of plan.faults) {
      const prefix = prefixes[fault];
      const fleet = await startFleet(bench, prefix, plan.rate);
      fleets.push({ fault, prefix, fleet, startedAtMs: Date.now() });
      for (const agent of fleet.agents) bench.agents.set(agent.service, agent.controlUrl);
      plan.say(`fleet ${fleet.agents.map((a) => a.service).join(' → ')} up for ${fault}`);
    }
    const healthyBeforeMs = plan.healthyBeforeMs ?? (bench.warmupBuckets + 5) * resolutionMs;
    plan.say(`healthy phase: ${Math.round(healthyBeforeMs / 1000)} s (detectors learn for ${bench.warmupBuckets} intervals of ${bench.resolutionSeconds} s)`);
    await sleep(healthyBeforeMs);
    const early = (await readEvents(bench.sql)).filter((e) => e.type === 'incident.opened');
    for (const e of early) plan.say(`healthy phase: incident.opened ${e.data.service} ${e.data.signal} (${e.data.summary})`);

    const running = fleets.map(async ({ fault, prefix, fleet, startedAtMs }, i) => {
      await sleep(i * plan.staggerMs);
      const target = `${prefix}${faults[fault].defaultService}`;
      const agent = fleet.agents.find((a) => a.service === target)!;
      const onsetAtMs = Date.now();
      await post(`${agent.controlUrl}/fault`, { name: fault });
      plan.say(`${fault}: injected into ${target}`);
      const timeoutMs = plan.storyTimeoutMs?.[fault] ?? defaultStoryTimeoutMs[fault];
      const seen = new Set<string>();
      let over = false;
      while (!over && Date.now() - onsetAtMs < timeoutMs) {
        await sleep(2_000);
        while (bench.githubLines.length > 0) plan.say(bench.githubLines.shift()!);
        const all = await readEvents(bench.sql);
        // Events that name no service belong to a remediation or an incident that does.
        const ours = new Map([
          ...all.filter((e) => e.type === 'remediation.started' && String(e.data.service).startsWith(prefix)).map((e) => [e.data.remediationId, e.data.service] as const),
          ...all.filter((e) => e.type === 'incident.opened' && String(e.data.service).startsWith(prefix)).map((e) => [e.data.incidentId, e.data.service] as const),
        ]);
        const serviceOf = (e: BenchEvent) => e.data.service ?? ours.get(e.data.remediationId) ?? (e.type.startsWith('incident.') ? ours.get(e.data.incidentId) : undefined);
        const events = all.filter((e) => e.occurredAtMs >= onsetAtMs - resolutionMs && String(serviceOf(e) ?? '').startsWith(prefix));
        for (const e of events) {
          // Each event once (two remediations alike are two lines), naming its incident or remediation.
          if (seen.has(e.position!)) continue;
          seen.add(e.position!);
          const id = String(e.data.remediationId ?? e.data.incidentId ?? '').slice(0, 8);
          const line = `${e.type}${id ? ` [${id}]` : ''} ${serviceOf(e)}${e.data.signal ? ` ${e.data.signal}` : ''}${e.data.playbookId ? ` ${e.data.playbookId}` : ''}${e.data.reason ? `: ${e.data.reason}` : ''}`;
          plan.say(`${fault}: +${Math.round((e.occurredAtMs - onsetAtMs) / 1000)} s ${line}`);
        }
        over = storyOver(all, prefix, target, onsetAtMs, curedBy[fault]);
      }
      const storyEndAtMs = Date.now();
      const all = await readEvents(bench.sql);
      const cured = storyOf({ fault, prefix, target, startedAtMs, onsetAtMs, storyEndAtMs, endedAtMs: storyEndAtMs }, all).validated;
      if (!cured) {
        // A human's fix, so the phase after is healthy again.
        await post(`${agent.controlUrl}/clear`, {});
        plan.say(`${fault}: ${over ? 'not cured by the healer' : `no story within ${Math.round(timeoutMs / 1000)} s`}; fault cleared by hand`);
        // What the control plane said meanwhile: its warnings and errors, and its lines about this fleet.
        const said = bench.recentLog.filter((line) => line.includes(prefix) || /"level":(40|50|60)/.test(line)).slice(-40);
        plan.say(`${fault}: the control plane's last ${said.length} lines about ${prefix}* or at warn and above:\n${said.map((l) => `  ${l.slice(0, 400)}`).join('\n')}`);
      } else plan.say(`${fault}: cured and validated after ${Math.round((storyEndAtMs - onsetAtMs) / 1000)} s`);
      await sleep(plan.healthyAfterMs);
      // What the control plane decided about this fleet once the story was over: should be nothing new.
      const after = await readEvents(bench.sql);
      const afterOurs = new Map(after.filter((e) => (e.type === 'incident.opened' || e.type === 'remediation.started') && String(e.data.service).startsWith(prefix)).map((e) => [e.data.incidentId ?? e.data.remediationId, e.data.service] as const));
      for (const e of after.filter((e) => e.occurredAtMs > storyEndAtMs && /^(incident\.(opened|signal_attached|root_cause_ranked|reopened)|remediation\.started)$/.test(e.type))) {
        const service = e.data.service ?? afterOurs.get(e.data.incidentId) ?? afterOurs.get(e.data.remediationId);
        if (!String(service ?? '').startsWith(prefix)) continue;
        plan.say(`${fault}: after the story, +${Math.round((e.occurredAtMs - onsetAtMs) / 1000)} s ${e.type} ${service}${e.data.signal ? ` ${e.data.signal}` : ''}${e.data.playbookId ? ` ${e.data.playbookId}` : ''}${e.data.reason ? `: ${e.data.reason}` : ''}${e.type === 'incident.root_cause_ranked' ? `: ${JSON.stringify(e.data.candidates?.slice(0, 2))}` : ''}`);
      }
      return {
        fault,
        prefix,
        target,
        startedAtMs: startedAtMs + bench.warmupBuckets * resolutionMs,
        onsetAtMs,
        storyEndAtMs,
        endedAtMs: Date.now(),
        ...(fault === 'memory-leak' ? { limitAtMs: onsetAtMs + leakLimitAfterMs } : {}),
      } satisfies ScenarioTimes;
    });
    return await Promise.all(running);
  } finally {
    for (const { fleet } of fleets) await fleet.stop();
  }
};

/**
 * The fleets of these faults' scenarios, healthy for `healthyMs` after the detectors' warm-up: what a
 * healthy fleet costs the on-call engineer (incidents opened, pages, actions), which should be nothing.
 */
export const runHealthy = async (bench: Bench, plan: { faults: FaultName[]; healthyMs: number; rate: number; say: (line: string) => void }) => {
  const resolutionMs = bench.resolutionSeconds * 1000;
  const fleets: DemoFleet[] = [];
  try {
    for (const fault of plan.faults) {
      const fleet = await startFleet(bench, prefixes[fault], plan.rate);
      fleets.push(fleet);
      for (const agent of fleet.agents) bench.agents.set(agent.service, agent.controlUrl);
    }
    const warmupMs = (bench.warmupBuckets + 5) * resolutionMs;
    plan.say(`${fleets.length} healthy fleets up; the detectors learn for ${Math.round(warmupMs / 1000)} s, then ${Math.round(plan.healthyMs / 60_000)} min are judged`);
    await sleep(warmupMs);
    const fromMs = Date.now();
    for (let left = plan.healthyMs; left > 0; left -= 60_000) {
      await sleep(Math.min(60_000, left));
      const opened = (await readEvents(bench.sql)).filter((e) => e.type === 'incident.opened' && e.occurredAtMs >= fromMs);
      plan.say(`${Math.round((Date.now() - fromMs) / 60_000)} min healthy: ${opened.length} incidents opened${opened.map((e) => `; ${e.data.service} ${e.data.signal}: ${e.data.summary}`).join('')}`);
    }
    const events = (await readEvents(bench.sql)).filter((e) => e.occurredAtMs >= fromMs);
    return {
      fleets: fleets.length,
      agents: fleets.length * 4,
      minutes: plan.healthyMs / 60_000,
      incidents: events.filter((e) => e.type === 'incident.opened').length,
      pages: events.filter((e) => e.type === 'alert.sent' && e.data.notice === 'firing').length,
      actions: events.filter((e) => e.type === 'remediation.started' && !e.data.dryRun).length,
    };
  } finally {
    for (const fleet of fleets) await fleet.stop();
  }
};

