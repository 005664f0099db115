// Vitest global setup: starts real Kafka and PostgreSQL (idempotent; both are left running for the
// next run) and hands their addresses to the tests through process.env and vitest's provide/inject.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    KAFKA_BROKERS: string;
    DATABASE_URL: string;
    PROMTOOL: string;
  }
}

const root = path.resolve(import.meta.dirname, '..');

// Runs `deploy/local/<name> [start]`; its output is echoed live (first Kafka start downloads jars and
// waits for the broker) and stdout is also returned.
function start(name: string, args = ['start']): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'deploy/local', name), args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`deploy/local/${name} ${args.join(' ')} exited with ${code}`))));
  });
}

export default async function setup(project: TestProject): Promise<void> {
  await start('kafka');
  const url = /^DATABASE_URL=(.+)$/m.exec(await start('postgres'))?.[1]?.trim();
  if (!url) throw new Error('deploy/local/postgres start printed no DATABASE_URL');
  process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
  process.env.DATABASE_URL ??= url;
  project.provide('KAFKA_BROKERS', process.env.KAFKA_BROKERS);
  project.provide('DATABASE_URL', process.env.DATABASE_URL);
  process.env.PROMTOOL ??= (await start('promtool', [])).trim().split('\n').at(-1);
  project.provide('PROMTOOL', process.env.PROMTOOL!);
}
