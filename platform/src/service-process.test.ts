// A service as its own process without Kafka: the Postgres-backed log in the shared database, an ops
// server answering /healthz, /readyz (database, log) and /metrics, and the event publisher.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { loadConfig, baseConfig } from './config.ts';
import { appendToStream } from './event-store.ts';
import { startServiceProcess } from './service-process.ts';
import { freshDatabase, testLogger } from './testing.ts';

describe('a service process', () => {
  it('runs on the Postgres-backed log of its shared database, answers its ops routes and publishes events', async () => {
    const fresh = await freshDatabase();
    const config = loadConfig(baseConfig, { DATABASE_URL: fresh.url });
    let position: bigint | undefined;
    const service = await startServiceProcess({
      service: 'analyzer',
      config,
      logger: testLogger(),
      publishes: true,
      ops: { host: '127.0.0.1', port: 0 },
      wire: async ({ runtime }) => {
        expect([runtime.db.kind, runtime.log.kind]).toEqual(['postgresql', 'postgres']);
        const appended = await runtime.db.sql.begin((tx) =>
          appendToStream(tx, 'silence-process-test', 0, [{ id: crypto.randomUUID(), type: 'silence.expired', occurredAt: new Date(), data: { silenceId: 's', by: 'test' } }]),
        );
        position = appended.ok ? appended.events[0]!.position : undefined;
        return { stop: async () => {} };
      },
    });
    try {
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${service.url}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', checks: { database: true, log: true } }]);
      expect((await fetch(`${service.url}/metrics`)).status).toBe(200);
      const sql = postgres(fresh.url, { max: 1, onnotice: () => {} });
      try {
        // Published: the checkpoint reaches the event (it is stored after the record is written), and the
        // record is in the log once.
        expect(position).toBeDefined();
        for (;;) {
          const [checkpoint] = await sql<{ position: string }[]>`SELECT position FROM checkpoints WHERE name = 'publisher:heph.events'`;
          if (checkpoint && BigInt(checkpoint.position) >= position!) {
            expect(BigInt(checkpoint.position)).toBe(position);
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM log_records WHERE topic = 'heph.events'`;
        expect(row!.n).toBe(1);
      } finally {
        await sql.end();
      }
    } finally {
      await service.stop();
      await fresh.drop();
    }
  });
});
