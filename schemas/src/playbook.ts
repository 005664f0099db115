// The recovery playbook file format (YAML in playbooks/), validated at load; `heph playbooks schema`
// exports it as JSON Schema for editors.
import { z } from 'zod';
import { severity, signalName } from './events.ts';

export const playbookAction = z.enum(['agent.restart', 'agent.set_config', 'agent.rollback', 'http', 'github.fix_pr', 'github.revert']);
export type PlaybookAction = z.infer<typeof playbookAction>;

export const playbookStep = z
  .object({
    name: z.string().min(1),
    action: playbookAction,
    /**
     * Parameters, templated with incident fields (`{{incident.service}}`, `{{incident.id}}`,
     * `{{incident.signal}}`, `{{incident.severity}}`, `{{remediation.id}}`).
     * - `http`: `url` (its host must be on the healer's allow-list), optional `method` and `body`.
     * - `agent.set_config`: any of `model`, `cache` (true/false), `circuitBreaker` (open/closed), `concurrency`.
     * - `agent.rollback`: optional `version` to return to (the agent's previous one otherwise).
     * - `github.fix_pr`: `path`, `find`, `replace` (a literal edit of one file), optional `title`.
     * - `github.revert`: optional `version` (the `service.version` whose commit to revert; the incident's otherwise).
     */
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    timeoutSeconds: z.number().positive().default(10),
    retries: z.number().int().min(0).max(10).default(2),
  })
  .strict();
export type PlaybookStep = z.infer<typeof playbookStep>;

export const playbookVerify = z
  .object({
    /** `error_rate`, `latency_p99` (ms), or an analyzer series name such as `gen_ai.cost` or a gauge. */
    signal: z.string().min(1).default('error_rate'),
    windowSeconds: z.number().positive().default(30),
    /** Every interval in the window stays at or under this value. */
    max: z.number().optional(),
    /** Every interval in the window stays under the pre-incident baseline times this factor. */
    baselineFactor: z.number().positive().optional(),
  })
  .strict()
  .refine((v) => v.max !== undefined || v.baselineFactor !== undefined, { message: 'verify needs max or baselineFactor' });
export type PlaybookVerify = z.infer<typeof playbookVerify>;

export const playbook = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().min(1),
    match: z
      .object({
        /** A glob over service.name: `*` matches any run of characters. */
        service: z.string().default('*'),
        signal: signalName,
        /** The incident severities this playbook answers; any when absent. */
        severity: z.array(severity).optional(),
        /** Resource attributes of the service that must all be equal (e.g. `deployment.environment: prod`). */
        labels: z.record(z.string(), z.string()).optional(),
        /** A glob over the incident's error signature (Drain template or error type), when it has one. */
        errorSignature: z.string().optional(),
      })
      .strict(),
    /** Act on the incident's top-ranked root cause (default) or on the incident's own service. */
    target: z.enum(['root_cause', 'incident']).default('root_cause'),
    guard: z
      .object({
        maxRunsPerHour: z.number().int().positive().default(3),
        cooldownSeconds: z.number().min(0).default(300),
        /** Remediations of this playbook running at once, over the whole fleet. */
        concurrency: z.number().int().positive().default(1),
        /** At most this many services of the fleet acted on at once by any playbook… */
        maxServices: z.number().int().positive().optional(),
        /** …and at most this share of the fleet's services (0–100). */
        maxPercent: z.number().min(0).max(100).optional(),
      })
      .strict()
      .default({ maxRunsPerHour: 3, cooldownSeconds: 300, concurrency: 1 }),
    approval: z
      .object({
        required: z.boolean().default(false),
        timeoutSeconds: z.number().positive().default(900),
        /** What happens when nobody answers in time. */
        onTimeout: z.enum(['escalate', 'reject']).default('escalate'),
      })
      .strict()
      .default({ required: false, timeoutSeconds: 900, onTimeout: 'escalate' }),
    steps: z.array(playbookStep).min(1),
    verify: playbookVerify,
    /** Steps that undo `steps` when verification fails. */
    rollback: z.array(playbookStep).default([]),
    onFailure: z.enum(['escalate', 'none']).default('escalate'),
    /** Record what would be done and do nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type Playbook = z.infer<typeof playbook>;
