import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaLog, groupBySize } from './kafka-log.ts';
import { eventually, kafkaBrokers, testLogger } from './testing.ts';

const record = (bytes: number) => ({ key: null, value: Buffer.alloc(bytes), headers: {} });

describe('kafka send grouping', () => {
  it('groups consecutive records up to the byte limit and sends an oversized record alone', () => {
    const groups = groupBySize([record(400), record(400), record(400), record(2000), record(10)], 1000);
    expect(groups.map((g) => g.map((r) => r.value.length))).toEqual([[400, 400], [400], [2000], [10]]);
  });
});

describe('kafka topics the control plane creates', () => {
  it('give the telemetry topics the partitions configured, and heph.signals its 6-hour retention', async () => {
    const prefix = `topics-${randomBytes(4).toString('hex')}.`;
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'topics-test', topicPrefix: prefix, telemetryPartitions: 5 }, testLogger());
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    try {
      await log.ensureTopics();
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: ['otel.spans', 'otel.logs', 'heph.events', 'heph.signals'].map((t) => prefix + t) });
      expect(Object.fromEntries(topics.map((t) => [t.name.slice(prefix.length), t.partitions.length]))).toEqual({ 'otel.spans': 5, 'otel.logs': 5, 'heph.events': 1, 'heph.signals': 1 });
      const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: `${prefix}heph.signals`, configNames: ['retention.ms'] }], includeSynonyms: false });
      expect(described.resources[0]!.configEntries.find((e) => e.configName === 'retention.ms')?.configValue).toBe(String(6 * 3_600_000));
    } finally {
      await admin.disconnect();
      await log.close();
    }
  }, 60_000);
});

describe('a leased kafka subscription', () => {
  it('reads only the partitions assigned, each from the position given, and stops reading one it lets go', async () => {
    const prefix = `leased-${randomBytes(4).toString('hex')}.`;
    const log = createKafkaLog({ brokers: kafkaBrokers(), clientId: 'leased-test', topicPrefix: prefix }, testLogger());
    try {
      await log.ensureTopics();
      // Ten records in each of otel.spans' three partitions (keys chosen by where they land).
      const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      for (let i = 0; i < 30; i++) await log.send('otel.spans', [{ key: `k${i}`, value: Buffer.from(String(i)), headers: {} }]);
      const ends = await admin.fetchTopicOffsets(`${prefix}otel.spans`);
      await admin.disconnect();
      const counts = new Map(ends.map((e) => [e.partition, Number(e.high)]));
      const got: Array<{ partition: number; offset: bigint }> = [];
      const subscription = await log.subscribe({
        groupId: `leased-${prefix}`,
        topics: ['otel.spans'],
        exclusive: { from: [], leased: true },
        handle: async ({ partition, records }) => void got.push(...records.map((r) => ({ partition, offset: r.offset }))),
      });
      try {
        // Partition 0 from its third record, partition 1 from its start; partition 2 not at all.
        await subscription.assign!([
          { topic: 'otel.spans', partition: 0, offset: 2n },
          { topic: 'otel.spans', partition: 1, offset: 0n },
        ]);
        const expected = Math.max(0, counts.get(0)! - 2) + counts.get(1)!;
        await eventually('the assigned partitions read', () => got.length >= expected, 30_000);
        expect(got.filter((g) => g.partition === 2)).toEqual([]);
        expect(Math.min(...got.filter((g) => g.partition === 0).map((g) => Number(g.offset)), Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(2);
        expect(got.filter((g) => g.partition === 1).map((g) => Number(g.offset))).toEqual(Array.from({ length: counts.get(1)! }, (_, i) => i));
        // Partition 1 let go, partition 2 taken from its start: new records of 1 are not read, 2's are.
        await subscription.assign!([
          { topic: 'otel.spans', partition: 0, offset: 2n },
          { topic: 'otel.spans', partition: 2, offset: 0n },
        ]);
        await eventually('partition 2 read', () => got.filter((g) => g.partition === 2).length >= counts.get(2)!, 30_000);
        const before = got.filter((g) => g.partition === 1).length;
        for (let i = 30; i < 60; i++) await log.send('otel.spans', [{ key: `k${i}`, value: Buffer.from(String(i)), headers: {} }]);
        // Wait for data: the new records of partitions 0 and 2 arrive, and none of partition 1.
        const later = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
        await later.connect();
        const now = new Map((await later.fetchTopicOffsets(`${prefix}otel.spans`)).map((e) => [e.partition, Number(e.high)]));
        await later.disconnect();
        const readTo = (partition: number) => Math.max(-1, ...got.filter((g) => g.partition === partition).map((g) => Number(g.offset))) + 1;
        await eventually('the new records of the partitions still assigned', () => (readTo(0) === now.get(0) && readTo(2) === now.get(2)) || undefined, 30_000);
        expect(now.get(1)).toBeGreaterThan(counts.get(1)!);
        expect(got.filter((g) => g.partition === 1)).toHaveLength(before);
      } finally {
        await subscription.stop();
      }
    } finally {
      await log.close();
    }
  }, 90_000);
});
