// `heph up` as a real process: SIGTERM stops it taking new work, lets the request in flight finish and
// be kept, and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '@hephaestus/platform';
import { testLogger } from '@hephaestus/platform/testing';
import { eventually } from './support.ts';

const spans = (count: number) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'drain-test' } }] },
      scopeSpans: [
        {
          spans: Array.from({ length: count }, (_, i) => ({
            traceId: '5b8efff798038103d269b633813fc60c',
            spanId: (i + 1).toString(16).padStart(16, '0'),
            name: `span ${i}`,
            startTimeUnixNano: '1700000000000000000',
            endTimeUnixNano: '1700000000100000000',
          })),
        },
      ],
    },
  ],
});

describe('heph up shutdown', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(async () => {
    // A child left running by a failed test still writes into its directory.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('finishes the request in flight on SIGTERM, keeps its data and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heph-drain-'));
    dirs.push(dir);
    const child = spawn(process.execPath, [join(import.meta.dirname, '../cli/src/main.ts'), 'up'], {
      env: { ...process.env, KAFKA_BROKERS: '', DATABASE_URL: '', HEPH_DATA_DIR: dir, HEPH_INGEST_PORT: '0', HEPH_CONSOLE_PORT: '0', LOG_LEVEL: "info" },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (process.env.DEBUG_SHUTDOWN) process.stderr.write(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const ingest = await eventually('heph up to be ready', () => /"ingest":"(http:\/\/[^"]+)"/.exec(output)?.[1], 120_000);

    const inFlight = fetch(`${ingest}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spans(2000)) });
    await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');

    const db = await openDatabase({ dataDir: dir, log: testLogger() });
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM log_records WHERE topic = 'otel.spans' AND key = 'drain-test'`;
    await db.close();
    expect(row!.n).toBe(1);
  }, 240_000);
});
