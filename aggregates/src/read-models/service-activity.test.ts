// What the rollups say of each service as a whole, on real PostgreSQL.
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import { controlUrlOf, readServiceActivity, servicesSeenSince } from './service-activity.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('service activity read model', () => {
  const db = useFreshDatabase();
  beforeAll(async () => {
    await db.sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch, control_url) VALUES
      ('planner', 10, ${new Date(t0)}, 100, 25, '\\x00', 'http://127.0.0.1:1/old'),
      ('planner', 10, ${new Date(t0 + 10_000)}, 50, 0, '\\x00', 'http://127.0.0.1:1/new'),
      ('planner', 10, ${new Date(t0 + 20_000)}, 0, 0, '\\x00', null),
      ('coder', 10, ${new Date(t0 + 10_000)}, 10, 0, '\\x00', null)`;
    await db.sql`INSERT INTO rollups (service, resolution_seconds, bucket_start, calls, errors, sketch) VALUES
      ('web', 10, now() - interval '1 minute', 40, 4, '\\x00'), ('web', 10, now() - interval '10 minutes', 1000, 0, '\\x00')`;
  });

  it('finds the newest control URL of a service, and the services seen since a moment', async () => {
    expect(await controlUrlOf(db.sql, 'planner')).toBe('http://127.0.0.1:1/new');
    expect(await controlUrlOf(db.sql, 'coder')).toBeUndefined();
    expect((await servicesSeenSince(db.sql, t0 + 10_000)).filter((s) => s !== 'web').sort()).toEqual(['coder', 'planner']);
    expect((await servicesSeenSince(db.sql, t0 + 20_001)).filter((s) => s !== 'web')).toEqual([]);
  });

  it('lists every service by name with when it was last seen and its calls and errors of the last 5 minutes', async () => {
    const activity = await readServiceActivity(db.sql);
    expect(activity.map((a) => [a.service, a.callsLast5m, a.errorsLast5m])).toEqual([
      ['coder', 0, 0],
      ['planner', 0, 0],
      ['web', 40, 4],
    ]);
    expect(activity[1]!.lastSeen.getTime()).toBe(t0 + 20_000);
  });
});
