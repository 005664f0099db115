// The runtime as `heph up` opens it from its configuration: the embedded log's retention is wired and
// runs on its own, on PostgreSQL and on embedded PGlite alike.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { baseConfig, loadConfig } from './index.ts';
import { openRuntime } from './runtime.ts';
import { freshDatabase, testLogger } from './testing.ts';

describe('runtime', () => {
  it.each(['PostgreSQL', 'embedded PGlite'] as const)('keeps the embedded log under HEPH_LOG_RETENTION_BYTES by itself, on %s', async (database) => {
    const fresh = database === 'PostgreSQL' ? await freshDatabase() : undefined;
    const dir = await mkdtemp(join(tmpdir(), 'heph-runtime-'));
    const config = loadConfig(baseConfig, {
      ...(fresh ? { DATABASE_URL: fresh.url } : {}),
      HEPH_DATA_DIR: join(dir, 'data'),
      HEPH_LOG_RETENTION_BYTES: '1000',
      HEPH_LOG_RETENTION_CHECK_SECONDS: '0.2',
    });
    const runtime = await openRuntime(config, testLogger(), 'runtime-test');
    try {
      expect(runtime.log.kind).not.toBe('kafka');
      // 100 records of 100 bytes: ten times the limit, read by nobody.
      await runtime.log.send('heph.deadletter', Array.from({ length: 100 }, (_, i) => ({ key: null, value: Buffer.alloc(100, i), headers: {} })));
      const bytes = async () => {
        const [row] = await runtime.db.sql<{ bytes: string; records: string }[]>`
          SELECT coalesce(sum(octet_length(value)), 0)::text AS bytes, count(*)::text AS records FROM log_records WHERE topic = 'heph.deadletter'`;
        return { bytes: Number(row!.bytes), records: Number(row!.records) };
      };
      const deadline = Date.now() + 30_000;
      while ((await bytes()).bytes > 1000 && Date.now() < deadline) await sleep(100);
      expect(await bytes()).toEqual({ bytes: 1000, records: 10 });
      // The newest are kept.
      const [newest] = await runtime.db.sql<{ value: Buffer }[]>`SELECT value FROM log_records WHERE topic = 'heph.deadletter' ORDER BY "offset" DESC LIMIT 1`;
      expect(newest!.value[0]).toBe(99);
    } finally {
      await runtime.close();
      await fresh?.drop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
