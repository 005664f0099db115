// Wires the healer: onto the parts `heph up` shares, or as its own process (`heph healer`).
import { resolve } from 'node:path';
import { ConfigError, exitToStandBy, loadPlaybooks, registerWebhookRoute, startServiceProcess, type Logger, type ServiceParts } from '@hephaestus/platform';
import type { HealerConfig } from './config.ts';
import { githubFixerFromConfig } from './github/from-config.ts';
import type { GitHubFixer } from './github/fixer.ts';
import { startHealer } from './healer.ts';

/**
 * Loads the playbooks (each refused file logged), turns GitHub fix pull requests on when configured,
 * and starts the pipeline. Returns the playbooks and the fixer's webhook handler for whoever serves
 * them (the console in `heph up`, the healer's own ops server apart).
 */
export const wireHealer = async (config: HealerConfig, { runtime, registry, logger }: ServiceParts) => {
  const { playbooks, errors } = await loadPlaybooks(config.HEPH_PLAYBOOKS_DIR).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(
      `cannot read the playbooks in ${resolve(config.HEPH_PLAYBOOKS_DIR)} (${error.code ?? error.message}): set HEPH_PLAYBOOKS_DIR, or start heph where its playbooks/ folder is (the repository's root)`,
    );
  });
  for (const error of errors) logger.error(error, `playbook refused: ${error.file}:${error.line}: ${error.reason}`);
  let github: GitHubFixer | undefined;
  const fromConfig = await githubFixerFromConfig(config, { sql: runtime.db.sql, logger: logger.child({ part: 'github' }), consoleUrl: config.HEPH_CONSOLE_URL });
  if ('fixer' in fromConfig) {
    github = fromConfig.fixer;
    logger.info({ repository: config.HEPH_GITHUB_REPOSITORY, api: config.HEPH_GITHUB_API_URL }, 'github fix pull requests on');
  } else if (playbooks.some((p) => [...p.steps, ...p.rollback].some((s) => s.action.startsWith('github.')))) {
    logger.warn({ reason: fromConfig.reason }, `github steps of playbooks will fail: ${fromConfig.reason}`);
  }
  const healer = await startHealer({
    sql: runtime.db.sql,
    database: runtime.db,
    log: runtime.log,
    logger,
    registry,
    playbooks,
    allowedHosts: config.HEPH_HEALER_ALLOWED_HOSTS,
    allowedOrigins: config.HEPH_HEALER_ALLOWED_ORIGINS,
    controlToken: config.HEPH_AGENT_CONTROL_TOKEN,
    resolutionSeconds: config.HEPH_RESOLUTION_SECONDS,
    graceSeconds: config.HEPH_DETECT_GRACE_SECONDS,
    consumerGroupPrefix: config.HEPH_CONSUMER_GROUP_PREFIX,
    dryRun: config.HEPH_HEALER_DRY_RUN,
    healerId: config.HEPH_HEALER_ID,
    leaseSeconds: config.HEPH_HEALER_LEASE_SECONDS,
    github,
    // A healer whose deciding turn went with its lock connection exits (1): its supervisor starts it again, standing by.
    decidingLock: { database: runtime.db, onLost: exitToStandBy },
  }).catch(async (error: unknown) => {
    await github?.stop();
    throw error;
  });
  return {
    playbooks,
    playbookErrors: errors,
    githubWebhooks: github?.handleWebhook,
    routes: github ? (app: Parameters<typeof registerWebhookRoute>[0]) => registerWebhookRoute(app, '/github/webhooks', github.handleWebhook, logger) : undefined,
    stop: async () => {
      await github?.stop();
      await healer.stop();
    },
  };
};

/** `heph healer`: GitHub delivers its webhooks to this process's port (POST /github/webhooks). */
export const startHealerProcess = (config: HealerConfig, logger: Logger) =>
  startServiceProcess({
    service: 'healer',
    config,
    logger,
    publishes: true,
    ops: { host: config.HEPH_HEALER_HOST, port: config.HEPH_HEALER_PORT },
    wire: (parts) => wireHealer(config, parts),
  });
