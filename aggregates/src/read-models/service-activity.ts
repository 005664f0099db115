// What the analyzer's rollups say of each service as a whole: when it was last seen, its recent calls
// and errors, the control URL it exported. Read by the console's service list and by the healer (its
// target's control URL, the fleet for the blast radius). The one module that reads them for another package.
import type { Sql, TransactionSql } from '@hephaestus/platform';

export type ServiceActivity = { service: string; lastSeen: Date; callsLast5m: number; errorsLast5m: number };

/** Every service with rollups, by name: last seen, and its calls and errors in the last 5 minutes by the database's clock. */
export const readServiceActivity = async (sql: Sql): Promise<ServiceActivity[]> =>
  (
    await sql<{ service: string; last_seen: Date; calls: string | null; errors: string | null }[]>`
      SELECT service, max(bucket_start) AS last_seen,
             sum(calls) FILTER (WHERE bucket_start > now() - interval '5 minutes') AS calls,
             sum(errors) FILTER (WHERE bucket_start > now() - interval '5 minutes') AS errors
      FROM rollups GROUP BY service ORDER BY service`
  ).map((r) => ({ service: r.service, lastSeen: r.last_seen, callsLast5m: Number(r.calls ?? 0), errorsLast5m: Number(r.errors ?? 0) }));

/** Services with rollups starting at or after `sinceMs`. */
export const servicesSeenSince = async (sql: Sql | TransactionSql, sinceMs: number): Promise<string[]> =>
  (await sql<{ service: string }[]>`SELECT DISTINCT service FROM rollups WHERE bucket_start >= ${new Date(sinceMs)}`).map((r) => r.service);

/** The newest control URL a service exported (heph.control.url), if any. */
export const controlUrlOf = async (sql: Sql, service: string): Promise<string | undefined> => {
  const [row] = await sql<{ control_url: string }[]>`
    SELECT control_url FROM rollups WHERE service = ${service} AND control_url IS NOT NULL ORDER BY bucket_start DESC LIMIT 1`;
  return row?.control_url;
};
