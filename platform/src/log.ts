// The log port: what ingest writes telemetry to and what consumers read from. Two adapters implement
// it (Kafka, and the Postgres-backed log of the embedded default) and pass one contract test suite.

export type LogRecord = { key: string | null; value: Buffer; headers: Record<string, string> };
export type ConsumedRecord = LogRecord & { topic: string; partition: number; offset: bigint };

/**
 * Offsets are committed only after the handler resolves; a throw redelivers the batch. `highWatermark`:
 * the offset after the partition's newest record when the batch was read (records past the batch's last
 * one are still to come), where the log knows it.
 */
export type BatchHandler = (batch: { topic: string; partition: number; records: ConsumedRecord[]; highWatermark?: bigint }) => Promise<void>;

/**
 * `groupId`: the group whose committed offsets say where it is (an exclusive subscription's own).
 * `assign` (a leased subscription, Kafka only): reads only these partitions from now on, each one new to
 * it from the position given; resolves once no batch of a partition it no longer reads is in hand.
 */
export type Subscription = { groupId: string; stop: () => Promise<void>; assign?: (partitions: PartitionPosition[]) => Promise<void> };

/** Where a consumer goes on reading a partition: the first offset it has not handled. */
export type PartitionPosition = { topic: string; partition: number; offset: bigint };

export type SubscribeOptions = {
  groupId: string;
  topics: string[];
  handle: BatchHandler;
  /**
   * The caller is the group's only consumer (a lock it holds elsewhere says so) and keeps its own
   * position: it takes every partition at once, without waiting for the session of a member that died
   * without leaving, and reads each partition from the position given (from the beginning without one).
   */
  exclusive?: {
    from: PartitionPosition[];
    /**
     * The caller holds leases on some partitions only (partition leases in PostgreSQL) and says which
     * through the subscription's `assign`: until then it reads none (Kafka only).
     */
    leased?: boolean;
  };
};

export type Log = {
  kind: 'kafka' | 'postgres';
  /** Creates the control plane's topics with their partition counts; existing ones are kept. */
  ensureTopics: () => Promise<void>;
  /** Resolves once the log acknowledged every record durably; rejects with LogUnavailableError. */
  send: (topic: string, records: LogRecord[]) => Promise<void>;
  subscribe: (options: SubscribeOptions) => Promise<Subscription>;
  ready: () => Promise<boolean>;
  /** How many records of each partition of `topics` the group has yet to commit (its consumer lag). */
  lag: (groupId: string, topics: string[]) => Promise<PartitionLag[]>;
  /** The offsets the group committed, for the partitions of `topics` it committed any on. */
  committed: (groupId: string, topics: string[]) => Promise<PartitionPosition[]>;
  close: () => Promise<void>;
};

export type PartitionLag = { topic: string; partition: number; lag: number };

/**
 * Where an exclusive consumer starts: the position it stored for a partition, else the offset its shared
 * group committed there (a consumer that has just become exclusive goes on where the group was).
 */
export const startingPositions = (stored: PartitionPosition[], committed: PartitionPosition[]): PartitionPosition[] => {
  const key = (p: PartitionPosition) => `${p.topic}/${p.partition}`;
  const own = new Set(stored.map(key));
  return [...stored, ...committed.filter((p) => !own.has(key(p)))];
};

export class LogUnavailableError extends Error {
  readonly code = 'LOG_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
