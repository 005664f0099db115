// Opens what every service runs on: the database (PostgreSQL or embedded PGlite) and the log (Kafka
// or the Postgres-backed log), chosen by KAFKA_BROKERS and DATABASE_URL.
import type { BaseConfig } from './config.ts';
import { openDatabase, type Database } from './database.ts';
import { createKafkaLog } from './kafka-log.ts';
import type { Log } from './log.ts';
import type { Logger } from './logger.ts';
import { createPgLog } from './pg-log.ts';

export type Runtime = { db: Database; log: Log; close: () => Promise<void> };

export const openRuntime = async (config: BaseConfig, logger: Logger, clientId: string): Promise<Runtime> => {
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.HEPH_DATA_DIR, log: logger });
  const log =
    config.KAFKA_BROKERS.length > 0
      ? createKafkaLog({ brokers: config.KAFKA_BROKERS, clientId, topicPrefix: config.HEPH_KAFKA_TOPIC_PREFIX, telemetryPartitions: config.HEPH_KAFKA_TELEMETRY_PARTITIONS }, logger)
      : createPgLog(db.sql, logger, {
          retention: { maxAgeMs: config.HEPH_LOG_RETENTION_HOURS * 3_600_000, maxBytesPerTopic: config.HEPH_LOG_RETENTION_BYTES, intervalMs: config.HEPH_LOG_RETENTION_CHECK_SECONDS * 1000 },
        });
  await log.ensureTopics();
  logger.info({ database: db.kind, log: log.kind }, 'runtime ready');
  return {
    db,
    log,
    close: async () => {
      await log.close();
      await db.close();
    },
  };
};
