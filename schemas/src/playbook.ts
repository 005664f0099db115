// The recovery playbook file format (YAML in playbooks/), validated at load.
import { z } from 'zod';
import { signalName } from './events.ts';

export const playbookStep = z.object({
  name: z.string().min(1),
  action: z.enum(['agent.restart', 'agent.set_config', 'http']),
  /**
   * For `http`: `url` (its host must be on the healer's allow-list) and optional `method`. For
   * `agent.set_config`: any of `model`, `cache` (true/false), `circuitBreaker` (open/closed), `concurrency`.
   */
  params: z.record(z.string(), z.string()).default({}),
  timeoutSeconds: z.number().positive().default(10),
  retries: z.number().int().min(0).max(10).default(2),
});
export type PlaybookStep = z.infer<typeof playbookStep>;

export const playbook = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  description: z.string().min(1),
  match: z.object({
    /** A glob over service.name: `*` matches any run of characters. */
    service: z.string().default('*'),
    signal: signalName,
  }),
  steps: z.array(playbookStep).min(1),
  verify: z.object({
    /** Verification reads the error rate today; other signals are the next step. */
    signal: z.literal('error_rate'),
    windowSeconds: z.number().positive().default(30),
    maxErrorRate: z.number().min(0).max(1).default(0.05),
  }),
});
export type Playbook = z.infer<typeof playbook>;
