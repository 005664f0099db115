// `heph backtest`: replays the telemetry stored in the log (Kafka's otel.* topics, or the embedded
// log) through the current detectors, incident policy, alert routing and playbook matching, on the
// telemetry's own time and without acting, then prints the incidents, pages and would-be actions.
// A scratch database holds the replay; the control plane's own state is only read.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { startAnalyzer } from '@hephaestus/analyzer';
import { ConfigError, createLogger, loadConfig, loadCosts, loadPlaybooks, newRegistry, openDatabase, openRuntime, randomId, type Log, type Sql } from '@hephaestus/platform';
import type { EventDataOf, NewEvent, Playbook, Routing } from '@hephaestus/schemas';
import { loadRouting } from '../../services/analyzer/src/adapters/alert-dispatcher.ts';
import { logKey, schedule, type AlertIncident, type NotificationLogEntry } from '../../services/analyzer/src/domain/routing.ts';
import { foldEvidence } from '../../services/healer/src/domain/evidence.ts';
import { choosePlaybook } from '../../services/healer/src/domain/match.ts';
import { policyOptions } from '@hephaestus/analyzer';
import { upConfig } from './control-plane.ts';

export const backtestUsage = `usage: heph backtest [--from TIME] [--to TIME] [--playbooks DIR] [--idle-seconds N] [--json]

Replays the telemetry stored in the log through the current detectors, incident policy, alert
routing and playbook matching, without acting: nothing is sent to a receiver, an agent or GitHub,
and the control plane's own database is not written (the replay runs in a scratch database that is
deleted at the end). Time is the telemetry's own, so the same telemetry always gives the same
incidents, pages and actions, however fast the machine replays it. Use it to tune the policy
(HEPH_SIGNALS_FILE, HEPH_OBJECTIVES_FILE, HEPH_DETECTORS…) or to check a new playbook before you
enable it.

The log is Kafka's otel.spans, otel.metrics and otel.logs when KAFKA_BROKERS is set (read from the
beginning by a consumer group of its own, heph-backtest-<random>), else the embedded log under
HEPH_DATA_DIR (stop 'heph up' first: the embedded database serves one process). Everything before
--from teaches the detectors; what the policy decides from --from to --to is reported. The replay
ends once the telemetry passed --to, or when the log has nothing more for --idle-seconds.

options:
  --from TIME          report from this time on (ISO 8601, e.g. 2026-12-02T08:00:00Z; default: the start)
  --to TIME            report up to this time (default: the end of the stored telemetry)
  --playbooks DIR      the playbooks to match (default HEPH_PLAYBOOKS_DIR, ./playbooks)
  --idle-seconds N     the log is done when it delivers nothing for this long (default 3)
  --json               print one JSON document instead of text
  -h, --help           show this help

Progress goes to stderr every 2 s. Exit codes: 0 done, 1 the log or a file could not be read, 2 bad options.`;

export type BacktestIo = { stdout: Writable; stderr: Writable };

export type BacktestIncident = {
  id: string;
  service: string;
  signal: string;
  severity: string;
  summary: string;
  reason?: string;
  openedAt: string;
  resolvedAt?: string;
  reopened: number;
  signals: string[];
  rootCause?: { service: string; confidence: number; evidence: string[] };
  pages: Array<{ at: string; receiver: string }>;
  action: { playbook: string; target: string; why: string } | { playbook: undefined; why: string } | undefined;
};

export type BacktestReport = {
  records: number;
  deadLetters: number;
  telemetryFrom?: string;
  telemetryTo?: string;
  incidents: BacktestIncident[];
  pages: number;
  actions: number;
};

const parseTime = (text: string | undefined, name: string): number | undefined => {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new OptionError(`--${name} '${text}' is not a time (ISO 8601, e.g. 2026-12-02T08:00:00Z)`);
  return t;
};

class OptionError extends Error {
  readonly code = 'HEPH_BACKTEST_OPTION';
}

/** Reads the replay's outcome from the scratch event store. */
type Stored = NewEvent & { occurredAt: string };

/**
 * The pages the alert routing would send, on the events' own time: the routing's pure scheduler
 * (grouping, group_wait, group_interval, repeat_interval, inhibition) driven through the incident
 * events in order. Silences are not replayed.
 */
