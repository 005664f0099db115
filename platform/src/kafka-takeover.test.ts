// A consumer killed with SIGKILL holds its partitions until its session times out; another member of
// the group then takes them over and goes on from the committed offsets. Measured and printed (the
// time is a figure, not an assertion): kafkajs' default session of 30 s left the analyzer blind that
// long after a kill -9; the log's consumers use 10 s. An exclusive consumer (the active analyzer, which
// holds a lock) joins a group of its own and starts from the positions it keeps: it waits for no session.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
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

/**
 * A consumer in a child process: prints each record's key, partition and offset as it handles it, and
 * its group once subscribed (an exclusive one's own).
 */
const childConsumer = (prefix: string, groupId: string, exclusive = false, topic = 'heph.deadletter') => {
  const script = `
    import { createKafkaLog } from ${JSON.stringify(join(import.meta.dirname, 'kafka-log.ts'))};
    import { testLogger } from ${JSON.stringify(join(import.meta.dirname, 'testing.ts'))};
    const log = createKafkaLog({ brokers: ${JSON.stringify(kafkaBrokers())}, clientId: 'takeover-child', topicPrefix: ${JSON.stringify(prefix)} }, testLogger());
    const subscription = await log.subscribe({ groupId: ${JSON.stringify(groupId)}, topics: [${JSON.stringify(topic)}], ${exclusive ? 'exclusive: { from: [] }, ' : ''}handle: async ({ records }) => {
      for (const r of records) process.stdout.write('got ' + r.key + ' ' + r.partition + ' ' + r.offset + '\\n');
    } });
    process.stdout.write('group ' + subscription.groupId + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got: string[] = [];
  /** The next offset of each partition after what the child handled. */
  const next = new Map<number, bigint>();
  let group: string | undefined;
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    const lines = (rest + text).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const [what, key, partition, offset] = line.split(' ');
      if (what === 'group') group = key;
      if (what !== 'got') continue;
      got.push(key!);
      next.set(Number(partition), BigInt(offset!) + 1n);
    }
  });
  return { child, got, next, group: () => group };
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

  it('lets an exclusive consumer take every partition at once after a SIGKILL, from the positions it gives, and removes the dead one’s group', async () => {
    const run = randomBytes(4).toString('hex');
    const prefix = `exclusive-${run}.`;
    const groupId = `exclusive-${run}`;
    // Three partitions: each starts at its own position.
    const topic = 'otel.spans';
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'exclusive-test', topicPrefix: prefix }, testLogger());
    const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: 'exclusive-test-admin', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const groups = async () => (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`${groupId}.`));
    await log.ensureTopics();
    const partitions = (await log.lag(groupId, [topic])).length;
    const dead = childConsumer(prefix, groupId, true, topic);
    try {
      const warm = Array.from({ length: partitions * 4 }, (_, n) => `${run}-${n}`);
      await log.send(topic, warm.map((key) => ({ key, value: Buffer.from('warm'), headers: {} })));
      await until('the child to consume the warm-up records', () => warm.every((k) => dead.got.includes(k)));
      const deadGroup = dead.group()!;
      expect(deadGroup).toMatch(new RegExp(`^${groupId}\\.x-[0-9a-f]{8}$`));
      dead.child.kill('SIGKILL');
      await new Promise((r) => dead.child.once('exit', r));

      // The survivor keeps its own position (as the analyzer does in PostgreSQL): where the child stopped.
      const killedAt = Date.now();
      const after: string[] = [];
      let firstAfterMs: number | undefined;
      const subscription = await log.subscribe({
        groupId,
        topics: [topic],
        exclusive: { from: [...dead.next].map(([partition, offset]) => ({ topic, partition, offset })) },
        handle: async ({ records }) => {
          for (const r of records) after.push(r.key!);
          firstAfterMs ??= Date.now() - killedAt;
        },
      });
      // Its own group: the dead member still holds the child's, and is not waited for.
      expect(subscription.groupId).not.toBe(deadGroup);
      expect(subscription.groupId.startsWith(`${groupId}.x-`)).toBe(true);
      const later = Array.from({ length: partitions * 4 }, (_, n) => `${run}-after-${n}`);
      await log.send(topic, later.map((key) => ({ key, value: Buffer.from('after'), headers: {} })));
      await until('the survivor to read every partition', () => later.every((k) => after.includes(k)));
      expect(after.filter((k) => warm.includes(k))).toEqual([]);
      // Its committed offsets are its lag: nothing behind once it has handled everything.
      let behind = Number.POSITIVE_INFINITY;
      while (behind > 0) {
        behind = (await log.lag(subscription.groupId, [topic])).reduce((n, p) => n + p.lag, 0);
        if (behind > 0) await sleep(50);
      }
      console.log(`exclusive kafka takeover after SIGKILL: first record handled ${((firstAfterMs ?? 0) / 1000).toFixed(1)} s after the kill (the dead member's session: ${sessionTimeoutMs / 1000} s, not waited for; ${partitions} partitions)`);

      // A clean stop removes its own group; the dead child's goes once its session has ended, at the next exclusive start.
      await subscription.stop();
      expect(await groups()).not.toContain(subscription.groupId);
      for (;;) {
        const [described] = (await admin.describeGroups([deadGroup])).groups;
        if (described?.state === 'Empty' || described?.state === 'Dead') break;
        await sleep(200);
      }
      const next = await log.subscribe({ groupId, topics: [topic], exclusive: { from: [] }, handle: async () => {} });
      expect(await groups()).not.toContain(deadGroup);
      await next.stop();
    } finally {
      if (dead.child.exitCode === null) dead.child.kill('SIGKILL');
      await admin.disconnect();
      await log.close();
    }
  }, 180_000);

  it('starts a consumer again when kafkajs gives it up: a member its group forgot while its process was blocked goes on from the commits', async () => {
    const run = randomBytes(4).toString('hex');
    const prefix = `crash-${run}.`;
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'crash-test', topicPrefix: prefix }, testLogger());
    await log.ensureTopics();
    const got: string[] = [];
    let blocked = false;
    try {
      const subscription = await log.subscribe({
        groupId: `crash-${run}`,
        topics: ['heph.deadletter'],
        exclusive: { from: [] },
        handle: async ({ records }) => {
          // The first batch blocks the event loop past the session: no heartbeat goes out, the group
          // forgets the member, and the commit after the batch fails with an error kafkajs does not retry.
          if (!blocked) {
            blocked = true;
            const until = Date.now() + sessionTimeoutMs + 2_000;
            while (Date.now() < until) {
              // busy: a starved or blocked process
            }
          }
          for (const r of records) got.push(r.key!);
        },
      });
      await log.send('heph.deadletter', [{ key: 'first', value: Buffer.from('1'), headers: {} }]);
      await until('the first record', () => got.includes('first'));
      await log.send('heph.deadletter', [{ key: 'after', value: Buffer.from('2'), headers: {} }]);
      // Without the new member nothing more is consumed; with it, the record after the crash arrives
      // (and the first again: its commit had failed, so it is delivered once more).
      await until('the record after the crash', () => got.includes('after'), 60_000);
      expect(got.filter((k) => k === 'after')).toHaveLength(1);
      await subscription.stop();
    } finally {
      await log.close();
    }
  }, 120_000);
});
