// Alert delivery: load the routing file → follow the event store from a checkpoint → route, group and
// mute (domain/routing.ts) → deliver each due notification, one queue per receiver integration with
// retries (exponential backoff, jitter) and a circuit breaker → record it as `alert.sent` events whose
// ids derive from the notification, so a restart neither loses nor repeats one. A remediation the healer
// escalated (`remediation.escalated`) pages once, through the same routes as its incident.
import { readFile } from 'node:fs/promises';
import pRetry from 'p-retry';
import { Counter, Gauge, type Registry } from 'prom-client';
import { unendedSilences } from '@hephaestus/aggregates';
import { appendToStream, deterministicId, readAll, readCheckpoint, readStream, sleeper, storeCheckpoint, type Logger, type Sql } from '@hephaestus/platform';
import {
  defaultRouting,
  integrationsOf,
  resolveRouting,
  routingFile,
  silence,
  type EventDataOf,
  type IntegrationKind,
  type Routing,
  type Silence,
  type StoredEvent,
} from '@hephaestus/schemas';
import { groupLabelsOf, logKey, matchRoutes, schedule, type Notification, type NotificationLogEntry } from '../domain/routing.ts';
import { createSenders, DeliveryError, targetKey, type AlertedIncident, type Send } from './receivers/index.ts';
import { parseYamlFile, type YamlFileError } from './yaml-file.ts';

// load: the routing file, refused with its line and reason.

export type RoutingError = YamlFileError;

export class RoutingFileError extends Error {
  readonly code = 'ROUTING_FILE_INVALID';
  readonly detail: RoutingError;
  constructor(detail: RoutingError) {
    super(`${detail.file}:${detail.line}: ${detail.reason}`);
    this.detail = detail;
  }
}

export const parseRouting = (file: string, text: string): { ok: true; routing: Routing } | { ok: false; error: RoutingError } => {
  const parsed = parseYamlFile(file, text, routingFile);
  return parsed.ok ? { ok: true, routing: resolveRouting(parsed.value) } : parsed;
};

/** The routing in `file`; without a file, the default (HEPH_ALERT_WEBHOOK_URL's webhook, else the log). */
export const loadRouting = async (file: string | undefined, defaults: { webhookUrl?: string } = {}): Promise<Routing> => {
  if (!file) return defaultRouting(defaults.webhookUrl);
  const result = parseRouting(file, await readFile(file, 'utf8'));
  if (!result.ok) throw new RoutingFileError(result.error);
  return result.routing;
};

// follow: the incidents that may still need a notice, folded from their events.

type Tracked = AlertedIncident & { openedPosition: bigint; lastEventId: string };

const fromOpened = (event: StoredEvent): Tracked => {
  const d = event.data as EventDataOf<'incident.opened'>;
  return {
    id: d.incidentId,
    version: event.version,
    labels: d.labels ?? { alertname: d.signal, service: d.service, signal: d.signal, severity: d.severity },
    status: 'firing',
    acknowledged: false,
    firingSinceMs: Date.parse(event.occurredAt),
    service: d.service,
    signal: d.signal,
    severity: d.severity,
    summary: d.summary,
    value: d.value,
    baseline: d.baseline,
    calls: d.calls,
    errors: d.errors,
    windowStart: d.windowStart,
    startsAt: d.windowStart,
    traceIds: d.traceIds,
    explanation: d.explanation,
    pagedBecause: d.reason,
    openedPosition: event.position,
    lastEventId: event.id,
  };
};

const evolve = (incident: Tracked, event: StoredEvent): Tracked => {
  const next = { ...incident, version: event.version, lastEventId: event.id };
  const atMs = Date.parse(event.occurredAt);
  switch (event.type) {
    case 'incident.acknowledged':
      return { ...next, acknowledged: true, acknowledgedAtMs: atMs, acknowledgedBy: (event.data as EventDataOf<'incident.acknowledged'>).by };
    case 'incident.resolved':
      return { ...next, status: 'resolved', resolvedAtMs: atMs, resolvedAt: event.occurredAt };
    case 'incident.reopened':
      return { ...next, status: 'firing', firingSinceMs: atMs, startsAt: event.occurredAt, resolvedAtMs: undefined, resolvedAt: undefined, acknowledged: false, acknowledgedAtMs: undefined, acknowledgedBy: undefined };
    case 'incident.severity_changed': {
      const to = (event.data as EventDataOf<'incident.severity_changed'>).to;
      return { ...next, severity: to, labels: { ...next.labels, severity: to } };
    }
    case 'incident.signal_attached': {
      const traceIds = (event.data as EventDataOf<'incident.signal_attached'>).traceIds ?? [];
      return traceIds.length > 0 ? { ...next, traceIds: [...new Set([...(next.traceIds ?? []), ...traceIds])] } : next;
    }
    default:
      return next;
  }
};