export const pagesOf = (routing: Routing, events: Stored[]): Map<string, Array<{ at: string; receiver: string }>> => {
  const incidents = new Map<string, AlertIncident>();
  const log = new Map<string, NotificationLogEntry>();
  const pages = new Map<string, Array<{ at: string; receiver: string }>>();
  const step = (nowMs: number): number | undefined => {
    const due = schedule({ routing, incidents: [...incidents.values()], silences: [], log, nowMs });
    for (const n of due.due) {
      const ids = (state: string) => n.incidents.filter((i) => i.state === state).map((i) => i.incident.id);
      log.set(logKey(n, n.groupKey), { sentAtMs: nowMs, firing: ids('firing'), acknowledged: ids('acknowledged'), resolved: ids('resolved') });
      if (n.notice !== 'firing') continue;
      for (const id of ids('firing')) pages.set(id, [...(pages.get(id) ?? []), { at: new Date(nowMs).toISOString(), receiver: n.receiver }]);
    }
    return due.nextWakeAtMs;
  };
  const sorted = [...events].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
  let wake: number | undefined;
  for (const event of sorted) {
    const atMs = Date.parse(event.occurredAt);
    while (wake !== undefined && wake < atMs) wake = step(wake);
    const id = (event.data as { incidentId: string }).incidentId;
    const known = incidents.get(id);
    if (event.type === 'incident.opened') {
      const d = event.data as EventDataOf<'incident.opened'>;
      incidents.set(id, { id, version: 1, labels: d.labels ?? { alertname: d.signal, service: d.service, signal: d.signal, severity: d.severity }, status: 'firing', acknowledged: false, firingSinceMs: atMs });
    } else if (known && event.type === 'incident.resolved') incidents.set(id, { ...known, status: 'resolved', resolvedAtMs: atMs });
    else if (known && event.type === 'incident.reopened') incidents.set(id, { ...known, status: 'firing', firingSinceMs: atMs, resolvedAtMs: undefined, acknowledged: false });
    else continue;
    wake = step(atMs);
  }
  while (wake !== undefined) wake = step(wake);
  return pages;
};

const report = async (sql: Sql, routing: Routing, playbooks: Playbook[], fromMs: number, toMs: number, counts: { records: number; deadLetters: number; firstMs?: number; lastMs?: number }): Promise<BacktestReport> => {
  const rows = await sql<{ stream_id: string; version: number; type: string; data: Record<string, unknown>; occurred_at: Date }[]>`
    SELECT stream_id, version, type, data, occurred_at FROM events WHERE stream_id LIKE 'incident-%' ORDER BY position`;
  const streams = new Map<string, Stored[]>();
  for (const row of rows) {
    streams.set(row.stream_id, [...(streams.get(row.stream_id) ?? []), { type: row.type, data: row.data, occurredAt: row.occurred_at.toISOString() } as unknown as Stored]);
  }
  const pages = pagesOf(routing, [...streams.values()].flat());
  const incidents: BacktestIncident[] = [];
  for (const events of streams.values()) {
    const opened = events.find((e) => e.type === 'incident.opened');
    if (!opened) continue;
    const d = opened.data as EventDataOf<'incident.opened'>;
    const openedAtMs = Date.parse(opened.occurredAt);
    if (openedAtMs < fromMs || openedAtMs > toMs) continue;
    const settledAt = events.findIndex((e) => e.type === 'incident.root_cause_ranked' && (e.data as EventDataOf<'incident.root_cause_ranked'>).settled);
    const ranking = events.filter((e) => e.type === 'incident.root_cause_ranked').at(-1)?.data as EventDataOf<'incident.root_cause_ranked'> | undefined;
    // The healer decides on the evidence up to the settled ranking, as it would live.
    const evidence = settledAt >= 0 ? foldEvidence(events.slice(0, settledAt + 1)) : undefined;
    const choice = evidence ? choosePlaybook(playbooks, evidence) : undefined;
    incidents.push({
      id: d.incidentId,
      service: d.service,
      signal: d.signal,
      severity: (events.filter((e) => e.type === 'incident.severity_changed').at(-1)?.data as EventDataOf<'incident.severity_changed'> | undefined)?.to ?? d.severity,
      summary: d.summary,
      reason: d.reason,
      openedAt: opened.occurredAt,
      resolvedAt: events.filter((e) => e.type === 'incident.resolved').at(-1)?.occurredAt,
      reopened: events.filter((e) => e.type === 'incident.reopened').length,
      signals: [`${d.service} ${d.signal}`, ...events.filter((e) => e.type === 'incident.signal_attached').map((e) => `${(e.data as EventDataOf<'incident.signal_attached'>).service} ${(e.data as EventDataOf<'incident.signal_attached'>).signal}`)],
      rootCause: ranking?.candidates[0],
      pages: pages.get(d.incidentId) ?? [],
      action: choice === undefined ? undefined : choice.chosen ? { playbook: choice.chosen.playbook.id, target: choice.chosen.target.service, why: choice.explanation } : { playbook: undefined, why: choice.explanation },
    });
  }
  incidents.sort((a, b) => a.openedAt.localeCompare(b.openedAt) || a.id.localeCompare(b.id));
  return {
    records: counts.records,
    deadLetters: counts.deadLetters,
    telemetryFrom: counts.firstMs === undefined ? undefined : new Date(counts.firstMs).toISOString(),
    telemetryTo: counts.lastMs === undefined ? undefined : new Date(counts.lastMs).toISOString(),
    incidents,
    pages: incidents.reduce((n, i) => n + i.pages.length, 0),
    actions: incidents.filter((i) => i.action?.playbook !== undefined).length,
  };
};

