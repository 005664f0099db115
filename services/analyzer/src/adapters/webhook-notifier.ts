// Sends each incident notice to the webhook receiver (Alertmanager webhook payload, version "4", plus
// our incident fields), retrying with backoff and jitter, then records `alert.sent`. Progress is a
// checkpoint in the event store, so a restart neither loses nor repeats a notice.
import pRetry from 'p-retry';
import { appendToStream, deterministicId, readAll, readCheckpoint, storeCheckpoint, type Logger, type Sql } from '@hephaestus/platform';
import type { EventDataOf, StoredEvent } from '@hephaestus/schemas';

export type NotifierOptions = { webhookUrl?: string; consoleUrl: string; pollMs?: number; timeoutMs?: number };

type IncidentFacts = EventDataOf<'incident.opened'>;

export const webhookPayload = (notice: 'firing' | 'resolved', incident: IncidentFacts, event: StoredEvent, consoleUrl: string) => {
  const labels = { alertname: 'ErrorRateHigh', service: incident.service, signal: incident.signal, severity: incident.severity };
  const link = `${consoleUrl}/api/incidents/${incident.incidentId}`;
  return {
    version: '4',
    groupKey: `{}:{service="${incident.service}",signal="${incident.signal}"}`,
    truncatedAlerts: 0,
    status: notice,
    receiver: 'webhook',
    groupLabels: { service: incident.service, signal: incident.signal },
    commonLabels: labels,
    commonAnnotations: { summary: incident.summary },
    externalURL: consoleUrl,
    alerts: [
      {
        status: notice,
        labels,
        annotations: { summary: incident.summary },
        startsAt: incident.windowStart,
        endsAt: notice === 'resolved' ? event.occurredAt : '0001-01-01T00:00:00Z',
        generatorURL: link,
        fingerprint: incident.incidentId.replaceAll('-', '').slice(0, 16),
      },
    ],
    incident: {
      id: incident.incidentId,
      status: notice === 'firing' ? 'open' : 'resolved',
      service: incident.service,
      signal: incident.signal,
      severity: incident.severity,
      summary: incident.summary,
      value: incident.value,
      baseline: incident.baseline,
      calls: incident.calls,
      errors: incident.errors,
      openedAt: incident.windowStart,
      links: { incident: link, console: consoleUrl },
    },
  };
};

export const startWebhookNotifier = (sql: Sql, log: Logger, options: NotifierOptions) => {
  const checkpoint = 'notifier:webhook';
  const pollMs = options.pollMs ?? 250;
  let stopped = false;
  const controller = new AbortController();

  const facts = async (incidentId: string): Promise<IncidentFacts | undefined> => {
    const [row] = await sql<{ data: IncidentFacts }[]>`
      SELECT data FROM events WHERE stream_id = ${`incident-${incidentId}`} AND type = 'incident.opened' LIMIT 1`;
    return row?.data;
  };

  const deliver = async (event: StoredEvent) => {
    const notice = event.type === 'incident.opened' ? 'firing' : 'resolved';
    const incidentId = (event.data as { incidentId: string }).incidentId;
    const incident = await facts(incidentId);
    if (!incident) throw new Error(`incident ${incidentId} has no opened event`);
    const payload = webhookPayload(notice, incident, event, options.consoleUrl);
    let status = 0;
    let attempts = 0;
    if (options.webhookUrl) {
      const url = options.webhookUrl;
      status = await pRetry(
        async () => {
          attempts++;
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': deterministicId('alert', event.id) },
            body: JSON.stringify(payload),
            signal: AbortSignal.any([controller.signal, AbortSignal.timeout(options.timeoutMs ?? 5000)]),
          });
          if (response.status >= 500 || response.status === 429) throw new Error(`webhook answered ${response.status}`);
          return response.status;
        },
        {
          retries: Number.POSITIVE_INFINITY,
          minTimeout: 250,
          maxTimeout: 30_000,
          randomize: true,
          signal: controller.signal,
          shouldRetry: () => !stopped,
          onFailedAttempt: ({ error, attemptNumber }) =>
            log.warn({ incidentId, attemptNumber, err: error.message }, 'alert delivery failed, retrying'),
        },
      );
    }
    const receiver = options.webhookUrl ? 'webhook' : 'log';
    await sql.begin((tx) =>
      appendToStream(tx, `alert-${incidentId}`, 'any', [
        {
          id: deterministicId('alert.sent', event.id),
          type: 'alert.sent',
          occurredAt: new Date(),
          data: { incidentId, notice, receiver, status, attempts, causationEventId: event.id },
          metadata: { causationId: event.id, correlationId: incidentId },
        },
      ]),
    );
    log.info(
      { incidentId, service: incident.service, receiver, status },
      notice === 'firing'
        ? `alert sent: ${incident.service} ${incident.summary}`
        : `resolve notice sent: ${incident.service} is healthy again`,
    );
  };

  const loop = async () => {
    while (!stopped) {
      try {
        const position = await readCheckpoint(sql, checkpoint);
        const events = await readAll(sql, position, 100);
        for (const event of events) {
          if (stopped) return;
          if (event.type === 'incident.opened' || event.type === 'incident.resolved') await deliver(event);
          await storeCheckpoint(sql, checkpoint, event.position);
        }
        if (events.length === 0) await new Promise((r) => setTimeout(r, pollMs));
      } catch (error) {
        if (stopped) return;
        log.error({ err: error }, 'notifier failed, retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  const done = loop();
  return {
    stop: async () => {
      stopped = true;
      controller.abort();
      await done;
    },
  };
};
