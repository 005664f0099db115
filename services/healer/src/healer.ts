// The healer pipeline: match → target → guard → (approval) → act → verify → (rollback) → escalate. It
// consumes heph.events; on an incident's settled root-cause ranking it chooses the playbook the
// evidence on the target fits and starts one remediation (one per incident, enforced by the remediation
// stream's expected version), then drives it apart from the consumer: records every step before and
// after it runs, verifies against the analyzer's series. Several healers share the work through leases
// (adapters/lease-store.ts): one drives a remediation while it holds the lease, and any takes over an
// unfinished remediation whose lease expired, resuming from the recorded steps.
import {
  controlUrlOf,
  decideRemediation,
  githubUndo,
  idempotencyKey,
  loadRemediation,
  serviceVersionAt,
  unfinishedStatuses,
  type ActiveRemediation,
  type Remediation,
  type RemediationCommand,
} from '@hephaestus/aggregates';
import { deterministicId, hasEvent, onEventsAppended, readCheckpoint, runActiveStandby, startingPositions, storeCheckpoint, type ConsumedRecord, type Database, type Log, type Logger, type Sql, type TransactionSql } from '@hephaestus/platform';
import { hephEvent, topicPartitions, topics, type EventDataOf, type Playbook, type PlaybookStep, type StoredEvent } from '@hephaestus/schemas';
import { Counter, Gauge, type Registry } from 'prom-client';
import { describeAction, runAction, undoGitHub, type ActionContext, type ActionResult, type GitHubExecutor } from './adapters/actions.ts';
import { acquireLease, checkLease, claimableRemediations, LeaseLostError, releaseLease, renewLease } from './adapters/lease-store.ts';
import { fleetServices, guardRemediations, incidentFacts, verifyPoints } from './adapters/fleet.ts';
import { guard } from './domain/guard.ts';
import { renewalIntervalMs, type Lease } from './domain/lease.ts';
import type { IncidentEvidence } from './domain/evidence.ts';
import { choosePlaybook } from './domain/match.ts';
import { baselineIntervals, baselineOf, verifySignal } from './domain/verify.ts';

/** The deciding healer's advisory lock key (beside the migrations' 727_001, appends' 727_002, the publisher's 727_003 and the analyzer's 727_004). */
export const decidingLockKey = 727_005;

export type HealerOptions = {
  sql: Sql;
  /** The database `sql` belongs to: with it, a remediation waiting for approval goes on as the approval commits (LISTEN/NOTIFY, or in process on PGlite) instead of at its next look. */
  database?: Pick<Database, 'sql' | 'kind'>;
  log: Log;
  logger: Logger;
  registry: Registry;
  playbooks: Playbook[];
  allowedHosts: string[];
  /** The only origins (scheme, host, port) actions may call (HEPH_HEALER_ALLOWED_ORIGINS); when set, allowedHosts is not used. */
  allowedOrigins?: string[];
  controlToken?: string;
  resolutionSeconds: number;
  graceSeconds: number;
  consumerGroupPrefix: string;
  /** This healer's name in the remediation leases (HEPH_HEALER_ID). */
  healerId: string;
  /** How long a lease lasts unrenewed (HEPH_HEALER_LEASE_SECONDS): a dead healer's remediations wait that long. */
  leaseSeconds: number;
  /**
   * Several healers on one PostgreSQL database: one at a time follows heph.events and decides on new
   * incidents (it holds the deciding lock and reads as an exclusive consumer from the position it
   * stored); the others stand by and take over at once when it dies. Every healer drives and takes over
   * remediations by their leases either way. Without it, the healers' consumer group shares the topic.
   */
  decidingLock?: { database: Pick<Database, 'kind' | 'url'>; onLost: (reason: string) => void };
  /** Every playbook as a dry run (HEPH_HEALER_DRY_RUN). */
  dryRun?: boolean;
  /** Opens and closes fix pull requests; without it GitHub steps fail with a reason. */
  github?: GitHubExecutor;
  /** How often a remediation waiting for approval looks again when appends are not announced (no `database`). */
  pollMs?: number;
  /** How often it looks again when they are (an announcement lost with its connection): 5 s. */
  safetyMs?: number;
  now?: () => number;
};

const finalStatuses = new Set(['validated', 'failed', 'rolled_back', 'escalated', 'rejected', 'refused', 'dry_run']);
type StartedPlan = EventDataOf<'remediation.started'>;

