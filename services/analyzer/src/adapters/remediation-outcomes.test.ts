// The incident's side of a remediation's outcome, on real PostgreSQL and the Postgres-backed log: the
// remediation events are appended to the event store as the healer appends them, published to heph.events,
// and the analyzer's consumer mitigates or reopens the incident, once however often an event arrives.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { appendToStream, createKafkaLog, createPgLog, openDatabase, startEventPublisher, type Log, type Logger, type Subscription } from '@hephaestus/platform';
import { eventually as waitFor, freshDatabase, kafkaBrokers, testLogger } from '@hephaestus/platform/testing';
import { topics, type EventDataOf } from '@hephaestus/schemas';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { startRemediationOutcomes } from './remediation-outcomes.ts';

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) => waitFor(what, probe, timeoutMs);

const startHarness = async () => {
  const fresh = await freshDatabase();
  const database = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  const { sql } = database;
  const log: Log = createPgLog(sql, testLogger(), { pollMs: 50 });
  await log.ensureTopics();
  const publisher = startEventPublisher(database, log, testLogger());
  const prefix = `outcomes-${randomUUID()}`;
  const outcomes: Subscription = await startRemediationOutcomes({ sql, log, logger: testLogger(), consumerGroupPrefix: prefix });
  const at = () => new Date().toISOString();

  /** An open incident on `service` (one open incident per service). */
  const open = async (service = 'coder') => {
    const incidentId = randomUUID();
    await handleIncidentCommand(sql, {
      type: 'OpenIncident', at: at(), incidentId, service, signal: 'error_rate', severity: 'critical', summary: 'error rate 40 %', value: 0.4, baseline: 0.01,
      windowStart: at(),
    });
    return incidentId;
  };
  const resolve = (incidentId: string, service = 'coder') =>
    handleIncidentCommand(sql, { type: 'ResolveIncident', at: at(), incidentId, service, signal: 'error_rate', reason: 'quiet again', value: 0 });
  /** Appends a remediation event on the remediation's stream, as the healer does. */
  const record = async <T extends 'remediation.validated' | 'remediation.failed'>(type: T, data: EventDataOf<T>) => {
    const id = randomUUID();
    await sql.begin((tx) => appendToStream(tx, `remediation-${data.incidentId}`, 'any', [{ id, type, data, occurredAt: new Date() } as never]));
    return id;
  };
  const incidentEvents = async (incidentId: string) =>
    (await sql<{ type: string; data: any }[]>`SELECT type, data FROM events WHERE stream_id = ${`incident-${incidentId}`} ORDER BY version`).map((e) => ({ type: e.type, data: e.data }));
  const until = (incidentId: string, type: string) =>
    eventually(`${type} on incident ${incidentId}`, async () => {
      const events = await incidentEvents(incidentId);
      return events.some((e) => e.type === type) ? events : undefined;
    });
  /** Waits until the consumer has handled and committed everything published so far. */
  const drained = async () => {
    await eventually('the publisher to catch up', async () => {
      const [row] = await sql<{ behind: boolean }[]>`SELECT (SELECT max(position) FROM events) > coalesce((SELECT position FROM checkpoints WHERE name = 'publisher:heph.events'), 0) AS behind`;
      return row!.behind ? undefined : true;
    });
    await eventually('the consumer to catch up', async () => ((await log.lag(`${prefix}-analyzer-remediations`, [topics.events])).every((p) => p.lag === 0) ? true : undefined));
  };
  /** Delivers the stored event `id` on heph.events once more, as a consumer restarted before its commit would read it. */
  const redeliver = async (id: string) => {
    const [event] = await sql<{ id: string; stream_id: string; version: number; type: string; occurred_at: Date; data: unknown; metadata: unknown }[]>`SELECT * FROM events WHERE id = ${id}`;
    const value = { id: event!.id, streamId: event!.stream_id, version: event!.version, type: event!.type, occurredAt: event!.occurred_at.toISOString(), data: event!.data, metadata: event!.metadata };
    await log.send(topics.events, [{ key: event!.stream_id, value: Buffer.from(JSON.stringify(value)), headers: { 'content-type': 'application/json' } }]);
  };

  return {
    sql, log, open, resolve, record, incidentEvents, until, drained, redeliver,
    stop: async () => {
      await outcomes.stop();
      await publisher.stop();
      await log.close();
      await database.close();
      await fresh.drop();
    },
  };
};

