// The topology_edges read model: who calls whom, as the analyzer's correlator last stored it, for the
// console's dependency graph. The one module that reads the table for another package.
import type { Sql } from '@hephaestus/platform';

export type TopologyEdge = { caller: string; callee: string; calls: number; errors: number; updatedAt: Date };

/** Every edge, by caller then callee. */
export const readTopology = async (sql: Sql): Promise<TopologyEdge[]> =>
  (
    await sql<{ caller: string; callee: string; calls: number; errors: number; updated_at: Date }[]>`
      SELECT caller, callee, calls, errors, updated_at FROM topology_edges ORDER BY caller, callee`
  ).map((e) => ({ caller: e.caller, callee: e.callee, calls: e.calls, errors: e.errors, updatedAt: e.updated_at }));
