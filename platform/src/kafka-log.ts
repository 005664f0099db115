// The Kafka adapter of the log port (kafkajs): acks from all in-sync replicas, gzip batches, offsets
// committed by hand after the handler's effects are durable.
import { randomBytes } from 'node:crypto';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { topicConfigs, topicPartitions, type TopicName } from '@hephaestus/schemas';
import type { Logger } from './logger.ts';
import pRetry, { AbortError } from 'p-retry';
import { LogUnavailableError, type Log, type LogRecord, type PartitionLag, type PartitionPosition, type SubscribeOptions } from './log.ts';

const kafkaLogLevels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const maxSendBytes = 900_000;

/** Consecutive groups whose values add up to at most `maxBytes` (a larger record is a group alone). */
export const groupBySize = (records: LogRecord[], maxBytes: number): LogRecord[][] => {
  const groups: LogRecord[][] = [];
  let size = Number.POSITIVE_INFINITY;
  for (const record of records) {
    if (size + record.value.length > maxBytes) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(record);
    size += record.value.length;
  }
  return groups;
};

/** How long a consumer that stopped heartbeating (a killed process) keeps its partitions. */
export const sessionTimeoutMs = 10_000;

/** The longest a broker holds a consumer's fetch when nothing new has arrived (kafkajs' default: 5 s). */
const fetchWaitMs = 500;

