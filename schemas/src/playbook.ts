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
    signal: z.string().min(1).default('error_rate').describe('`error_rate`, `latency_p99` (ms), or an analyzer series name such as `gen_ai.cost` or a gauge.'),
    windowSeconds: z.number().positive().default(30),
    max: z.number().optional().describe('Every interval in the window stays at or under this value.'),
    baselineFactor: z.number().positive().optional().describe('Every interval in the window stays under the pre-incident baseline times this factor.'),
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
        service: z.string().default('*').describe('A glob over service.name: `*` matches any run of characters.'),
        signal: signalName,
        severity: z.array(severity).optional().describe('The incident severities this playbook answers; any when absent.'),
        labels: z.record(z.string(), z.string()).optional().describe('Labels the incident carries (service, signal, severity; team and deployment.environment when the telemetry says) that must all be equal.'),
        errorSignature: z.string().optional().describe("A glob over the incident's error signatures (Drain templates or error types); an incident without one does not match."),
        direction: z
          .enum(['above', 'below'])
          .optional()
          .describe('Only incidents whose value is above (or below) their baseline: series detectors also alarm on drops, which shedding load or capping spend would not cure.'),
        onset: z
          .enum(['sudden', 'gradual'])
          .optional()
          .describe(
            "Only when the target's signal got off its baseline this way, as first seen: within two intervals (sudden: a step, e.g. a saturated pool) or over more (gradual: a creep, which shedding load would only postpone).",
          ),
      })
      .strict(),
    target: z.enum(['root_cause', 'incident']).default('root_cause').describe("Act on the incident's top-ranked root cause (default) or on the incident's own service."),
    guard: z
      .object({
        maxRunsPerHour: z.number().int().positive().default(3),
        cooldownSeconds: z.number().min(0).default(300),
        concurrency: z.number().int().positive().default(1).describe('Remediations of this playbook running at once, over the whole fleet.'),
        maxServices: z.number().int().positive().optional().describe('At most this many services of the fleet acted on at once by any playbook…'),
        maxPercent: z.number().min(0).max(100).optional().describe("…and at most this share of the fleet's services seen in the last 10 minutes (0–100)."),
      })
      .strict()
      .default({ maxRunsPerHour: 3, cooldownSeconds: 300, concurrency: 1 }),
    approval: z
      .object({
        required: z.boolean().default(false),
        timeoutSeconds: z.number().positive().default(900),
        onTimeout: z.enum(['escalate', 'reject']).default('escalate').describe('What happens when nobody answers in time.'),
      })
      .strict()
      .default({ required: false, timeoutSeconds: 900, onTimeout: 'escalate' }),
    steps: z.array(playbookStep).min(1),
    verify: playbookVerify,
    rollback: z.array(playbookStep).default([]).describe('Steps that undo `steps` when verification fails.'),
    onFailure: z.enum(['escalate', 'none']).default('escalate'),
    dryRun: z.boolean().default(false).describe('Record what would be done and do nothing.'),
  })
  .strict();
export type Playbook = z.infer<typeof playbook>;

/** The playbook format as JSON Schema (what a YAML file may contain, defaults included), for editors. */
export const playbookJsonSchema = () => ({
  title: 'Hephaestus recovery playbook',
  ...z.toJSONSchema(playbook, { io: 'input' }),
});