/** One line per recorded event, in plain words. */
const narrate = (event: StoredEvent, state: Remediation): { level: 'info' | 'warn' | 'error'; message: string } => {
  const plan = state.status === 'none' || state.status === 'refused' ? undefined : state.plan;
  const on = plan ? ` on ${plan.service}` : '';
  switch (event.type) {
    case 'remediation.started':
      return { level: 'info', message: `remediation started: playbook ${event.data.playbookId}${on} (${event.data.targetReason ?? 'the incident\'s service'})${event.data.dryRun ? ', dry run' : ''}` };
    case 'remediation.refused':
      return { level: 'warn', message: `remediation refused: playbook ${event.data.playbookId} on ${event.data.service}: ${event.data.reason}` };
    case 'remediation.awaiting_approval':
      return { level: 'info', message: `remediation waiting for approval${on} (POST /api/remediations/${event.data.remediationId}/approve)` };
    case 'remediation.approved':
      return { level: 'info', message: `remediation approved by ${event.data.by}` };
    case 'remediation.rejected':
      return { level: 'warn', message: `remediation rejected by ${event.data.by}: ${event.data.reason}` };
    case 'remediation.step_started':
      return { level: 'info', message: `${event.data.phase === 'rollback' ? 'rollback step' : 'step'} started: ${event.data.name}${on}${event.data.attempt > 1 ? ` (attempt ${event.data.attempt}: the previous one was interrupted)` : ''}` };
    case 'remediation.step_succeeded':
      return { level: 'info', message: `${event.data.phase === 'rollback' ? 'rollback step' : 'step'} done: ${event.data.name}: ${event.data.detail}` };
    case 'remediation.step_failed':
      return { level: 'error', message: `${event.data.phase === 'rollback' ? 'rollback step' : 'step'} failed: ${event.data.name}: ${event.data.error}` };
    case 'remediation.verification_started':
      return { level: 'info', message: `verifying ${event.data.verify.signal}${on} for ${event.data.verify.windowSeconds} s` };
    case 'remediation.validated':
      return { level: 'info', message: `remediation validated${on}: ${event.data.detail}` };
    case 'remediation.failed':
      return { level: 'error', message: `remediation failed${on}: ${event.data.reason}` };
    case 'remediation.rolled_back':
      return { level: 'warn', message: `remediation rolled back${on}` };
    case 'remediation.escalated':
      return { level: 'error', message: `remediation escalated to a human${on}: ${event.data.reason}` };
    default:
      return { level: 'info', message: event.type };
  }
};

/** One remediation per incident: its id follows from the incident's. */
const remediationIdOf = (incidentId: string) => deterministicId('remediation', incidentId);

/** The plan a remediation starts with: the chosen playbook on its target, and why (`targetReason`). */
const planOf = (book: Playbook, incident: IncidentEvidence, on: { service: string; controlUrl?: string; why: string; dryRun: boolean }): StartedPlan => ({
  remediationId: remediationIdOf(incident.incidentId),
  incidentId: incident.incidentId,
  playbookId: book.id,
  service: on.service,
  signal: incident.signal,
  severity: incident.severity,
  controlUrl: on.controlUrl,
  steps: book.steps,
  rollback: book.rollback,
  verify: book.verify,
  approvalRequired: book.approval.required,
  approvalTimeoutSeconds: book.approval.required ? book.approval.timeoutSeconds : undefined,
  approvalOnTimeout: book.approval.required ? book.approval.onTimeout : undefined,
  onFailure: book.onFailure,
  dryRun: book.dryRun || on.dryRun,
  targetReason: on.why,
  incidentWindowStart: incident.windowStart,
});

