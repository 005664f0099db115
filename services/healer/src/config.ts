// The healer's configuration, from the environment.
import { baseConfig, env } from '@hephaestus/platform';
import { z } from 'zod';
import { githubConfig } from './github/client.ts';

export const healerConfig = baseConfig.extend({
  HEPH_PLAYBOOKS_DIR: z.string().default('./playbooks'),
  HEPH_HEALER_ALLOWED_HOSTS: z
    .string()
    .default('127.0.0.1,localhost,::1')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  HEPH_AGENT_CONTROL_TOKEN: z.string().optional(),
  HEPH_RESOLUTION_SECONDS: env.seconds(10),
  HEPH_DETECT_GRACE_SECONDS: env.seconds(2),
  HEPH_HEALER_PORT: env.port(4320),
  /** Every playbook records what it would do and does nothing. */
  HEPH_HEALER_DRY_RUN: env.bool(false),
  /** How long a `target: root_cause` playbook waits for the incident's root-cause ranking. */
  HEPH_HEALER_RANKING_WAIT_SECONDS: env.seconds(5),
}).extend(githubConfig.shape);
export type HealerConfig = z.infer<typeof healerConfig>;
