// The healer's configuration, from the environment.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { baseConfig, env, sharedConfig } from '@hephaestus/platform';
import { z } from 'zod';
import { githubConfig } from './github/client.ts';

/** `scheme://host[:port]`, written back as the URL API's origin (default ports dropped, host lower-cased). */
const origin = z.string().transform((text, ctx) => {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.pathname !== '/' || url.search || url.hash || /[?#]/.test(text)) {
    ctx.addIssue({ code: 'custom', message: `expected origins like http://127.0.0.1:7001 (scheme, host, port; no path), got '${text}'` });
    return z.NEVER;
  }
  return url.origin;
});

export const healerConfig = baseConfig.extend({
  HEPH_PLAYBOOKS_DIR: sharedConfig.HEPH_PLAYBOOKS_DIR,
  /**
   * The origins the healer may call (agents' control URLs, playbook http steps), comma-separated, e.g.
   * `http://127.0.0.1:7001,http://agent.internal:8080`. When set, they alone decide.
   */
  HEPH_HEALER_ALLOWED_ORIGINS: env.list().pipe(z.array(origin)),
  /** Compatibility: hosts any port of which may be called, used only when HEPH_HEALER_ALLOWED_ORIGINS is unset. */
  HEPH_HEALER_ALLOWED_HOSTS: z
    .string()
    .default('127.0.0.1,localhost,::1')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  HEPH_AGENT_CONTROL_TOKEN: z.string().optional(),
  HEPH_RESOLUTION_SECONDS: env.seconds(10),
  HEPH_DETECT_GRACE_SECONDS: env.seconds(2),
  /** `heph healer`'s own /healthz, /readyz, /metrics and, with GitHub on, POST /github/webhooks. */
  HEPH_HEALER_HOST: z.string().default('127.0.0.1'),
  HEPH_HEALER_PORT: env.port(4320),
  /** The console's address, for links in fix pull requests. */
  HEPH_CONSOLE_URL: sharedConfig.HEPH_CONSOLE_URL,
  /** Every playbook records what it would do and does nothing. */
  HEPH_HEALER_DRY_RUN: env.bool(false),
  /** How long a healer's lease on a remediation lasts unrenewed: another healer takes over a dead one's after it. */
  HEPH_HEALER_LEASE_SECONDS: env.seconds(15),
  /** This healer's name in the remediation leases and the takeover logs; unique per healer process. */
  HEPH_HEALER_ID: z
    .string()
    .regex(/^[\w.:-]{1,128}$/, 'letters, digits, dots, colons, dashes and underscores only (at most 128)')
    .default(() => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`),
}).extend(githubConfig.shape);
export type HealerConfig = z.infer<typeof healerConfig>;