export const createKafkaLog = (
  options: {
    brokers: string[];
    clientId: string;
    requestTimeoutMs?: number;
    topicPrefix?: string;
    /** Partitions of the telemetry topics (otel.*) this log creates; unset: schemas' topicPartitions. */
    telemetryPartitions?: number;
  },
  log: Logger,
): Log => {
  // Topic names in Kafka carry the prefix; the rest of the code only sees the names in schemas/topics.ts.
  const prefix = options.topicPrefix ?? '';
  const physical = (topic: string) => prefix + topic;
  const logical = (topic: string) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  const kafkaLogger = log.child({ component: 'kafkajs' });
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, ...fields } = entry.log;
      kafkaLogger[kafkaLogLevels[entry.level] ?? 'info']({ ...fields, namespace: entry.namespace }, message.toLowerCase());
    },
  });
  const admin = kafka.admin();
  const consumers = new Set<Consumer>();
  let producer: Promise<Producer> | undefined;

  const connectedProducer = () => {
    producer ??= (async () => {
      // The default (murmur2, Java-compatible) partitioner: same key, same partition as other Kafka clients.
      const p = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      return p;
    })().catch((error: unknown) => {
      producer = undefined;
      throw error;
    });
    return producer;
  };

  const ensureTopics = async () => {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = Object.entries(topicPartitions)
      .map(([topic, partitions]) => [physical(topic), topic.startsWith('otel.') ? (options.telemetryPartitions ?? partitions) : partitions, topicConfigs[topic as TopicName] ?? {}] as const)
      .filter(([topic]) => !existing.has(topic));
    if (missing.length === 0) return;
    const names = missing.map(([t]) => t);
    await admin.createTopics({
      // kafkajs' own wait gives up when a KRaft broker does not know a topic it just created yet.
      waitForLeaders: false,
      topics: missing.map(([topic, numPartitions, configs]) => ({ topic, numPartitions, replicationFactor: -1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) })),
    });
    await untilLeaders(names);
    log.info({ topics: names }, 'kafka topics created');
  };

  /**
   * Waits until every partition of these topics has a leader that serves it. Metadata names the leader
   * before that broker has created the partition's log: a first send then failed on one partition with
   * 'not the leader', and kafkajs sent the whole request again, writing the other partitions twice.
   * Their offsets answer once the leader serves them.
   */
  const untilLeaders = async (names: string[], timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: names });
        if (topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
          // One topic at a time: kafkajs logs each 'not the leader' answer as an error.
          for (const name of names) await admin.fetchTopicOffsets(name);
          return;
        }
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`kafka topics ${names.join(', ')} have no leader after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const send = async (topic: string, records: LogRecord[]) => {
    if (records.length === 0) return;
    try {
      const p = await connectedProducer();
      // kafkajs puts a send's records for one partition into one batch, and the broker refuses a batch
      // over message.max.bytes (1 MiB by default): large requests go as several sends.
      await Promise.all(
        groupBySize(records, maxSendBytes).map((group) =>
          p.send({
            topic: physical(topic),
            acks: -1,
            compression: CompressionTypes.GZIP,
            messages: group.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
          }),
        ),
      );
    } catch (error) {
      throw new LogUnavailableError(`kafka write to ${topic} failed`, { cause: error });
    }
  };

  /** An exclusive subscription's groups: `<group>.x-<8 hex>`, one per subscription. */
  const exclusiveGroup = (groupId: string) => `${groupId}.x-${randomBytes(4).toString('hex')}`;
  const isExclusiveOf = (groupId: string, candidate: string) => candidate.startsWith(`${groupId}.x-`) && /^[0-9a-f]{8}$/.test(candidate.slice(groupId.length + 3));

  /** Deletes the groups earlier exclusive subscriptions left (a killed process cannot); one with a live member stays. */
  const removeIdleGroups = async (groupId: string) => {
    try {
      await admin.connect();
      const idle = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => isExclusiveOf(groupId, g));
      if (idle.length === 0) return;
      const results = await admin.deleteGroups(idle).catch((error: { groups?: Array<{ groupId: string; errorCode: number }> }) => error.groups ?? []);
      const removed = results.filter((r) => r.errorCode === 0).map((r) => r.groupId);
      if (removed.length > 0) log.info({ groups: removed }, 'kafka consumer groups of earlier exclusive consumers removed');
    } catch (error) {
      log.warn({ err: error, groupId }, 'kafka consumer groups of earlier exclusive consumers not listed or removed');
    }
  };

  const subscribe = async ({ groupId: group, topics, handle, exclusive }: SubscribeOptions) => {
    // An exclusive consumer joins a group of its own: a member of the shared group that died without
    // leaving (kill -9) would hold its partitions until its session ends. It starts where the caller says.
    if (exclusive) await removeIdleGroups(group);
    const groupId = exclusive ? exclusiveGroup(group) : group;
    // A member that dies without leaving holds its partitions until its session times out:
    // 10 s instead of kafkajs' 30 s, with a heartbeat every second, also while a long batch is handled.
    // The broker holds an idle fetch up to maxWaitTimeInMs (it answers as soon as a record arrives), and
    // disconnect waits for the fetch in flight: 500 ms instead of kafkajs' 5 s, so a stop takes well under a second.
    // On the first join of an exclusive consumer (emitted before the first fetch), every partition the
    // caller has a position for starts there; a consumer started again later goes on from its commits.
    let positioned = !exclusive || exclusive.leased === true;
    let stopping = false;
    // Leased: the partitions assigned and where each is (the next offset to read), the batches in hand.
    const leased = exclusive?.leased === true;
    const partitionKey = (topic: string, partition: number) => `${topic}/${partition}`;
    const assigned = new Map<string, PartitionPosition>();
    const inHand = new Map<string, Promise<void>>();
    let joined: Consumer | undefined;
    /**
     * Starts these partitions at their positions (those past the start), and commits the positions at once
     * too: the group's lag is right for a partition before anything new arrives there.
     */
    const seekTo = (consumer: Consumer, positions: Iterable<PartitionPosition>) => {
      const sought = [...positions].filter((at) => topics.includes(at.topic) && at.offset > 0n);
      for (const at of sought) consumer.seek({ topic: physical(at.topic), partition: at.partition, offset: at.offset.toString() });
      if (sought.length === 0) return;
      consumer
        .commitOffsets(sought.map((at) => ({ topic: physical(at.topic), partition: at.partition, offset: at.offset.toString() })))
        .catch((error: unknown) => log.warn({ err: error, groupId }, 'starting offsets of an exclusive consumer not committed'));
    };
    /** Every partition of the topics, asked of Kafka once. */
    let everyPartition: Promise<Array<{ topic: string; partition: number }>> | undefined;
    /** Pauses every partition not assigned and seeks and resumes the assigned ones (each join, each assignment). */
    const applyAssignment = async (consumer: Consumer, seek: Iterable<PartitionPosition>) => {
      everyPartition ??= lag(groupId, topics).then((lags) => lags.map((l) => ({ topic: l.topic, partition: l.partition })));
      const all = await everyPartition.catch((error: unknown) => {
        everyPartition = undefined;
        throw error;
      });
      const byTopic = (refs: Array<{ topic: string; partition: number }>) =>
        [...new Set(refs.map((r) => r.topic))].map((topic) => ({ topic: physical(topic), partitions: refs.filter((r) => r.topic === topic).map((r) => r.partition) }));
      const off = all.filter((p) => !assigned.has(partitionKey(p.topic, p.partition)));
      if (off.length > 0) consumer.pause(byTopic(off));
      seekTo(consumer, seek);
      const on = [...assigned.values()];
      if (on.length > 0) consumer.resume(byTopic(on));
    };
    const launch = async (): Promise<Consumer> => {
      const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 10 }, sessionTimeout: sessionTimeoutMs, heartbeatInterval: 1000, rebalanceTimeout: 30_000, maxWaitTimeInMs: fetchWaitMs });
      await consumer.connect();
      await consumer.subscribe({ topics: topics.map(physical), fromBeginning: true });
      if (leased) {
        // Every join (the first, or a new consumer's after a crash): read only what is assigned, from where it is.
        consumer.on(consumer.events.GROUP_JOIN, () => {
          joined = consumer;
          applyAssignment(consumer, assigned.values()).catch((error: unknown) => log.error({ err: error, groupId }, 'kafka partitions of a leased consumer not paused or resumed'));
        });
      }
      // Which partitions a member of a shared group holds, after every rebalance: where a takeover shows.
      if (!exclusive) {
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          const held = Object.entries(payload.memberAssignment).map(([topic, partitions]) => `${logical(topic)} ${[...partitions].sort((a, b) => a - b).join(',')}`);
          const count = Object.values(payload.memberAssignment).reduce((n, partitions) => n + partitions.length, 0);
          log.info({ groupId, partitions: count, assignment: Object.fromEntries(Object.entries(payload.memberAssignment).map(([t, p]) => [logical(t), p])) }, `kafka consumer group ${groupId} joined: holding ${count} partitions (${held.join('; ') || 'none'})`);
        });
      }
      if (exclusive) {
        consumer.on(consumer.events.GROUP_JOIN, () => {
          if (positioned) return;
          positioned = true;
          seekTo(consumer, exclusive.from);
        });
      }
      // kafkajs gives up on an error it deems final (a member the group no longer knows, after its session
      // ran out while its process was starved) and leaves the consumer stopped: nothing would be consumed
      // again and nothing would say so. A new member takes over from the committed offsets instead.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (payload.restart || stopping) return;
        log.error({ err: payload.error, groupId }, 'kafka consumer stopped by an error kafkajs does not retry: starting a new one from the committed offsets');
        setTimeout(() => {
          if (stopping) return;
          consumers.delete(current);
          launch()
            .then((next) => {
              if (stopping) return void next.disconnect();
              current = next;
              consumers.add(next);
              log.info({ groupId }, 'kafka consumer started again after its crash');
            })
            .catch((error: unknown) => log.error({ err: error, groupId }, 'kafka consumer not started again after its crash'));
        }, 1000);
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (batch.messages.length === 0 || !isRunning() || isStale()) return;
          const at = partitionKey(logical(batch.topic), batch.partition);
          // A batch fetched before its partition was let go is left unread (and uncommitted).
          if (leased && !assigned.has(at)) return;
          const beat = setInterval(() => void heartbeat().catch(() => {}), 1000);
          let done = () => {};
          if (leased) inHand.set(at, new Promise<void>((resolve) => (done = resolve)));
          try {
            await handle({
              topic: logical(batch.topic),
              partition: batch.partition,
              highWatermark: BigInt(batch.highWatermark),
              records: batch.messages.map((m) => ({
                topic: logical(batch.topic),
                partition: batch.partition,
                offset: BigInt(m.offset),
                key: m.key ? m.key.toString() : null,
                value: m.value ?? Buffer.alloc(0),
                headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v ?? '')])),
              })),
            });
          } finally {
            clearInterval(beat);
            inHand.delete(at);
            done();
          }
          const last = batch.messages.at(-1)!.offset;
          const held = assigned.get(at);
          if (held) held.offset = BigInt(last) + 1n;
          resolveOffset(last);
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
          await heartbeat();
        },
      });
      return consumer;
    };
    let current = await launch();
    consumers.add(current);
    const assign = async (partitions: PartitionPosition[]) => {
      const next = new Map(partitions.map((p) => [partitionKey(p.topic, p.partition), { ...p }]));
      const gone = [...assigned.keys()].filter((k) => !next.has(k));
      const fresh = [...next].filter(([k]) => !assigned.has(k)).map(([, p]) => p);
      for (const k of gone) assigned.delete(k);
      for (const p of fresh) assigned.set(partitionKey(p.topic, p.partition), p);
      if (joined === current) await applyAssignment(current, fresh);
      await Promise.all(gone.map((k) => inHand.get(k)));
    };
    return {
      groupId,
      ...(leased ? { assign } : {}),
      stop: async () => {
        stopping = true;
        consumers.delete(current);
        await current.disconnect();
        if (exclusive) await admin.deleteGroups([groupId]).catch((error: unknown) => log.warn({ err: error, groupId }, 'kafka consumer group of an exclusive consumer not removed'));
      },
    };
  };

  // lag: the newest offset of each partition less what the group committed (its oldest kept offset
  // when it committed nothing: it starts from the beginning).
  const lag = async (groupId: string, topics: string[]): Promise<PartitionLag[]> => {
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId, topics: topics.map(physical) });
    const out: PartitionLag[] = [];
    for (const topic of topics) {
      // A partition just created can answer "not the leader" for a moment: retry what the broker calls retriable.
      const ends = await pRetry(
        async () => {
          try {
            return await admin.fetchTopicOffsets(physical(topic));
          } catch (error) {
            throw (error as { retriable?: boolean }).retriable ? error : new AbortError(error as Error);
          }
        },
        { retries: 5, minTimeout: 100, maxTimeout: 500 },
      );
      const mine = committed.find((c) => c.topic === physical(topic))?.partitions ?? [];
      for (const end of ends) {
        const at = Number(mine.find((p) => p.partition === end.partition)?.offset ?? -1);
        out.push({ topic, partition: end.partition, lag: Math.max(0, Number(end.high) - (at >= 0 ? at : Number(end.low))) });
      }
    }
    return out;
  };

  const committed = async (groupId: string, topics: string[]): Promise<PartitionPosition[]> => {
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: topics.map(physical) });
    return offsets.flatMap(({ topic, partitions }) =>
      partitions.filter((p) => Number(p.offset) >= 0).map((p) => ({ topic: logical(topic), partition: p.partition, offset: BigInt(p.offset) })),
    );
  };

  const ready = async () => {
    try {
      await admin.connect();
      await admin.describeCluster();
      return true;
    } catch {
      return false;
    }
  };

  const close = async () => {
    await Promise.all([...consumers].map((c) => c.disconnect()));
    consumers.clear();
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
    await admin.disconnect();
  };

  return { kind: 'kafka', ensureTopics, send, subscribe, ready, lag, committed, close };
};