// deliver: one queue and one circuit breaker per receiver integration.

type Delivery = Notification<Tracked> & { id: string };

/** The notification's identity, and so its idempotency key: the same after a restart, new for every later notice. */
const notificationId = (n: Notification<Tracked>) =>
  deterministicId('alert', n.receiver, n.kind, n.groupKey, n.notice, n.previousSentAtMs ?? 'first', ...n.incidents.map((i) => `${i.incident.id}@${i.incident.version}:${i.state}`).sort());

type Breaker = { state: 'closed' | 'open' | 'half-open'; failures: number; openUntilMs: number };

export type AlertDispatcherOptions = {
  sql: Sql;
  logger: Logger;
  routing: Routing;
  /** Base of the incident links in notifications. */
  consoleUrl: string;
  /** Where the secrets named in the routing (secretEnv, routingKeyEnv) are read; main passes process.env. */
  env?: Record<string, string | undefined>;
  /** The scheduling clock (group timers, silences). */
  now?: () => number;
  /** True when the incident is a downstream symptom of an open root cause: it is then muted, like an inhibited one. */
  isDownstreamSymptom?: (incident: AlertedIncident, open: AlertedIncident[]) => boolean | Promise<boolean>;
  registry?: Registry;
  /** How often it looks at the events when no append wakes it (and no group timer is due sooner). */
  pollMs?: number;
  /** Subscribes to appends to the event store (platform's onEventsAppended): a page goes out as its event commits. */
  onAppended?: (wake: () => void) => Promise<() => Promise<void>>;
  /** Per HTTP request. */
  timeoutMs?: number;
  retry?: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  /** Consecutive failed attempts that open a receiver's circuit, and how long it stays open before one trial. */
  breaker?: { failureThreshold: number; coolDownMs: number };
  checkpointName?: string;
};

