// The healer pipeline: match → guard → act → verify. It consumes heph.events; for an opened incident
// whose service and signal match a playbook it starts one remediation (one per incident, enforced by
// the remediation stream's expected version), runs its steps and verifies against live rollups.
import { decideOnStream, deterministicId, readStream, type ConsumedRecord, type Log, type Logger, type Sql } from '@hephaestus/platform';
import { hephEvent, topics, type EventDataOf, type Playbook, type PlaybookStep, type StoredEvent } from '@hephaestus/schemas';
import { handleIncidentCommand, readBuckets } from '@hephaestus/analyzer';
import { Counter, type Registry } from 'prom-client';
import { runAction } from './adapters/actions.ts';
import { matchPlaybook } from './domain/match.ts';
import { remediationDecider, remediationStreamId, type Remediation, type RemediationCommand } from './domain/remediation.ts';
import { verifyErrorRate } from './domain/verify.ts';

export type HealerOptions = {
  sql: Sql;
  log: Log;
  logger: Logger;
  registry: Registry;
  playbooks: Playbook[];
  allowedHosts: string[];
  controlToken?: string;
  resolutionSeconds: number;
  graceSeconds: number;
  consumerGroupPrefix: string;
  now?: () => number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const startHealer = async (options: HealerOptions) => {
  const { sql, logger } = options;
  const now = options.now ?? Date.now;
  const running = new Map<string, Promise<void>>();
  let stopped = false;
  const metrics = {
    remediations: new Counter({ name: 'heph_healer_remediations_total', help: 'Remediations by outcome.', labelNames: ['outcome'], registers: [options.registry] }),
  };

  const execute = async (incidentId: string, command: RemediationCommand): Promise<{ state: Remediation; events: StoredEvent[] }> =>
    sql.begin(async (tx) => {
      const { state: next, events } = await decideOnStream(tx, remediationStreamId(incidentId), remediationDecider, command, {
        occurredAt: new Date(now()),
        metadata: { correlationId: incidentId },
      });
      if (events.length > 0 && next.status !== 'none') {
        await tx`
          INSERT INTO remediations (id, incident_id, playbook_id, service, status, started_at, updated_at)
          VALUES (${next.plan.remediationId}, ${incidentId}, ${next.plan.playbookId}, ${next.plan.service}, ${next.status}, ${new Date(now())}, ${new Date(now())})
          ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`;
      }
      return { state: next, events };
    });

  const load = async (incidentId: string): Promise<Remediation> =>
    (await readStream(sql, remediationStreamId(incidentId))).reduce(remediationDecider.evolve, remediationDecider.initialState());

  // act → verify, resuming from whatever the stream says already happened.
  const drive = async (incidentId: string) => {
    let state = await load(incidentId);
    while (!stopped && (state.status === 'running' || state.status === 'verifying')) {
      const plan = state.plan;
      if (state.status === 'running') {
        const step = plan.steps[state.nextStep]!;
        logger.info({ incidentId, service: plan.service, step: step.name }, `remediation step: ${step.name} on ${plan.service}`);
        const result = await runAction(
          { ...step, action: step.action as PlaybookStep['action'] },
          { controlUrl: plan.controlUrl, controlToken: options.controlToken, allowedHosts: options.allowedHosts, idempotencyKey: `${plan.remediationId}:${state.nextStep}` },
        );
        const command: RemediationCommand = result.ok
          ? { type: 'RecordStepResult', step: state.nextStep, ok: true, detail: result.detail }
          : { type: 'RecordStepResult', step: state.nextStep, ok: false, error: result.error };
        state = (await execute(incidentId, command)).state;
        if (!result.ok) logger.error({ incidentId, error: result.error }, `remediation step failed: ${step.name}`);
        continue;
      }
      const actedAtMs = Date.parse(state.lastActionAt!);
      const resolutionMs = options.resolutionSeconds * 1000;
      const closedBefore = Math.floor((now() - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
      const series = await readBuckets(sql, options.resolutionSeconds, actedAtMs - resolutionMs, closedBefore, plan.service);
      const verdict = verifyErrorRate(series.get(plan.service) ?? [], {
        actedAtMs,
        windowSeconds: plan.verify.windowSeconds,
        maxErrorRate: plan.verify.max ?? 0.05,
        nowMs: now(),
      });
      if (!verdict.done) {
        await sleep(500);
        continue;
      }
      state = (await execute(incidentId, { type: 'RecordVerification', ok: verdict.ok, detail: verdict.detail })).state;
      metrics.remediations.inc({ outcome: verdict.ok ? 'validated' : 'failed' });
      if (verdict.ok) {
        logger.info({ incidentId, service: plan.service }, `remediation validated: ${verdict.detail}`);
        await handleIncidentCommand(sql, { type: 'MitigateIncident', at: new Date(now()).toISOString(), incidentId, remediationId: plan.remediationId, detail: verdict.detail });
      }
      else logger.error({ incidentId, service: plan.service }, `remediation failed: ${verdict.detail}`);
    }
  };

  const track = (incidentId: string) => {
    if (running.has(incidentId)) return;
    const task = drive(incidentId)
      .catch((error: unknown) => logger.error({ err: error, incidentId }, 'remediation run failed; it resumes on restart'))
      .finally(() => running.delete(incidentId));
    running.set(incidentId, task);
  };

  // match → guard: one remediation per incident, started once.
  const onIncidentOpened = async (data: EventDataOf<'incident.opened'>) => {
    const found = matchPlaybook(options.playbooks, data);
    if (!found) {
      logger.info({ incidentId: data.incidentId, service: data.service }, 'no playbook matches this incident');
      return;
    }
    const { events } = await execute(data.incidentId, {
      type: 'StartRemediation',
      remediationId: deterministicId('remediation', data.incidentId),
      incidentId: data.incidentId,
      playbookId: found.id,
      service: data.service,
      signal: data.signal,
      controlUrl: data.controlUrl,
      steps: found.steps,
      rollback: found.rollback,
      verify: found.verify,
      approvalRequired: found.approval.required,
      dryRun: found.dryRun,
    });
    if (events.length > 0) logger.info({ incidentId: data.incidentId, playbook: found.id }, `remediation started: playbook ${found.id} for ${data.service}`);
    track(data.incidentId);
  };

  const consume = async ({ records }: { records: ConsumedRecord[] }) => {
    for (const record of records) {
      const parsed = hephEvent.safeParse(JSON.parse(record.value.toString()));
      if (!parsed.success) {
        logger.warn({ offset: record.offset.toString(), reason: parsed.error.issues[0]?.message }, 'unreadable event skipped');
        continue;
      }
      if (parsed.data.type !== 'incident.opened') continue;
      // Act only on incidents this control plane recorded: a shared topic may carry another's events.
      const [known] = await sql`SELECT 1 FROM events WHERE id = ${parsed.data.id}`;
      if (!known) {
        logger.warn({ eventId: parsed.data.id }, 'incident event not in this event store, ignored');
        continue;
      }
      await onIncidentOpened(parsed.data.data);
    }
  };

  // Resume what a previous run left in the middle.
  const unfinished = await sql<{ incident_id: string }[]>`SELECT incident_id FROM remediations WHERE status IN ('running', 'verifying')`;
  for (const { incident_id } of unfinished) {
    logger.info({ incidentId: incident_id }, 'resuming remediation');
    track(incident_id);
  }
  const subscription = await options.log.subscribe({ groupId: `${options.consumerGroupPrefix}-healer`, topics: [topics.events], handle: consume });
  logger.info({ playbooks: options.playbooks.map((p) => p.id) }, 'healer consuming heph.events');

  return {
    stop: async () => {
      stopped = true;
      await subscription.stop();
      await Promise.all(running.values());
    },
  };
};
