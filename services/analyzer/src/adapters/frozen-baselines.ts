// frozen_baselines: the baselines the incident policy froze as its open incidents began (hysteresis),
// per service and signal. The judge stores them after each pass; the collectors' detectors read them.
import type { Sql } from '@hephaestus/platform';

export type FrozenBaseline = { service: string; signal: string; baseline: number };

/** Replaces the stored set with the open incidents' baselines now. */
export const storeFrozenBaselines = (sql: Sql, frozen: FrozenBaseline[]) =>
  sql.begin(async (tx) => {
    await tx`DELETE FROM frozen_baselines`;
    if (frozen.length > 0) await tx`INSERT INTO frozen_baselines ${tx(frozen)}`;
  });

/** The stored baselines, as `frozen(service, signal)`. */
export const readFrozenBaselines = async (sql: Sql): Promise<(service: string, signal: string) => number | undefined> => {
  const rows = await sql<FrozenBaseline[]>`SELECT service, signal, baseline FROM frozen_baselines`;
  const byKey = new Map(rows.map((r) => [`${r.service}\u0000${r.signal}`, r.baseline]));
  return (service, signal) => byKey.get(`${service}\u0000${signal}`);
};