describe('the analyzer takes remediations’ outcomes to their incidents', () => {
  let harness: Awaited<ReturnType<typeof startHarness>> | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });

  it('mitigates the incident of a validated remediation once, though the event comes again after the incident reopened', async () => {
    const h = (harness = await startHarness());
    const incidentId = await h.open();
    const remediationId = randomUUID();
    const validated = await h.record('remediation.validated', { remediationId, incidentId, detail: 'error rate 0 % over 30 s' });
    await h.until(incidentId, 'incident.mitigated');
    // The fault comes back: the recurrence reopens the incident, which forgets who mitigated it.
    await h.resolve(incidentId);
    await handleIncidentCommand(h.sql, { type: 'ReopenIncident', at: new Date().toISOString(), incidentId, reason: 'error rate high again', withinMs: 600_000 });
    await h.redeliver(validated);
    await h.drained();
    expect((await h.incidentEvents(incidentId)).map((e) => e.type)).toEqual(['incident.opened', 'incident.mitigated', 'incident.resolved', 'incident.reopened']);
    expect((await h.incidentEvents(incidentId))[1]!.data).toEqual({ incidentId, remediationId, detail: 'error rate 0 % over 30 s' });
  });

  it('reopens a resolved incident whose remediation failed its verification, once; a failed step leaves it resolved', async () => {
    const h = (harness = await startHarness());
    const stepFailed = await h.open('planner');
    const verificationFailed = await h.open();
    await h.resolve(stepFailed, 'planner');
    await h.resolve(verificationFailed);
    await h.record('remediation.failed', { remediationId: randomUUID(), incidentId: stepFailed, reason: "step 'restart' failed: 503" });
    const remediationId = randomUUID();
    const failed = await h.record('remediation.failed', { remediationId, incidentId: verificationFailed, reason: 'verification failed: error rate 35 %', verificationFailed: true });
    const events = await h.until(verificationFailed, 'incident.reopened');
    expect(events.at(-1)!.data).toEqual({ incidentId: verificationFailed, remediationId, reason: `remediation ${remediationId}: verification failed: error rate 35 %` });
    // Resolved again, then the failure comes again: it was taken already.
    await h.resolve(verificationFailed);
    await h.redeliver(failed);
    await h.drained();
    expect((await h.incidentEvents(verificationFailed)).map((e) => e.type)).toEqual(['incident.opened', 'incident.resolved', 'incident.reopened', 'incident.resolved']);
    expect((await h.incidentEvents(stepFailed)).map((e) => e.type)).toEqual(['incident.opened', 'incident.resolved']);
  });

  it('ignores a remediation event that is not in this event store', async () => {
    const h = (harness = await startHarness());
    const incidentId = await h.open();
    const foreign = { id: randomUUID(), streamId: `remediation-${incidentId}`, version: 1, type: 'remediation.validated', occurredAt: new Date().toISOString(), data: { remediationId: randomUUID(), incidentId, detail: 'fine' }, metadata: {} };
    await h.log.send(topics.events, [{ key: foreign.streamId, value: Buffer.from(JSON.stringify(foreign)), headers: {} }]);
    await h.drained();
    expect((await h.incidentEvents(incidentId)).map((e) => e.type)).toEqual(['incident.opened']);
  });

  it('goes on from the position it stored when it follows the outcomes alone, on a Kafka group of its own each time', async () => {
    const fresh = await freshDatabase();
    const database = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'outcomes-test', topicPrefix: `outcomes-${randomUUID().slice(0, 8)}.` }, testLogger());
    const ignored: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (ignored.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l).eventId)), done()) });
    const logger = pino({ level: 'warn' }, sink) as unknown as Logger;
    const prefix = `outcomes-${randomUUID()}`;
    const foreign = async () => {
      const event = { id: randomUUID(), streamId: `remediation-${randomUUID()}`, version: 1, type: 'remediation.validated', occurredAt: new Date().toISOString(), data: { remediationId: randomUUID(), incidentId: randomUUID(), detail: 'fine' }, metadata: {} };
      await log.send(topics.events, [{ key: event.streamId, value: Buffer.from(JSON.stringify(event)), headers: {} }]);
      return event.id;
    };
    try {
      await log.ensureTopics();
      const first = await startRemediationOutcomes({ sql: database.sql, log, logger, consumerGroupPrefix: prefix, exclusive: true });
      const before = await foreign();
      await eventually('the first consumer to handle the event', async () => (ignored.includes(before) ? true : undefined));
      await first.stop();
      // Its Kafka group went with it: without the stored position the next would read from the beginning.
      const second = await startRemediationOutcomes({ sql: database.sql, log, logger, consumerGroupPrefix: prefix, exclusive: true });
      expect(second.groupId).not.toBe(first.groupId);
      const after = await foreign();
      await eventually('the second consumer to handle the new event', async () => (ignored.includes(after) ? true : undefined));
      await second.stop();
      expect(ignored.filter((id) => id === before)).toHaveLength(1);
    } finally {
      await log.close();
      await database.close();
      await fresh.drop();
    }
  });
});
