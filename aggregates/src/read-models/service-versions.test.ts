// The versions each service reported, on real PostgreSQL: live at a moment, released or back since one.
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { serviceVersionAt, versionFirstSeenSince, versionLastSeenSince } from './service-versions.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('service versions read model', () => {
  const db = useFreshDatabase();
  beforeAll(async () => {
    await db.sql`INSERT INTO service_versions (service, version, first_seen, last_seen) VALUES
      ('planner', '1.4.1', ${new Date(t0 - 600_000)}, ${new Date(t0 + 120_000)}),
      ('planner', '1.4.2', ${new Date(t0 - 60_000)}, ${new Date(t0 + 60_000)}),
      ('planner', '1.4.3', ${new Date(t0 + 30_000)}, ${new Date(t0 + 90_000)})`;
  });

  it('finds the version live at a time', async () => {
    expect(await serviceVersionAt(db.sql, 'planner', t0)).toBe('1.4.2');
    expect(await serviceVersionAt(db.sql, 'planner', t0 - 300_000)).toBe('1.4.1');
    expect(await serviceVersionAt(db.sql, 'coder', t0)).toBeUndefined();
  });

  it('finds a release first seen since a moment, and a version seen again since one (a revert)', async () => {
    expect(await versionFirstSeenSince(db.sql, 'planner', new Date(t0))).toBe('1.4.3');
    expect(await versionFirstSeenSince(db.sql, 'planner', new Date(t0), '1.4.3')).toBeUndefined();
    expect(await versionFirstSeenSince(db.sql, 'planner', new Date(t0 - 120_000), '1.4.3')).toBe('1.4.2');
    expect(await versionLastSeenSince(db.sql, 'planner', new Date(t0), '1.4.3')).toBe('1.4.1');
    expect(await versionLastSeenSince(db.sql, 'planner', new Date(t0 + 100_000), '1.4.1')).toBeUndefined();
  });
});
