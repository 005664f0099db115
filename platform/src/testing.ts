// Test helpers: a fresh database on the real PostgreSQL server per test file, and a quiet logger.
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pRetry, { AbortError } from 'p-retry';
import { afterAll, beforeAll } from 'vitest';
import { openDatabase, type Database } from './database.ts';
import { createLogger } from './logger.ts';

export const testLogger = () => createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/**
 * Waits for data, not for time: asks `probe` every `everyMs` until it gives a value (undefined and false
 * mean not yet), and fails after `timeoutMs` saying what it waited for.
 */
export const eventually = async <T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
};

export const postgresUrl = (): string => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests through `npm test` (its global setup starts PostgreSQL)');
  return url;
};

export const kafkaBrokers = (): string[] => (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** Creates an empty database on the PostgreSQL server and returns its URL and a function to drop it. */
export const freshDatabase = async (): Promise<{ url: string; drop: () => Promise<void> }> => {
  const admin = postgres(postgresUrl(), { max: 1, onnotice: () => {} });
  const name = `heph_test_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
};

/**
 * A fresh database, migrated, for the test file (or describe block) that calls this: opened before its
 * tests, closed and dropped after them. Use it inside tests and hooks: it is opened in `beforeAll`, so a
 * `beforeAll` registered after this call can seed it.
 */
export const useFreshDatabase = (): Database => {
  let opened: Database | undefined;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    opened = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  });
  afterAll(async () => {
    await opened?.close();
    await drop?.();
  });
  const current = () => {
    if (!opened) throw new Error('useFreshDatabase: the database is opened in beforeAll; use it inside tests and hooks');
    return opened;
  };
  return {
    get sql() {
      return current().sql;
    },
    get kind() {
      return current().kind;
    },
    get url() {
      return current().url;
    },
    close: () => current().close(),
  };
};

export { DeciderSpecification } from './decider-specification.ts';

/**
 * Starts a consumer group at the end of these topics: a new group would otherwise first read every
 * earlier run's records left in a shared Kafka (tests and benches each start control planes of their own).
 */
export const startGroupAtEnd = async (groupId: string, topicNames: string[], brokers = kafkaBrokers()) => {
  const admin = new Kafka({ brokers, clientId: 'heph-testing', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    // A topic nobody created yet holds no earlier records: the group reads it from its start.
    const existing = new Set(await admin.listTopics());
    for (const topic of topicNames.filter((t) => existing.has(t))) {
      // A partition another test file just created can answer "not the leader" for a moment, and
      // kafkajs gives up on that at once: retry what the broker calls retriable.
      const end = await pRetry(
        async () => {
          try {
            return await admin.fetchTopicOffsets(topic);
          } catch (error) {
            throw (error as { retriable?: boolean }).retriable ? error : new AbortError(error as Error);
          }
        },
        { retries: 10, minTimeout: 100, maxTimeout: 1000 },
      );
      await admin.setOffsets({ groupId, topic, partitions: end.map((p) => ({ partition: p.partition, offset: p.high })) });
    }
  } finally {
    await admin.disconnect();
  }
};


/**
 * Writes `body` one character every `everyMs` into a request whose headers are sent (a slow-body
 * client): each byte keeps an idle timeout from firing, so only a deadline on the whole body ends it.
 * `written()` says how much of it went out; `stop()` ends the trickle.
 */
export const trickleBody = (request: { write: (chunk: string) => unknown }, body: string, everyMs = 200) => {
  let written = 0;
  const timer = setInterval(() => {
    if (written < body.length) request.write(body[written++]!);
  }, everyMs);
  return { written: () => written, stop: () => clearInterval(timer) };
};
