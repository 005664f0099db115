// A consumer killed with SIGKILL holds its partitions until its session times out; another member of
// the group then takes them over and goes on from the committed offsets. Measured and printed (the
// time is a figure, not an assertion): kafkajs' default session of 30 s left the analyzer blind that
// long after a kill -9; the log's consumers use 10 s.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createKafkaLog, sessionTimeoutMs } from './kafka-log.ts';
import { kafkaBrokers, testLogger } from './testing.ts';

const until = async (what: string, probe: () => boolean, timeoutMs = 120_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

/** A consumer in a child process: prints each record's key as it handles it. */
const childConsumer = (prefix: string, groupId: string) => {
  const script = `
    import { createKafkaLog } from ${JSON.stringify(join(import.meta.dirname, 'kafka-log.ts'))};
    import { testLogger } from ${JSON.stringify(join(import.meta.dirname, 'testing.ts'))};
    const log = createKafkaLog({ brokers: ${JSON.stringify(kafkaBrokers())}, clientId: 'takeover-child', topicPrefix: ${JSON.stringify(prefix)} }, testLogger());
    await log.subscribe({ groupId: ${JSON.stringify(groupId)}, topics: ['heph.deadletter'], handle: async ({ records }) => {
      for (const r of records) process.stdout.write('got ' + r.key + '\\n');
    } });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => got.push(...text.split('\n').filter((l) => l.startsWith('got ')).map((l) => l.slice(4))));
  return { child, got };
};

describe('kafka consumer takeover', () => {
  it('hands a killed member’s partitions to another within its session timeout, from the committed offsets', async () => {
    const run = randomBytes(4).toString('hex');
    const prefix = `takeover-${run}.`;
    const groupId = `takeover-${run}`;
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'takeover-test', topicPrefix: prefix }, testLogger());
    await log.ensureTopics();
    const partitions = (await log.lag(groupId, ['heph.deadletter'])).length;
    const { child, got } = childConsumer(prefix, groupId);
    try {
      // Four records per partition on average: the child, the group's only member, handles them all.
      const warm = Array.from({ length: partitions * 4 }, (_, n) => `${run}-${n}`);
      await log.send('heph.deadletter', warm.map((key) => ({ key, value: Buffer.from('warm'), headers: {} })));
      await until('the child to consume the warm-up records', () => warm.every((k) => got.includes(k)));
      // Committed after each batch: it dies with nothing behind.
      let behind = Number.POSITIVE_INFINITY;
      while (behind > 0) {
        behind = (await log.lag(groupId, ['heph.deadletter'])).reduce((n, p) => n + p.lag, 0);
        if (behind > 0) await sleep(50);
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      const killedAt = Date.now();
      const after: string[] = [];
      let firstAfterMs: number | undefined;
      const subscription = await log.subscribe({
        groupId,
        topics: ['heph.deadletter'],
        handle: async ({ records }) => {
          for (const r of records) after.push(r.key!);
          firstAfterMs ??= Date.now() - killedAt;
        },
      });
      const later = Array.from({ length: partitions * 4 }, (_, n) => `${run}-after-${n}`);
      await log.send('heph.deadletter', later.map((key) => ({ key, value: Buffer.from('after'), headers: {} })));
      await until('the survivor to take every partition over', () => later.every((k) => after.includes(k)));
      await subscription.stop();
      // From the committed offsets: the warm-up records the child handled are not handled again.
      expect(after.filter((k) => warm.includes(k))).toEqual([]);
      console.log(`kafka takeover after SIGKILL: first record handled by the survivor ${((firstAfterMs ?? 0) / 1000).toFixed(1)} s after the kill (session timeout ${sessionTimeoutMs / 1000} s, ${partitions} partitions)`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await log.close();
    }
  }, 180_000);
});
