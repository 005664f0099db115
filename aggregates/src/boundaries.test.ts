// The boundaries between services hold: no service imports another service's package or reaches into its
// folder, no service's package.json depends on another service, and each SQL table is touched by its
// owning package only (services talk through events, APIs and the aggregates' stores and read models).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const servicesDir = join(root, 'services');
const services = readdirSync(servicesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => ({ folder: d.name, name: (JSON.parse(readFileSync(join(servicesDir, d.name, 'package.json'), 'utf8')) as { name: string }).name }));
const serviceNames = new Set(services.map((s) => s.name));

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(path);
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [path] : [];
  });

/** Every module specifier of a file: static imports and re-exports, side-effect imports, dynamic imports. */
const specifiers = (text: string): string[] =>
  [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);

/** `services/<folder>/…` of an absolute path inside the repository, or undefined. */
const serviceFolderOf = (path: string) => {
  const parts = relative(root, path).split(sep);
  return parts[0] === 'services' ? parts[1] : undefined;
};

const files = services.flatMap((s) => sourceFiles(join(servicesDir, s.folder, 'src')).map((file) => ({ service: s, file, text: readFileSync(file, 'utf8') })));

describe('service boundaries', () => {
  it('reads the source of every service', () => {
    expect(services.map((s) => s.name).sort()).toEqual(['@hephaestus/analyzer', '@hephaestus/console', '@hephaestus/healer', '@hephaestus/ingest']);
    for (const s of services) expect(files.filter((f) => f.service === s).length, s.name).toBeGreaterThan(0);
  });

  it("no service imports another service's package or reaches into its folder", () => {
    const offences: string[] = [];
    for (const { service, file, text } of files) {
      for (const spec of specifiers(text)) {
        const pkg = spec.match(/^@hephaestus\/[^/]+/)?.[0];
        const reachesOut = spec.startsWith('.') && serviceFolderOf(resolve(dirname(file), spec)) !== service.folder;
        if ((pkg && pkg !== service.name && serviceNames.has(pkg)) || reachesOut) offences.push(`${relative(root, file)} imports '${spec}'`);
      }
    }
    expect(offences).toEqual([]);
  });

  it('no service depends on another service in its package.json', () => {
    const offences: string[] = [];
    for (const s of services) {
      const { dependencies = {} } = JSON.parse(readFileSync(join(servicesDir, s.folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const name of Object.keys(dependencies)) if (name !== s.name && serviceNames.has(name)) offences.push(`services/${s.folder}/package.json depends on ${name}`);
    }
    expect(offences).toEqual([]);
  });
});

/** Each table's one owning package (platform/src/migrations creates them all). */
const owners: Record<string, string> = {
  schema_migrations: '@hephaestus/platform',
  events: '@hephaestus/platform',
  checkpoints: '@hephaestus/platform',
  log_partitions: '@hephaestus/platform',
  log_records: '@hephaestus/platform',
  log_offsets: '@hephaestus/platform',
  incidents: '@hephaestus/aggregates',
  remediations: '@hephaestus/aggregates',
  applied_offsets: '@hephaestus/analyzer',
  applied_requests: '@hephaestus/analyzer',
  detector_checkpoints: '@hephaestus/analyzer',
  correlator_checkpoints: '@hephaestus/analyzer',
  posted_alerts: '@hephaestus/console',
  metric_streams: '@hephaestus/analyzer',
  rollups: '@hephaestus/analyzer',
  series: '@hephaestus/analyzer',
  service_limits: '@hephaestus/analyzer',
  service_versions: '@hephaestus/analyzer',
  topology_edges: '@hephaestus/analyzer',
  incident_traces: '@hephaestus/analyzer',
  service_partitions: '@hephaestus/analyzer',
  frozen_baselines: '@hephaestus/analyzer',
  remediation_leases: '@hephaestus/healer',
  silences: '@hephaestus/aggregates',
};

const tablesIn = (text: string) => new Set([...text.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1]!).filter((t) => t in owners));

describe('table ownership', () => {
  it('knows the owner of every table the migrations create', () => {
    const migrations = join(root, 'platform/src/migrations');
    const created = readdirSync(migrations).flatMap((f) => [...readFileSync(join(migrations, f), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_0-9]+)/g)].map((m) => m[1]!));
    expect(created.length).toBeGreaterThan(0);
    expect([...new Set(created)].filter((t) => !(t in owners))).toEqual([]);
  });

  it('a service touches only the tables its package owns (SQL FROM, JOIN, INTO, UPDATE)', () => {
    // The scan sees SQL: it finds the analyzer's own tables in the analyzer.
    expect(files.some((f) => f.service.name === '@hephaestus/analyzer' && tablesIn(f.text).has('series'))).toBe(true);
    const found: string[] = [];
    for (const { service, file, text } of files) for (const table of tablesIn(text)) if (owners[table] !== service.name) found.push(`${relative(root, file)}: ${table} (owned by ${owners[table]})`);
    expect(found, "tables a service touches but does not own: read them through the owner's query module").toEqual([]);
  });
});
