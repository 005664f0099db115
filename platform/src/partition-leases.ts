// Partition leases in PostgreSQL: the members of a pool share a log's partitions, each partition held
// by one member at a time as a session advisory lock on a connection of the member's own. A member that
// dies (kill -9) loses its session and PostgreSQL frees its partitions at once, so the others take them
// within one look (`everyMs`), not after a Kafka session timeout; a starved member keeps its partitions
// as long as its connection lives. With M members, the member of rank k (by backend pid) reads every
// M-th partition from the k-th: it lets others go (after `onChange` has stopped reading them) and takes
// its own as they come free.
import postgres from 'postgres';
import type { Logger } from './logger.ts';

export type PartitionRef = { topic: string; partition: number };

export type PartitionLeasesOptions = {
  url: string;
  /** The pool's name: members of one pool share its partitions (e.g. the analyzers' collecting group). */
  pool: string;
  partitions: PartitionRef[];
  logger: Logger;
  /**
   * Told each change before it counts: `gained` may be read from now on; `released` must no longer be
   * read once it resolves (their locks go after it). A throw leaves the change for the next look.
   */
  onChange: (change: { held: PartitionRef[]; gained: PartitionRef[]; released: PartitionRef[] }) => Promise<void>;
  /** How often a member looks at the pool (and checks it still holds its locks). */
  everyMs?: number;
};

/** A 31-bit key from a name, for the first half of a two-key advisory lock. */
const keyOf = (name: string) => {
  let h = 2166136261;
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 16777619);
  return (h >>> 1) & 0x7fffffff;
};

/** The second half of the membership lock: beside the partitions' indexes, never one of them. */
const membersKey = 0x7fffffff;

export const describePartitions = (refs: PartitionRef[]): string => {
  const byTopic = new Map<string, number[]>();
  for (const r of refs) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r.partition]);
  return [...byTopic].map(([topic, ps]) => `${topic} ${ps.sort((a, b) => a - b).join(',')}`).join('; ') || 'none';
};

export const startPartitionLeases = async (options: PartitionLeasesOptions) => {
  const { logger, partitions } = options;
  const pool = keyOf(options.pool);
  const everyMs = options.everyMs ?? 500;
  // The server probes an idle connection after 10 s: a member whose machine vanished without closing its
  // connection loses its partitions within about 25 s, not after the system's default two hours.
  const sql = postgres(options.url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: `heph-leases-${options.pool}`.slice(0, 63), tcp_keepalives_idle: 10, tcp_keepalives_interval: 5, tcp_keepalives_count: 3 },
  });
  /** Indexes into `partitions` this member holds (as far as it knows: each look checks with PostgreSQL). */
  const held = new Set<number>();
  const refs = (indexes: Iterable<number>) => [...indexes].sort((a, b) => a - b).map((i) => partitions[i]!);
  let stopped = false;

  const look = async () => {
    // What PostgreSQL says: every lock of the pool (partitions, and the members' shared one) and whose it is.
    const read = () => sql<{ index: number; pid: number; mine: boolean; members: boolean }[]>`
      SELECT objid::int AS index, pid, pid = pg_backend_pid() AS mine, objid::int = ${membersKey} AS members
      FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ${pool} AND objsubid = 2`;
    let locks = await read();
    // Membership: a shared lock of the pool's, taken again when the session was lost with it.
    if (!locks.some((l) => l.mine && l.members)) {
      await sql`SELECT pg_try_advisory_lock_shared(${pool}, ${membersKey})`;
      locks = await read();
    }
    const mine = new Set(locks.filter((l) => l.mine && !l.members).map((l) => l.index));
    const taken = new Set(locks.filter((l) => !l.members).map((l) => l.index));
    // Locks gone with a lost connection: stop reading those partitions first.
    const lost = [...held].filter((i) => !mine.has(i));
    if (lost.length > 0) {
      logger.warn({ pool: options.pool, partitions: describePartitions(refs(lost)) }, 'partition leases lost with their database session: no longer reading them');
      for (const i of lost) held.delete(i);
      await options.onChange({ held: refs(held), gained: [], released: refs(lost) });
    }
    // Locks this member holds but does not read (a change that failed half way) go.
    for (const i of [...mine].filter((i) => !held.has(i))) await sql`SELECT pg_advisory_unlock(${pool}, ${i})`;
    // Each member's partitions: every members-th one from its rank (members ordered by backend pid), so
    // the partitions of each topic spread over the members as the caller orders them.
    const pids = [...new Set(locks.filter((l) => l.members).map((l) => l.pid))].sort((a, b) => a - b);
    const members = Math.max(1, pids.length);
    const rank = Math.max(0, pids.indexOf(locks.find((l) => l.mine && l.members)?.pid ?? -1));
    const mineToRead = (i: number) => i % members === rank;
    const extra = [...held].filter((i) => !mineToRead(i));
    if (extra.length > 0) {
      for (const i of extra) held.delete(i);
      await options.onChange({ held: refs(held), gained: [], released: refs(extra) });
      for (const i of extra) await sql`SELECT pg_advisory_unlock(${pool}, ${i})`;
      logger.info({ pool: options.pool, members, partitions: held.size, of: partitions.length, released: describePartitions(refs(extra)) }, `partitions handed on: holding ${held.size} of ${partitions.length} (${describePartitions(refs(held))}) among ${members} members`);
    }
    const gained: number[] = [];
    for (let i = 0; i < partitions.length; i++) {
      if (!mineToRead(i) || held.has(i) || taken.has(i)) continue;
      const [row] = await sql<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${pool}, ${i}) AS ok`;
      if (row!.ok) gained.push(i);
    }
    if (gained.length === 0) return;
    try {
      await options.onChange({ held: refs([...held, ...gained]), gained: refs(gained), released: [] });
    } catch (error) {
      for (const i of gained) await sql`SELECT pg_advisory_unlock(${pool}, ${i})`;
      throw error;
    }
    for (const i of gained) held.add(i);
    logger.info({ pool: options.pool, members, partitions: held.size, of: partitions.length, gained: describePartitions(refs(gained)) }, `partitions taken: holding ${held.size} of ${partitions.length} (${describePartitions(refs(held))}) among ${members} members`);
  };

  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        await look();
      } catch (error) {
        if (!stopped) logger.warn({ err: error, pool: options.pool }, 'partition leases: look failed; trying again');
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs);
      });
    }
  })();

  return {
    /** The partitions this member reads now. */
    held: () => refs(held),
    /** Lets every partition go (after `onChange` stopped reading them) and leaves the pool. */
    stop: async () => {
      stopped = true;
      wake?.();
      await loop;
      if (held.size > 0) await options.onChange({ held: [], gained: [], released: refs(held) }).catch(() => {});
      held.clear();
      await sql.end({ timeout: 1 });
    },
  };
};