const time = (iso: string) => iso.slice(11, 19);

export const formatReport = (r: BacktestReport): string => {
  const lines = [
    `replayed ${r.records.toLocaleString('en-US')} records${r.telemetryFrom ? ` of telemetry from ${r.telemetryFrom} to ${r.telemetryTo}` : ''}${r.deadLetters ? ` (${r.deadLetters} unreadable, left out)` : ''}`,
    `${r.incidents.length} incident${r.incidents.length === 1 ? '' : 's'}, ${r.pages} page${r.pages === 1 ? '' : 's'}, ${r.actions} would-be action${r.actions === 1 ? '' : 's'}`,
  ];
  for (const i of r.incidents) {
    lines.push('', `${time(i.openedAt)}  ${i.severity.padEnd(8)} ${i.service} ${i.signal}: ${i.summary}`);
    if (i.reason) lines.push(`          opened because: ${i.reason}`);
    lines.push(`          signals: ${i.signals.join(', ')}`);
    if (i.rootCause) lines.push(`          root cause: ${i.rootCause.service} (${i.rootCause.confidence.toFixed(2)}): ${i.rootCause.evidence.join('; ')}`);
    lines.push(`          pages: ${i.pages.length === 0 ? 'none' : i.pages.map((p) => `${time(p.at)} to ${p.receiver}`).join(', ')}`);
    if (i.action === undefined) lines.push('          action: none (no settled ranking yet)');
    else if (i.action.playbook) lines.push(`          would run ${i.action.playbook} on ${i.action.target}: ${i.action.why}`);
    else lines.push(`          no action: ${i.action.why}`);
    lines.push(`          ${i.resolvedAt ? `resolved ${time(i.resolvedAt)}` : 'still open at the end'}${i.reopened ? `, reopened ${i.reopened}×` : ''}`);
  }
  return lines.join('\n');
};

