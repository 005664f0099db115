import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaLog, groupBySize } from './kafka-log.ts';
import { kafkaBrokers, testLogger } from './testing.ts';

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
