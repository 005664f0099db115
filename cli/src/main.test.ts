// The heph command line as a user meets it: help, and a clear refusal of what it does not know.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDatabase } from '@hephaestus/platform/testing';

const heph = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, 'main.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });
const hephWith = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [join(import.meta.dirname, 'main.ts'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });

describe('heph', () => {
  it('prints its help and exits 0 when asked', () => {
    for (const args of [['--help'], ['help'], ['up', '--help']]) {
      const run = heph(...args);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^usage: heph <command>/);
    }
  });

  it('refuses an unknown command with a message and exit code 2, even with --help', () => {
    for (const args of [['anything'], ['anything', '--help'], ['upp', '-h']]) {
      const run = heph(...args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^heph: unknown command '${args[0]}' \\(the commands are up, ingest, analyzer, healer, console, demo, detect`));
    }
  });

  it('lists the service commands in its help', () => {
    const run = heph('help');
    for (const service of ['ingest', 'analyzer', 'healer', 'console']) expect(run.stdout).toMatch(new RegExp(`^  ${service} +run `, 'm'));
  });

  it.each([
    ['ingest', ['HEPH_INGEST_PORT (default 4318)', 'HEPH_INGEST_TOKENS']],
    ['analyzer', ['HEPH_ANALYZER_PORT (default 4319)', 'HEPH_RESOLUTION_SECONDS (default 10)', 'HEPH_ALERT_WEBHOOK_URL']],
    ['healer', ['HEPH_HEALER_PORT (default 4320)', 'HEPH_PLAYBOOKS_DIR (default ./playbooks)', 'HEPH_GITHUB_REPOSITORY']],
    ['console', ['HEPH_CONSOLE_PORT (default 8080)', 'HEPH_CONSOLE_TOKENS', 'HEPH_PLAYBOOKS_DIR (default ./playbooks)']],
  ])('heph %s --help names the environment variables it reads and exits 0', (service, variables) => {
    const run = heph(service, '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^usage: heph ${service}\n`));
    for (const variable of ['KAFKA_BROKERS', 'DATABASE_URL (required', 'HEPH_CONSUMER_GROUP_PREFIX (default heph)', ...variables]) expect(run.stdout).toContain(`  ${variable}`);
  });

  it('refuses to run a service apart without DATABASE_URL, saying why, with exit code 2', () => {
    for (const service of ['ingest', 'analyzer', 'healer', 'console']) {
      const run = hephWith({ DATABASE_URL: '', KAFKA_BROKERS: '' }, service);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^heph: ${service} runs apart from the other services, so they must share a PostgreSQL database: set DATABASE_URL`));
    }
  });

  it('says where it looked for the playbooks when they are not there, with exit code 2', async () => {
    const db = await freshDatabase();
    try {
      const run = hephWith({ DATABASE_URL: db.url, KAFKA_BROKERS: '', HEPH_HEALER_PORT: '0', HEPH_PLAYBOOKS_DIR: '/nonexistent/playbooks' }, 'healer');
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('heph: cannot read the playbooks in /nonexistent/playbooks (ENOENT): set HEPH_PLAYBOOKS_DIR');
    } finally {
      await db.drop();
    }
  });
});