export const startAlertDispatcher = (options: AlertDispatcherOptions) => {
  const { sql, logger, routing } = options;
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retry = options.retry ?? { retries: 4, minTimeoutMs: 500, maxTimeoutMs: 30_000 };
  const breakerSettings = options.breaker ?? { failureThreshold: 5, coolDownMs: 60_000 };
  const checkpointName = options.checkpointName ?? 'alert-dispatcher';
  // Throws on a missing secret, before anything starts.
  const senders = createSenders(routing, { consoleUrl: options.consoleUrl, env: options.env ?? {}, logger });

  const labelNames = ['receiver', 'kind'] as const;
  const registers = options.registry ? [options.registry] : [];
  const metrics = {
    sent: new Counter({ name: 'heph_alert_notifications_sent_total', help: 'Notifications delivered, by receiver, integration and notice.', labelNames: [...labelNames, 'notice'], registers }),
    failed: new Counter({ name: 'heph_alert_delivery_attempts_failed_total', help: 'Failed delivery attempts, by receiver and integration.', labelNames, registers }),
    open: new Gauge({ name: 'heph_alert_circuit_open', help: '1 while the receiver integration circuit is open.', labelNames, registers }),
  };

  const incidents = new Map<string, Tracked>();
  const notificationLog = new Map<string, NotificationLogEntry>();
  /** Escalations not yet paged to every target their incident routes to, by group key. */
  const escalations = new Map<string, { incident: Tracked; reason: string; position: bigint; eventId: string; sent: Set<string> }>();
  let position = 0n;
  let storedCheckpoint = 0n;
  let stopped = false;
  const stopping = new AbortController();

  const applySent = (event: StoredEvent) => {
    const d = event.data as EventDataOf<'alert.sent'>;
    if (!d.groupKey || !d.kind) return; // from the notifier before routing: no group to continue
    const escalation = escalations.get(d.groupKey);
    if (escalation) return void escalation.sent.add(targetKey({ receiver: d.receiver, kind: d.kind as IntegrationKind }));
    const key = logKey({ receiver: d.receiver, kind: d.kind as IntegrationKind }, d.groupKey);
    const atMs = Date.parse(event.occurredAt);
    let entry = notificationLog.get(key);
    if (entry && atMs < entry.sentAtMs) return;
    if (!entry || atMs > entry.sentAtMs) notificationLog.set(key, (entry = { sentAtMs: atMs, firing: [], acknowledged: [], resolved: [] }));
    const list = entry[d.notice];
    if (!list.includes(d.incidentId)) list.push(d.incidentId);
  };

  const applyIncident = (event: StoredEvent) => {
    const id = (event.data as { incidentId: string }).incidentId;
    const known = incidents.get(id);
    if (event.type === 'incident.opened') {
      if (!known) incidents.set(id, fromOpened(event));
    } else if (known && event.version > known.version) {
      incidents.set(id, evolve(known, event));
    }
  };

  /** The incident as it stands, or as its stream says when it is no longer tracked. */
  const incidentNow = async (id: string): Promise<Tracked | undefined> => {
    const known = incidents.get(id);
    if (known) return known;
    let folded: Tracked | undefined;
    for (const past of await readStream(sql, `incident-${id}`)) folded = past.type === 'incident.opened' ? fromOpened(past) : folded && evolve(folded, past);
    return folded;
  };

  const applyEscalated = async (event: StoredEvent) => {
    const d = event.data as EventDataOf<'remediation.escalated'>;
    const incident = await incidentNow(d.incidentId);
    if (!incident) return logger.warn({ incidentId: d.incidentId, remediationId: d.remediationId }, 'escalation of an unknown incident not paged');
    escalations.set(`escalation:${d.remediationId}`, { incident, reason: d.reason, position: event.position, eventId: event.id, sent: new Set() });
  };

  const apply = async (event: StoredEvent) => {
    if (event.type === 'alert.sent') return applySent(event);
    if (event.type === 'remediation.escalated') return applyEscalated(event);
    if (!event.type.startsWith('incident.')) return;
    const id = (event.data as { incidentId: string }).incidentId;
    if (event.type === 'incident.opened' || incidents.has(id)) return applyIncident(event);
    // An incident forgotten once it needed nothing more changes again (reopened, say): its whole stream.
    for (const past of await readStream(sql, `incident-${id}`)) applyIncident(past);
  };

  const catchUp = async () => {
    for (;;) {
      const events = await readAll(sql, position, 500);
      for (const event of events) {
        await apply(event);
        position = event.position;
      }
      if (events.length < 500) return;
    }
  };

  const unreadable = new Set<string>();
  const activeSilences = async (nowMs: number): Promise<Silence[]> => {
    const out: Silence[] = [];
    for (const r of await unendedSilences(sql, nowMs)) {
      const parsed = silence.safeParse(r);
      if (parsed.success) out.push(parsed.data);
      else if (!unreadable.has(r.id)) {
        unreadable.add(r.id);
        logger.warn({ silenceId: r.id, reason: parsed.error.issues[0]?.message }, 'silence ignored: unreadable matchers');
      }
    }
    return out;
  };

  const downstreamSymptoms = async (tracked: Tracked[]): Promise<Set<string> | undefined> => {
    const judge = options.isDownstreamSymptom;
    if (!judge) return undefined;
    const open = tracked.filter((i) => i.status === 'firing');
    const symptoms = new Set<string>();
    for (const incident of open) {
      try {
        if (await judge(incident, open)) symptoms.add(incident.id);
      } catch (error) {
        logger.warn({ incidentId: incident.id, err: error }, 'downstream symptom check failed, incident not muted');
      }
    }
    return symptoms;
  };

  const record = async (delivery: Delivery, status: number, attempts: number) => {
    const sentAtMs = Math.max(now(), (delivery.previousSentAtMs ?? 0) + 1);
    const stored = await sql.begin(async (tx) => {
      const events: StoredEvent[] = [];
      for (const { incident, state } of delivery.incidents) {
        const result = await appendToStream(tx, `alert-${incident.id}`, 'any', [
          {
            id: deterministicId(delivery.id, incident.id),
            type: 'alert.sent',
            occurredAt: new Date(sentAtMs),
            data: { incidentId: incident.id, notice: state, receiver: delivery.receiver, kind: delivery.kind, groupKey: delivery.groupKey, status, attempts, causationEventId: incident.lastEventId },
            metadata: { causationId: incident.lastEventId, correlationId: incident.id },
          },
        ]);
        if (result.ok) events.push(...result.events);
      }
      return events;
    });
    for (const event of stored) applySent(event);
  };

  const recordFailure = async (delivery: Delivery, attempts: number, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    await sql.begin(async (tx) => {
      for (const { incident, state } of delivery.incidents) {
        await appendToStream(tx, `alert-${incident.id}`, 'any', [
          {
            id: deterministicId('alert.delivery_failed', delivery.id, incident.id, now()),
            type: 'alert.delivery_failed',
            occurredAt: new Date(now()),
            // alert.delivery_failed knows firing and resolved notices; an acknowledge is an update of a firing alert.
            data: { incidentId: incident.id, receiver: delivery.receiver, notice: state === 'resolved' ? 'resolved' : 'firing', attempts, error: `${delivery.kind} ${delivery.notice}: ${message}`, causationEventId: incident.lastEventId },
            metadata: { causationId: incident.lastEventId, correlationId: incident.id },
          },
        ]);
      }
    });
  };

  const startQueue = (target: { receiver: string; kind: IntegrationKind }, send: Send) => {
    const labels = { receiver: target.receiver, kind: target.kind };
    let pending: Delivery[] = [];
    let inFlight: Delivery | undefined;
    const breaker: Breaker = { state: 'closed', failures: 0, openUntilMs: 0 };
    const nap = sleeper();

    const failed = () => {
      metrics.failed.inc(labels);
      breaker.failures++;
      if (breaker.state === 'open' || (breaker.state === 'closed' && breaker.failures < breakerSettings.failureThreshold)) return;
      breaker.state = 'open';
      breaker.openUntilMs = Date.now() + breakerSettings.coolDownMs;
      metrics.open.set(labels, 1);
      logger.warn({ ...labels, failures: breaker.failures, coolDownMs: breakerSettings.coolDownMs }, 'receiver circuit opened');
    };

    const deliver = async (delivery: Delivery) => {
      let attempts = 0;
      let status: number | undefined;
      try {
        await pRetry(
          async () => {
            attempts++;
            // Not cut short by stop: a request under way finishes (within the timeout) and is recorded,
            // so a graceful restart never sends it twice. Stop ends the waits between attempts.
            status = await send(delivery, AbortSignal.timeout(timeoutMs));
          },
          {
            retries: breaker.state === 'half-open' ? 0 : retry.retries,
            factor: 2,
            minTimeout: retry.minTimeoutMs,
            maxTimeout: retry.maxTimeoutMs,
            randomize: true,
            signal: stopping.signal,
            onFailedAttempt: ({ error, attemptNumber }) => {
              failed();
              logger.warn({ ...labels, groupKey: delivery.groupKey, attemptNumber, err: error.message }, 'alert delivery attempt failed');
            },
            shouldRetry: ({ error }) => !stopped && breaker.state === 'closed' && !(error instanceof DeliveryError && !error.retryable),
          },
        );
      } catch (error) {
        // p-retry reports a stop that came during a successful attempt as an abort: that one was delivered.
        if (status === undefined) {
          if (stopped) return;
          logger.error({ ...labels, groupKey: delivery.groupKey, attempts, err: error }, 'alert delivery failed');
          // The notification stays due: the next pass offers it again once the circuit lets it through.
          await recordFailure(delivery, attempts, error).catch((err: unknown) => logger.error({ err }, 'recording a delivery failure failed'));
          return;
        }
      }
      if (breaker.state !== 'closed') logger.info(labels, 'receiver circuit closed');
      Object.assign(breaker, { state: 'closed', failures: 0 });
      metrics.open.set(labels, 0);
      await record(delivery, status!, attempts);
      metrics.sent.inc({ ...labels, notice: delivery.notice });
      const first = delivery.incidents[0]?.incident;
      const what = first ? ` for ${first.service}: ${delivery.notice === 'resolved' ? 'healthy again' : first.summary}` : '';
      logger.info(
        { ...labels, groupKey: delivery.groupKey, notice: delivery.notice, incidentIds: delivery.incidents.map((i) => i.incident.id), status },
        `${delivery.notice === 'firing' ? 'alert' : `${delivery.notice} notice`} sent to ${labels.receiver}${what}`,
      );
    };

    const run = async () => {
      while (!stopped) {
        if (breaker.state === 'open') {
          const waitMs = breaker.openUntilMs - Date.now();
          if (waitMs > 0) {
            await nap.sleep(waitMs);
            continue;
          }
          breaker.state = 'half-open';
        }
        const next = pending.shift();
        if (!next) {
          await nap.sleep(60_000);
          continue;
        }
        inFlight = next;
        try {
          await deliver(next);
        } finally {
          inFlight = undefined;
        }
      }
    };
    const done = run();
    return {
      /** Replaces what waits with what is due now; the group in flight is left to finish. */
      offer: (due: Delivery[]) => {
        pending = due.filter((d) => d.groupKey !== inFlight?.groupKey);
        if (pending.length > 0) nap.wake();
      },
      stop: async () => {
        nap.wake();
        await done;
      },
    };
  };

  const queues = new Map([...senders].map(([key, { target, send }]) => [key, startQueue(target, send)]));

  /** Nothing before the oldest incident still tracked matters after a restart. */
  const lowWaterMark = () => {
    let low = position;
    for (const i of incidents.values()) if (i.openedPosition - 1n < low) low = i.openedPosition - 1n;
    for (const e of escalations.values()) if (e.position - 1n < low) low = e.position - 1n;
    return low;
  };

  /** One page per target the incident's labels route to, not grouped with anything: a human must act. */
  const escalationDeliveries = (groupKey: string, e: { incident: Tracked; reason: string; eventId: string }): Delivery[] => {
    const receivers = new Map(routing.receivers.map((r) => [r.name, r]));
    const incident: Tracked = { ...e.incident, status: 'firing', summary: `escalated: ${e.reason}`, lastEventId: e.eventId };
    const out = new Map<string, Delivery>();
    for (const route of matchRoutes(routing.route, incident.labels)) {
      const receiver = receivers.get(route.receiver);
      if (!receiver) continue;
      for (const kind of integrationsOf(receiver)) {
        const target = { receiver: receiver.name, kind };
        out.set(targetKey(target), { ...target, id: deterministicId('escalation', e.eventId, receiver.name, kind), groupKey, groupLabels: groupLabelsOf(route, incident.labels), notice: 'firing', incidents: [{ incident, state: 'firing' }] });
      }
    }
    return [...out.values()];
  };

  const pass = async (): Promise<number | undefined> => {
    await catchUp();
    const nowMs = now();
    const silences = await activeSilences(nowMs);
    const tracked = [...incidents.values()];
    const symptoms = await downstreamSymptoms(tracked);
    const plan = schedule({ routing, incidents: tracked, silences, log: notificationLog, symptoms, nowMs });
    // No await from the schedule to the hand-over: a delivery recorded meanwhile would be offered again.
    const byTarget = new Map<string, Delivery[]>();
    for (const n of plan.due) {
      const key = targetKey(n);
      byTarget.set(key, [...(byTarget.get(key) ?? []), { ...n, id: notificationId(n) }]);
    }
    for (const [groupKey, escalation] of escalations) {
      const due = escalationDeliveries(groupKey, escalation).filter((d) => !escalation.sent.has(targetKey(d)));
      if (due.length === 0) escalations.delete(groupKey);
      for (const d of due) byTarget.set(targetKey(d), [...(byTarget.get(targetKey(d)) ?? []), d]);
    }
    for (const [key, queue] of queues) queue.offer(byTarget.get(key) ?? []);
    for (const id of plan.done) incidents.delete(id);
    for (const [key, entry] of notificationLog) {
      if (![...entry.firing, ...entry.acknowledged].some((id) => incidents.has(id))) notificationLog.delete(key);
    }
    const low = lowWaterMark();
    if (low > storedCheckpoint) {
      await storeCheckpoint(sql, checkpointName, low);
      storedCheckpoint = low;
    }
    return plan.nextWakeAtMs;
  };

  const nap = sleeper();
  const loop = async () => {
    const unlisten = await options.onAppended?.(() => nap.wake()).catch((error: unknown) => {
      logger.warn({ err: error }, `appends are not announced: alerts are looked for every ${pollMs} ms`);
      return undefined;
    });
    try {
      await dispatch();
    } finally {
      await unlisten?.();
    }
  };
  const dispatch = async () => {
    let started = false;
    while (!stopped) {
      try {
        if (!started) position = storedCheckpoint = await readCheckpoint(sql, checkpointName);
        started = true;
        const wakeAtMs = await pass();
        await nap.sleep(Math.min(pollMs, wakeAtMs === undefined ? pollMs : wakeAtMs - now()));
      } catch (error) {
        if (stopped) return;
        logger.error({ err: error }, 'alert dispatch pass failed, retrying');
        await nap.sleep(1000);
      }
    }
  };
  const done = loop();
  logger.info({ receivers: [...senders.values()].map(({ target }) => `${target.receiver}/${target.kind}`) }, 'alert dispatcher started');

  return {
    stop: async () => {
      stopped = true;
      stopping.abort();
      nap.wake();
      await done;
      await Promise.all([...queues.values()].map((q) => q.stop()));
    },
  };
};
