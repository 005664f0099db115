// The console's configuration, from the environment.
import { baseConfig, env, sharedConfig, type NamedToken } from '@hephaestus/platform';
import { z } from 'zod';

const tokenName = /^[A-Za-z0-9][\w.@-]*$/;

/**
 * `name:token` entries (`alice:s3cret,bob:0ther`): the name is who acts (`by`, `createdBy`). A plain
 * `token` entry is named by its position: `token-1`, `token-2`…
 */
export const namedTokens = (entries: string[]): NamedToken[] =>
  entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon);
    return colon > 0 && colon < entry.length - 1 && tokenName.test(name) ? { name, token: entry.slice(colon + 1) } : { name: `token-${i + 1}`, token: entry };
  });

export const consoleConfig = baseConfig.extend({
  HEPH_CONSOLE_HOST: z.string().default('127.0.0.1'),
  HEPH_CONSOLE_PORT: env.port(8080),
  /**
   * Named bearer tokens for everything but health, metrics, the page and the GitHub webhook; unset: the
   * API is open, and the console refuses to listen anywhere but on loopback.
   */
  HEPH_CONSOLE_TOKENS: env.list().transform(namedTokens),
  /**
   * The names requests may address the console by (Host header), `name` (any port) or `name:port`;
   * unset: localhost, 127.0.0.1, [::1], the listen host and HEPH_CONSOLE_URL's host.
   */
  HEPH_CONSOLE_ALLOWED_HOSTS: env.list(),
  ...sharedConfig,
});
export type ConsoleConfig = z.infer<typeof consoleConfig>;