export const startHealer = async (options: HealerOptions) => {
  const { sql, logger } = options;
  if (options.controlToken && !(options.allowedOrigins && options.allowedOrigins.length > 0)) {
    logger.warn('HEPH_AGENT_CONTROL_TOKEN is set without HEPH_HEALER_ALLOWED_ORIGINS: agent actions will be refused until the agents\' origins are listed (the token goes to those only)');
  }
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 500;
  const resolutionMs = options.resolutionSeconds * 1000;
  const leaseMs = options.leaseSeconds * 1000;
  const running = new Map<string, Promise<void>>();
  let stopped = false;
  // Waits end at their time, at stop, when a lease is lost, or (approvals) when events are appended.
  const waiting = new Set<() => void>();
  const waitingForAppends = new Set<() => void>();
  const wait = (ms: number, until?: 'appended') =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        waiting.delete(done);
        waitingForAppends.delete(done);
        resolve();
      }
      waiting.add(done);
      if (until === 'appended') waitingForAppends.add(done);
    });
  const wakeAll = () => {
    for (const done of [...waiting]) done();
  };
  let appendsAnnounced = false;
  const metrics = {
    remediations: new Counter({ name: 'heph_healer_remediations_total', help: 'Remediations by outcome.', labelNames: ['outcome'], registers: [options.registry] }),
    steps: new Counter({ name: 'heph_healer_steps_total', help: 'Playbook steps run, by phase and outcome.', labelNames: ['phase', 'outcome'], registers: [options.registry] }),
  };

  /**
   * Decides a command on the remediation stream and keeps the `remediations` projection in the same
   * transaction; fenced by `lease`: nothing is appended unless this healer still holds it.
   */
  const execute = async (incidentId: string, command: RemediationCommand, on: { lease?: Lease; beforeStart?: (tx: TransactionSql) => Promise<RemediationCommand> }) => {
    const { lease, beforeStart } = on;
    const result = await sql.begin(async (tx) => {
      if (lease) await checkLease(tx, lease, now());
      let decided = command;
      if (beforeStart) {
        // One guard decision at a time over the fleet, so two incidents cannot both pass a limit of one.
        await tx`SELECT pg_advisory_xact_lock(hashtext('heph-healer-guard'))`;
        decided = await beforeStart(tx);
      }
      return decideRemediation(tx, incidentId, decided, new Date(now()));
    });
    for (const event of result.events) {
      const { level, message } = narrate(event, result.state);
      logger[level]({ incidentId, remediationId: (event.data as { remediationId: string }).remediationId, event: event.type }, message);
    }
    if (result.events.length > 0 && finalStatuses.has(result.state.status)) metrics.remediations.inc({ outcome: result.state.status });
    return result;
  };

  const load = async (incidentId: string): Promise<Remediation> => (await loadRemediation(sql, incidentId)).state;

  // act: one step of the current phase, recorded before and after.
  const act = async (incidentId: string, state: ActiveRemediation, lease: Lease) => {
    const { plan } = state;
    const phase = state.phase;
    const stepIndex = state.nextStep;
    const { events } = await execute(incidentId, { type: 'StartStep', phase, step: stepIndex }, { lease });
    if (events.length === 0) throw new Error(`step ${phase}:${stepIndex} could not be started`);
    const step = (phase === 'steps' ? plan.steps : state.rollbackSteps)[stepIndex]!;
    const context: ActionContext = {
      controlUrl: plan.controlUrl,
      controlToken: options.controlToken,
      allowedHosts: options.allowedHosts,
      allowedOrigins: options.allowedOrigins,
      idempotencyKey: idempotencyKey(plan.remediationId, phase, stepIndex),
      values: {
        'incident.id': plan.incidentId,
        'incident.service': plan.service,
        'incident.signal': plan.signal,
        'incident.severity': plan.severity ?? '',
        'remediation.id': plan.remediationId,
      },
      github: options.github,
      githubContext: {
        remediationId: plan.remediationId,
        incidentId: plan.incidentId,
        service: plan.service,
        // The version live when the remediation started: the one a revert undoes.
        serviceVersion: step.action.startsWith('github.') ? await serviceVersionAt(sql, plan.service, Date.parse(state.startedAt)) : undefined,
      },
    };
    let result: ActionResult;
    if (step.action === githubUndo) {
      // The compensation carries the key of the fix_pr step it undoes, so the executor finds its pull request.
      result = await undoGitHub({ ...context, idempotencyKey: idempotencyKey(plan.remediationId, 'steps', Number(step.params.step)) });
    } else if (plan.dryRun) {
      result = describeAction(step as PlaybookStep, context);
    } else {
      result = await runAction(step as PlaybookStep, context);
    }
    if (stopped && !result.ok) {
      // Cut short by shutdown, not failed: left started, it runs again on restart with the same idempotency key.
      logger.info({ incidentId, step: step.name, reason: result.error }, `step interrupted by shutdown: ${step.name}; it resumes on restart or in another healer`);
      return;
    }
    metrics.steps.inc({ phase, outcome: result.ok ? 'succeeded' : 'failed' });
    const command: RemediationCommand = result.ok
      ? { type: 'RecordStepResult', phase, step: stepIndex, ok: true, detail: result.detail, dryRun: plan.dryRun }
      : { type: 'RecordStepResult', phase, step: stepIndex, ok: false, error: result.error };
    await execute(incidentId, command, { lease });
  };

  /** Remediations whose verification said it waits for data (said once each). */
  const awaitingData = new Set<string>();
  // verify: the signal over closed intervals since verification started, against max or the baseline.
  const verify = async (incidentId: string, state: ActiveRemediation, lease: Lease) => {
    const { plan } = state;
    if (!state.verificationStartedAt) {
      await execute(incidentId, { type: 'StartVerification' }, { lease });
      return;
    }
    const startedAtMs = Date.parse(state.verificationStartedAt);
    const closedBefore = Math.floor((now() - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
    const points = await verifyPoints(sql, options.resolutionSeconds, plan.service, plan.verify.signal, startedAtMs, closedBefore);
    let baseline: number | undefined;
    if (plan.verify.baselineFactor !== undefined && plan.incidentWindowStart) {
      const windowStartMs = Date.parse(plan.incidentWindowStart);
      const before = await verifyPoints(sql, options.resolutionSeconds, plan.service, plan.verify.signal, windowStartMs - baselineIntervals * resolutionMs, windowStartMs);
      baseline = baselineOf(before, windowStartMs, resolutionMs);
    }
    const verdict = verifySignal(points, { ...plan.verify, startedAtMs, baseline, nowMs: closedBefore });
    // Not done before the last interval of the window has closed (and its grace passed): wait for that.
    const windowEndMs = startedAtMs + plan.verify.windowSeconds * 1000;
    const afterWindowMs = Math.ceil(windowEndMs / resolutionMs) * resolutionMs;
    if (!verdict.done) return wait(afterWindowMs + options.graceSeconds * 1000 - now());
    // Nor before the signal's own data has moved past the window: an analyzer behind on a busy machine
    // has not stored the window's last intervals yet. An agent that sends nothing after the window is
    // judged anyway, four intervals later.
    const settledByMs = afterWindowMs + options.graceSeconds * 1000 + 4 * resolutionMs;
    if (now() < settledByMs && (await verifyPoints(sql, options.resolutionSeconds, plan.service, plan.verify.signal, afterWindowMs, now() + resolutionMs)).length === 0) {
      if (!awaitingData.has(incidentId)) {
        awaitingData.add(incidentId);
        logger.info({ incidentId, service: plan.service, signal: plan.verify.signal }, `verification waits for ${plan.verify.signal} of ${plan.service} to move past its window (not stored yet: the analyzer is behind, or the agent sends nothing)`);
      }
      return wait(Math.min(500, settledByMs - now()));
    }
    awaitingData.delete(incidentId);
    // Only the remediation's outcome: the analyzer decides what it means for the incident (mitigated, reopened).
    await execute(incidentId, { type: 'RecordVerification', ok: verdict.ok, detail: verdict.detail }, { lease });
  };

  // Drives one remediation from whatever its stream says already happened to a final status; true once final.
  const drive = async (incidentId: string, lease: Lease, held: { lost: boolean }): Promise<boolean> => {
    while (!stopped && !held.lost) {
      const state = await load(incidentId);
      if (state.status === 'none' || state.status === 'refused' || !unfinishedStatuses.includes(state.status)) return true;
      if (state.status === 'awaiting_approval') {
        const deadlineMs = Date.parse(state.awaitingSince!) + (state.plan.approvalTimeoutSeconds ?? 900) * 1000;
        if (now() >= deadlineMs) await execute(incidentId, { type: 'TimeOutApproval' }, { lease });
        else await wait(Math.min(appendsAnnounced ? (options.safetyMs ?? 5_000) : pollMs, deadlineMs - now()), 'appended');
        continue;
      }
      if (state.status === 'verifying') await verify(incidentId, state, lease);
      else await act(incidentId, state, lease);
    }
    return false;
  };

  /** Renews `lease` every third of its time while the remediation is driven; `lost` once it could not. */
  const keepLease = (lease: Lease) => {
    const held = { lost: false };
    let timer: NodeJS.Timeout | undefined;
    let stopping = false;
    const renew = async () => {
      try {
        held.lost = !(await renewLease(sql, lease, now(), leaseMs));
        if (held.lost) {
          logger.warn({ incidentId: lease.incidentId, healerId: options.healerId }, 'lease lost before it could be renewed; another healer takes the remediation over');
          wakeAll();
        }
      } catch (error) {
        logger.error({ err: error, incidentId: lease.incidentId }, 'lease renewal failed; trying again');
      }
      if (!held.lost && !stopping) timer = setTimeout(renew, renewalIntervalMs(leaseMs));
    };
    timer = setTimeout(renew, renewalIntervalMs(leaseMs));
    return {
      held,
      stop: () => {
        stopping = true;
        clearTimeout(timer);
      },
    };
  };

  // Claim → drive → release: only the holder of a remediation's lease drives it. An error leaves the
  // lease to expire, after which this healer or another takes the remediation over.
  const track = (incidentId: string) => {
    if (stopped || running.has(incidentId)) return;
    const run = async () => {
      const claim = await acquireLease(sql, { incidentId, owner: options.healerId, nowMs: now(), ttlMs: leaseMs });
      const remediationId = remediationIdOf(incidentId);
      if (!claim.ok) {
        logger.debug({ incidentId, remediationId, heldBy: claim.heldBy.owner }, `remediation ${remediationId} is driven by healer ${claim.heldBy.owner} (lease until ${new Date(claim.heldBy.expiresAtMs).toISOString()})`);
        return;
      }
      const { lease, takenFrom } = claim;
      if (takenFrom) {
        logger.warn(
          { incidentId, remediationId, from: takenFrom.owner, fence: lease.fence },
          `took over remediation ${remediationId} from healer ${takenFrom.owner} (lease expired at ${new Date(takenFrom.expiresAtMs).toISOString()})`,
        );
      }
      const keeper = keepLease(lease);
      let final: boolean;
      try {
        final = await drive(incidentId, lease, keeper.held);
      } finally {
        keeper.stop();
      }
      if (!keeper.held.lost) await releaseLease(sql, lease, { final, nowMs: now() });
    };
    const task = run()
      .catch((error: unknown) => {
        if (error instanceof LeaseLostError) {
          logger.warn({ incidentId, heldBy: error.current?.owner }, `stopped driving the remediation of incident ${incidentId}: ${error.message}`);
        } else {
          logger.error({ err: error, incidentId }, 'remediation run failed; it resumes once its lease expires');
        }
      })
      .finally(() => running.delete(incidentId));
    running.set(incidentId, task);
  };

  // Takes over what a stopped or dead healer left open, approvals included (their timeouts run from the
  // recorded time): at start, then every third of the lease time.
  const takeOver = async () => {
    for (const { incidentId, status } of await claimableRemediations(sql, unfinishedStatuses, options.healerId, now())) {
      if (stopped) return;
      if (running.has(incidentId)) continue;
      logger.info({ incidentId, status }, `resuming remediation (${status.replace('_', ' ')})`);
      track(incidentId);
    }
  };

  // match → target → guard → start, on the incident's settled ranking: the evidence is complete by then
  // (one interval of event time after opening), so nothing here waits. When nothing fits yet, every later
  // piece of evidence (a signal attached, a new ranking) is a new chance: the root cause's own signal
  // may cross its line after the settled ranking named it. One remediation per incident.
  const decideOn = async (incidentId: string, throughVersion: number, settling: boolean) => {
    const existing = await load(incidentId);
    if (existing.status !== 'none') {
      if (existing.status !== 'refused' && unfinishedStatuses.includes(existing.status)) track(incidentId);
      return;
    }
    const incident = await incidentFacts(sql, incidentId, throughVersion);
    if (!incident) {
      logger.warn({ incidentId }, 'evidence of an incident that never opened, ignored');
      return;
    }
    if (!incident.settled) return;
    const choice = choosePlaybook(options.playbooks, incident);
    if (!choice.chosen) {
      logger[settling ? 'info' : 'debug']({ incidentId, service: incident.service, signal: incident.signal }, choice.explanation);
      return;
    }
    const { playbook: book, target } = choice.chosen;
    const controlUrl = target.service === incident.service && incident.controlUrl ? incident.controlUrl : await controlUrlOf(sql, target.service);
    const plan = planOf(book, incident, { service: target.service, controlUrl, why: choice.explanation, dryRun: options.dryRun ?? false });
    const beforeStart = async (tx: TransactionSql): Promise<RemediationCommand> => {
      const nowMs = now();
      const verdict = guard(book.guard, {
        playbookId: book.id,
        service: target.service,
        nowMs,
        recent: await guardRemediations(tx, nowMs - Math.max(3_600_000, book.guard.cooldownSeconds * 1000)),
        fleet: await fleetServices(tx, nowMs),
      });
      if (verdict.allow) return { type: 'StartRemediation', ...plan };
      return { type: 'RefuseRemediation', remediationId: plan.remediationId, incidentId, playbookId: book.id, service: target.service, reason: verdict.reason };
    };
    await execute(incidentId, { type: 'StartRemediation', ...plan }, { beforeStart });
    // act → verify → (rollback) run apart from the consumer: a slow step never delays another incident.
    track(incidentId);
  };

  const consume = async ({ records }: { records: ConsumedRecord[] }) => {
    for (const record of records) {
      const parsed = hephEvent.safeParse(JSON.parse(record.value.toString()));
      if (!parsed.success) {
        logger.warn({ offset: record.offset.toString(), reason: parsed.error.issues[0]?.message }, 'unreadable event skipped');
        continue;
      }
      const event = parsed.data;
      if (event.type !== 'incident.root_cause_ranked' && event.type !== 'incident.signal_attached') continue;
      // Act only on incidents this control plane recorded: a shared topic may carry another's events.
      if (!(await hasEvent(sql, event.id))) {
        logger.warn({ eventId: event.id }, 'incident event not in this event store, ignored');
        continue;
      }
      await decideOn(event.data.incidentId, event.version, event.type === 'incident.root_cause_ranked' && event.data.settled === true);
    }
  };

  await takeOver();
  let scan: NodeJS.Timeout | undefined;
  let scanning = Promise.resolve();
  const scanLater = () => {
    scan = setTimeout(() => {
      scanning = takeOver()
        .catch((error: unknown) => logger.error({ err: error }, 'looking for remediations to take over failed'))
        .finally(() => {
          if (!stopped) scanLater();
        });
    }, renewalIntervalMs(leaseMs));
  };
  scanLater();
  // An approval (or a rejection) is an append: a remediation waiting for one looks again at once.
  const unlisten = options.database
    ? await onEventsAppended(options.database, () => {
        for (const done of [...waitingForAppends]) done();
      })
        .then((stopListening) => {
          appendsAnnounced = true;
          return stopListening;
        })
        .catch((error: unknown) => {
          logger.warn({ err: error }, `appends are not announced: a remediation waiting for approval looks again every ${pollMs} ms`);
          return undefined;
        })
    : undefined;
  const groupId = `${options.consumerGroupPrefix}-healer`;
  /** The deciding healer's position in a partition of heph.events, stored after each batch. */
  const positionName = (partition: number) => `${groupId}:${topics.events}:${partition}`;
  const follow = async () => {
    const exclusive = options.decidingLock !== undefined;
    const stored = await Promise.all(
      Array.from({ length: topicPartitions[topics.events] }, async (_, partition) => ({ topic: topics.events, partition, offset: await readCheckpoint(sql, positionName(partition)) })),
    );
    const subscription = await options.log.subscribe({
      groupId,
      topics: [topics.events],
      handle: async (batch) => {
        await consume(batch);
        if (exclusive) await storeCheckpoint(sql, positionName(batch.partition), batch.records.at(-1)!.offset + 1n);
      },
      ...(exclusive ? { exclusive: { from: startingPositions(stored.filter((p) => p.offset > 0n), await options.log.committed(groupId, [topics.events])) } } : {}),
    });
    logger.info({ playbooks: options.playbooks.map((p) => p.id), dryRun: options.dryRun ?? false, healerId: options.healerId, leaseSeconds: options.leaseSeconds }, 'healer consuming heph.events');
    return subscription;
  };
  const deciding = options.decidingLock
    ? await runActiveStandby({ database: options.decidingLock.database, lockKey: decidingLockKey, name: 'deciding healer', logger, start: follow, onLost: options.decidingLock.onLost })
    : { ...(await follow()), active: () => true };
  new Gauge({ name: 'heph_healer_deciding', help: 'Whether this healer follows heph.events and decides on new incidents (1) or stands by for that (0); every healer drives remediations.', registers: [options.registry], collect() { this.set(deciding.active() ? 1 : 0); } });

  return {
    /** Stops cleanly: steps in flight finish or are left started, and every lease is given up for another healer. */
    stop: async () => {
      stopped = true;
      wakeAll();
      clearTimeout(scan);
      await scanning;
      await deciding.stop();
      await Promise.all(running.values());
      await unlisten?.();
    },
  };
};
