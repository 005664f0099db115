// The remediations API: what the healer did or wants to do (plan, steps with their attempts and
// results, verification, rollback, timeline), approve or reject one waiting for a human, and the
// playbooks loaded with the files that were refused.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { getRemediation, handleRemediationCommand, listRemediations, loadRemediation } from '@hephaestus/aggregates';
import type { Logger, PlaybookError, Sql } from '@hephaestus/platform';
import type { Playbook } from '@hephaestus/schemas';
import { z } from 'zod';

type Problem = (reply: FastifyReply, status: number, title: string, detail: string) => FastifyReply;
export type RemediationsApiOptions = {
  sql: Sql;
  logger: Logger;
  problem: Problem;
  /** The token's name when tokens are set: who approves or rejects, whatever the body says. */
  principalOf: (request: FastifyRequest) => string | undefined;
  playbooks?: Playbook[];
  playbookErrors?: PlaybookError[];
};

const listQuery = z.object({ status: z.string().min(1).optional(), service: z.string().min(1).optional(), incident: z.string().min(1).optional() });
const decisionBody = z.object({ by: z.string().min(1).max(200).default('api'), reason: z.string().max(1000).optional() }).default({ by: 'api' });

export const registerRemediationsApi = (app: FastifyInstance, options: RemediationsApiOptions) => {
  const { sql, problem } = options;

  app.get('/api/remediations', async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) return problem(reply, 400, 'Bad Request', query.error.issues[0]!.message);
    const { status, service, incident } = query.data;
    return { remediations: await listRemediations(sql, { status, service, incidentId: incident, limit: 500 }) };
  });

  const detail = async (id: string) => {
    const row = await getRemediation(sql, id);
    if (!row) return undefined;
    const { state, events } = await loadRemediation(sql, row.incidentId);
    const timeline = events.map((e) => ({ type: e.type, occurredAt: e.occurredAt, data: e.data }));
    if (state.status === 'none' || state.status === 'refused') {
      return { ...row, refusal: state.status === 'refused' ? state.refused.reason : undefined, timeline };
    }
    const { plan } = state;
    const withKey = <S extends { phase: string; step: number }>(s: S) => ({ ...s, idempotencyKey: `${plan.remediationId}:${s.phase}:${s.step}` });
    const verdict = timeline.find((e) => e.type === 'remediation.validated' || (e.type === 'remediation.failed' && String((e.data as { reason: string }).reason).startsWith('verification failed')));
    return {
      ...row,
      plan: {
        playbookId: plan.playbookId,
        target: { service: plan.service, reason: plan.targetReason, controlUrl: plan.controlUrl },
        steps: plan.steps,
        rollback: state.rollbackSteps.length > 0 ? state.rollbackSteps : plan.rollback,
        verify: plan.verify,
        approval: { required: plan.approvalRequired, timeoutSeconds: plan.approvalTimeoutSeconds, onTimeout: plan.approvalOnTimeout, approvedBy: state.approvedBy, rejected: state.rejected },
        dryRun: plan.dryRun,
        onFailure: plan.onFailure,
      },
      steps: state.steps.filter((s) => s.phase === 'steps').map(withKey),
      verification: state.verificationStartedAt
        ? { ...plan.verify, startedAt: state.verificationStartedAt, finishedAt: verdict?.occurredAt, ok: verdict ? verdict.type === 'remediation.validated' : undefined, detail: state.outcome ?? (verdict ? state.failure : undefined) }
        : null,
      rollback: state.steps.filter((s) => s.phase === 'rollback').map(withKey),
      failure: state.failure,
      escalation: state.escalation,
      timeline,
    };
  };

  app.get<{ Params: { id: string } }>('/api/remediations/:id', async (request, reply) => {
    const found = await detail(request.params.id);
    return found ?? problem(reply, 404, 'Not Found', `no remediation ${request.params.id}`);
  });

  const decideOn = (decision: 'approve' | 'reject') =>
    async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const body = decisionBody.safeParse(request.body ?? undefined);
      if (!body.success) return problem(reply, 400, 'Bad Request', body.error.issues[0]!.message);
      const row = await getRemediation(sql, request.params.id);
      if (!row) return problem(reply, 404, 'Not Found', `no remediation ${request.params.id}`);
      const by = options.principalOf(request) ?? body.data.by;
      const { reason } = body.data;
      const { events } = await handleRemediationCommand(
        sql,
        row.incidentId,
        decision === 'approve' ? { type: 'ApproveRemediation', by } : { type: 'RejectRemediation', by, reason: reason ?? `rejected by ${by}` },
      );
      if (events.length === 0) {
        const now = await getRemediation(sql, row.id);
        return problem(reply, 409, 'Conflict', `remediation ${row.id} is ${now?.status ?? row.status}, not awaiting approval`);
      }
      options.logger.info({ remediationId: row.id, incidentId: row.incidentId, by }, decision === 'approve' ? `remediation approved by ${by}` : `remediation rejected by ${by}`);
      return detail(row.id);
    };
  app.post<{ Params: { id: string } }>('/api/remediations/:id/approve', decideOn('approve'));
  app.post<{ Params: { id: string } }>('/api/remediations/:id/reject', decideOn('reject'));

  app.get('/api/playbooks', async () => ({ playbooks: options.playbooks ?? [], errors: options.playbookErrors ?? [] }));
};
