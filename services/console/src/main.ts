// Wires the console: onto the parts `heph up` shares, or as its own process (`heph console`).
import { listen, loadCosts, loadPlaybooks, startServiceProcess, type Logger, type ServiceParts, type WebhookHandler } from '@hephaestus/platform';
import type { ConsoleConfig } from './config.ts';
import { createConsoleServer, type ConsoleOptions } from './console.ts';

/** What `heph up` hands over from the healer beside it: its playbooks and GitHub's webhook deliveries. */
export type FromHealer = { playbooks: NonNullable<ConsoleOptions['playbooks']>; playbookErrors: NonNullable<ConsoleOptions['playbookErrors']>; githubWebhooks?: WebhookHandler };

export const wireConsole = async (config: ConsoleConfig, { runtime, registry, logger }: ServiceParts, fromHealer?: FromHealer) => {
  // Apart, the playbooks are read for display only (the healer logs the refused ones), and GitHub's
  // webhooks go to the healer's port.
  const { playbooks, errors: playbookErrors } = fromHealer ? { playbooks: fromHealer.playbooks, errors: fromHealer.playbookErrors } : await loadPlaybooks(config.HEPH_PLAYBOOKS_DIR);
  const server = createConsoleServer({
    sql: runtime.db.sql,
    databaseKind: runtime.db.kind,
    logger,
    registry,
    // Its database (the console checks it) and the log the other services write to.
    readiness: { log: runtime.log.ready },
    tokens: config.HEPH_CONSOLE_TOKENS,
    allowedHosts: config.HEPH_CONSOLE_ALLOWED_HOSTS,
    consoleUrl: config.HEPH_CONSOLE_URL,
    playbooks,
    playbookErrors,
    githubWebhooks: fromHealer?.githubWebhooks,
    budgets: (await loadCosts(config.HEPH_COSTS_FILE)).budgets,
    limits: config.HEPH_LIMITS,
  });
  const port = await listen(server, config.HEPH_CONSOLE_HOST, config.HEPH_CONSOLE_PORT);
  // Links use HEPH_CONSOLE_URL when set; otherwise the address the console listens on.
  const url = config.HEPH_CONSOLE_URL === consoleUrlDefault ? `http://${config.HEPH_CONSOLE_HOST}:${port}` : config.HEPH_CONSOLE_URL;
  return {
    url,
    stop: async () => {
      await server.close();
    },
  };
};

const consoleUrlDefault = 'http://127.0.0.1:8080';

/** `heph console`: stateless over the projections; it appends events (acknowledgements, silences), so it may publish them. */
export const startConsoleProcess = (config: ConsoleConfig, logger: Logger) =>
  startServiceProcess({ service: 'console', config, logger, publishes: true, wire: (parts) => wireConsole(config, parts) });
