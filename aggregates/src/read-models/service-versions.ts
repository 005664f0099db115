// The service_versions read model: the `service.version` each service reported and when it was first
// and last seen (the analyzer's rollup store records them), read by the healer to revert a release and
// to follow a fix to production. The one module that reads the table for another package.
import type { Sql } from '@hephaestus/platform';

/** The version of a service live at `atMs`: the newest first seen by then. */
export const serviceVersionAt = async (sql: Sql, service: string, atMs: number): Promise<string | undefined> => {
  const [row] = await sql<{ version: string }[]>`
    SELECT version FROM service_versions WHERE service = ${service} AND first_seen <= ${new Date(atMs)} ORDER BY first_seen DESC LIMIT 1`;
  return row?.version;
};

/** The newest version first seen since `since`, other than `except`: a release that came out then. */
export const versionFirstSeenSince = async (sql: Sql, service: string, since: Date, except?: string): Promise<string | undefined> => {
  const [row] = await sql<{ version: string }[]>`
    SELECT version FROM service_versions
    WHERE service = ${service} AND first_seen >= ${since} ${except === undefined ? sql`` : sql`AND version <> ${except}`}
    ORDER BY first_seen DESC LIMIT 1`;
  return row?.version;
};

/** The version last reported since `since`, other than `except`: one seen before may be back (a revert). */
export const versionLastSeenSince = async (sql: Sql, service: string, since: Date, except: string): Promise<string | undefined> => {
  const [row] = await sql<{ version: string }[]>`
    SELECT version FROM service_versions
    WHERE service = ${service} AND last_seen >= ${since} AND version <> ${except}
    ORDER BY last_seen DESC LIMIT 1`;
  return row?.version;
};
