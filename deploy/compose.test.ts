// deploy/compose.yaml is what the README's "With Docker Compose" table says: docker-compose (the Debian
// package validates and normalizes a compose file without a Docker engine) resolves it, and each row's
// services run that heph command, publish that port and get exactly that environment.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const composeFile = join(root, 'deploy/compose.yaml');

const compose = (env: Record<string, string>, ...args: string[]) =>
  execFileSync('docker-compose', ['-f', composeFile, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

type Service = { command?: string[]; environment?: Record<string, unknown>; ports?: Array<string | { published: string; target: number; host_ip?: string }>; depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] }; image?: string; build?: { context: string; dockerfile: string } };

/** The rows of the README's compose table: services, the command, the port, the environment. */
const readmeRows = () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('### With Docker Compose');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const shared = [...section.slice(0, section.indexOf('| compose service')).matchAll(/`([A-Z][A-Z_]+)`/g)].map((m) => m[1]!);
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
    .map(([services, command, port, environment]) => ({
      services: [...services!.matchAll(/`([\w-]+)`/g)].map((m) => m[1]!),
      command: /^`heph (\w+)`$/.exec(command!)?.[1],
      port: port!,
      environment: [...environment!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!),
    }));
  return { shared, rows };
};

describe('deploy/compose.yaml', () => {
  it('is valid, and refuses to resolve without console tokens', () => {
    expect(() => execFileSync('docker-compose', ['version'], { stdio: 'ignore' }), 'install the Debian package docker-compose (.ci/run does)').not.toThrow();
    expect(() => compose({ HEPH_CONSOLE_TOKENS: 'admin:secret' }, 'config', '-q')).not.toThrow();
    expect(() => compose({}, 'config', '-q')).toThrow(/HEPH_CONSOLE_TOKENS/);
  });

  it('runs the services, commands, ports and environment the README lists', () => {
    const { services } = parse(compose({ HEPH_CONSOLE_TOKENS: 'admin:secret' }, 'config')) as { services: Record<string, Service> };
    const { shared, rows } = readmeRows();
    expect(shared).toEqual(['KAFKA_BROKERS', 'DATABASE_URL', 'HEPH_CONSUMER_GROUP_PREFIX', 'LOG_LEVEL']);
    expect(Object.keys(services).sort()).toEqual(rows.flatMap((r) => r.services).sort());
    expect(services.kafka!.image).toMatch(/^apache\/kafka:3\.9\./);
    expect(services.postgres!.image).toMatch(/^postgres:/);
    const heph = rows.filter((r) => r.command);
    expect(heph.map((r) => r.command)).toEqual(['ingest', 'analyzer', 'healer', 'console']);
    for (const row of heph) {
      for (const name of row.services) {
        const service = services[name]!;
        expect(service.command, name).toEqual([row.command]);
        expect(Object.keys(service.environment ?? {}).sort(), name).toEqual([...shared, ...row.environment].sort());
        expect(service.environment!.KAFKA_BROKERS, name).toBe('kafka:9092');
        expect(String(service.environment!.DATABASE_URL), name).toMatch(/^postgres:\/\/heph:[^@]+@postgres:5432\/heph$/);
        // One image, built from the repository's Dockerfile.
        expect(service.image, name).toBe('hephaestus:local');
        expect(service.build?.context, name).toBe(root);
        expect(existsSync(join(root, service.build!.dockerfile)), name).toBe(true);
        expect(service.depends_on, name).toEqual({ kafka: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } });
        // Healthy when /readyz on its own port answers 200.
        const port = /^(?:127\.0\.0\.1:)?(\d+)/.exec(row.port)![1]!;
        expect(service.healthcheck?.test.join(' '), name).toContain(`http://127.0.0.1:${port}/readyz`);
        expect(Object.entries(service.environment!).find(([key]) => key.endsWith('_PORT'))?.[1], name).toBe(Number(port));
        const published = (service.ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.host_ip}:${p.published}:${p.target}/tcp`));
        expect(published, name).toEqual(row.port.startsWith('127.0.0.1:') ? [`127.0.0.1:${port}:${port}/tcp`] : []);
      }
    }
    for (const name of ['kafka', 'postgres']) expect(services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
  });
});
