// The service_limits read model: the limits each service reported as `heph.limit.<signal>` resource
// attributes (the analyzer's rollup store records them), read by failure prediction and the console's
// forecasts. The one module that reads the table.
import type { Sql, TransactionSql } from '@hephaestus/platform';

/** Every service's reported limits: service → signal → limit. */
export const readServiceLimits = async (sql: Sql | TransactionSql): Promise<Map<string, Record<string, number>>> => {
  const rows = await sql<{ service: string; signal: string; limit_value: number }[]>`SELECT service, signal, limit_value FROM service_limits`;
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) out.set(r.service, { ...out.get(r.service), [r.signal]: Number(r.limit_value) });
  return out;
};