export const runBacktest = async (argv: string[], io: BacktestIo, env: Record<string, string | undefined> = process.env): Promise<number> => {
  let values: Record<string, string | boolean | undefined>;
  let fromMs: number;
  let toMs: number;
  let idleMs: number;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { from: { type: 'string' }, to: { type: 'string' }, playbooks: { type: 'string' }, 'idle-seconds': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
    if (values.help) {
      io.stdout.write(`${backtestUsage}\n`);
      return 0;
    }
    fromMs = parseTime(values.from as string | undefined, 'from') ?? Number.NEGATIVE_INFINITY;
    toMs = parseTime(values.to as string | undefined, 'to') ?? Number.POSITIVE_INFINITY;
    idleMs = Number(values['idle-seconds'] ?? 3) * 1000;
    if (!(idleMs > 0)) throw new OptionError(`--idle-seconds '${values['idle-seconds']}' is not a positive number`);
  } catch (error) {
    io.stderr.write(`heph backtest: ${error instanceof Error ? error.message : String(error)}\n\n${backtestUsage}\n`);
    return 2;
  }

  let config;
  try {
    config = loadConfig(upConfig, env);
  } catch (error) {
    io.stderr.write(`heph backtest: ${error instanceof ConfigError ? error.message : String(error)}\n`);
    return 2;
  }
  const logger = createLogger({ level: env.LOG_LEVEL ?? 'silent' });
  const say = (line: string) => io.stderr.write(`backtest: ${line}\n`);
  const { playbooks, errors } = await loadPlaybooks((values.playbooks as string | undefined) ?? config.HEPH_PLAYBOOKS_DIR);
  for (const e of errors) say(`playbook refused: ${e.file}:${e.line}: ${e.reason}`);

  const source = await openRuntime(config, logger, 'heph-backtest');
  const scratchDir = await mkdtemp(join(tmpdir(), 'heph-backtest-'));
  const scratch = await openDatabase({ dataDir: scratchDir, log: logger });
  const counts = { records: 0, deadLetters: 0, firstMs: undefined as number | undefined, lastMs: undefined as number | undefined };
  /** When the log last delivered or the analyzer last finished a batch, and how many batches are in hand: idle means neither for --idle-seconds. */
  let lastDeliveryMs = Date.now();
  let handling = 0;
  // The analyzer reads the source log through a group of its own; what it would dead-letter is counted, not written.
  const replayLog: Log = {
    kind: source.log.kind,
    ensureTopics: async () => {},
    send: async (_topic, records) => {
      counts.deadLetters += records.length;
    },
    subscribe: (options) =>
      source.log.subscribe({
        ...options,
        groupId: `heph-backtest-${randomId()}`,
        handle: async (batch) => {
          counts.records += batch.records.length;
          lastDeliveryMs = Date.now();
          handling++;
          try {
            await options.handle(batch);
          } finally {
            handling--;
            lastDeliveryMs = Date.now();
          }
        },
      }),
    ready: source.log.ready,
    lag: source.log.lag,
    committed: source.log.committed,
    close: async () => {},
  };
  // Pages are computed from the routing on the events' own time (pagesOf); the analyzer's own
  // dispatcher only logs, so nobody is paged.
  const routing = await loadRouting(config.HEPH_ROUTING_FILE, { webhookUrl: config.HEPH_ALERT_WEBHOOK_URL });
  const quietRouting = { ...routing, receivers: routing.receivers.map((r) => ({ name: r.name, log: {} })) };

  let analyzer: Awaited<ReturnType<typeof startAnalyzer>> | undefined;
  try {
    analyzer = await startAnalyzer({
      sql: scratch.sql,
      log: replayLog,
      logger,
      registry: newRegistry(),
      resolutionSeconds: config.HEPH_RESOLUTION_SECONDS,
      graceSeconds: config.HEPH_DETECT_GRACE_SECONDS,
      consumerGroupPrefix: 'heph-backtest',
      costs: await loadCosts(config.HEPH_COSTS_FILE),
      limits: config.HEPH_LIMITS,
      warmupBuckets: config.HEPH_DETECT_WARMUP_BUCKETS,
      detectors: config.HEPH_DETECTORS,
      routing: quietRouting,
      consoleUrl: config.HEPH_CONSOLE_URL,
      replay: true,
      now: () => analyzer?.eventTimeMs() ?? 0,
      ...(await policyOptions(config)),
    });
    say(`replaying ${source.log.kind === 'kafka' ? "Kafka's" : "the embedded log's"} otel.spans, otel.metrics and otel.logs`);
    const startedAt = Date.now();
    let lastProgress = startedAt;
    const graceMs = config.HEPH_DETECT_GRACE_SECONDS * 1000;
    const resolutionMs = config.HEPH_RESOLUTION_SECONDS * 1000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const eventTime = analyzer.eventTimeMs();
      if (eventTime > 0) {
        counts.firstMs ??= eventTime;
        counts.lastMs = eventTime;
      }
      if (Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        say(`${counts.records.toLocaleString('en-US')} records, telemetry up to ${eventTime > 0 ? new Date(eventTime).toISOString() : '–'}`);
      }
      if (eventTime > toMs + graceMs + 2 * resolutionMs) break;
      // A batch the analyzer is still applying is not idleness (a slow machine, a large batch).
      if (handling === 0 && Date.now() - lastDeliveryMs >= idleMs) break;
    }
    // Judge the last intervals, then give the alert routing its moment to page.
    const end = analyzer.eventTimeMs();
    if (end > 0) await analyzer.judgeUntil(end + graceMs + resolutionMs);
    const result = await report(scratch.sql, routing, playbooks, fromMs, toMs, counts);
    say(`done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatReport(result)}\n`);
    return 0;
  } catch (error) {
    io.stderr.write(`heph backtest: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await analyzer?.stop();
    await scratch.close();
    await source.close();
    await rm(scratchDir, { recursive: true, force: true });
  }
};
