// The events each objective judges, read from the base-resolution rollups: calls and errors for
// availability, calls and calls slower than the threshold (from the stored DDSketch) for latency.
import { DDSketch } from '@datadog/sketches-js';
import type { Sql } from '@hephaestus/platform';
import type { Objective } from '@hephaestus/schemas';
import { eventsOf, type EventBucket } from '../domain/burn-rate.ts';

export type ObjectiveBuckets = { objective: Objective; buckets: EventBucket[] };

/** A stored sketch, or undefined when its bytes are not one: that bucket then has no latency events. */
const readSketch = (bytes: Buffer): DDSketch | undefined => {
  try {
    return bytes.length > 0 ? DDSketch.fromProto(bytes) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Per service with rollups starting in [fromMs, toMs) (or only `service`), its objectives and their
 * events per bucket, oldest first. A service whose objectives are all turned off is left out, and its
 * sketches are not decoded.
 */
export const readObjectiveBuckets = async (
  sql: Sql,
  args: { resolutionSeconds: number; fromMs: number; toMs: number; objectivesOf: (service: string) => Objective[]; service?: string },
): Promise<Map<string, ObjectiveBuckets[]>> => {
  const rows = await sql<{ service: string; bucket_start: Date; calls: string; errors: string; sketch: Buffer }[]>`
    SELECT service, bucket_start, calls, errors, sketch FROM rollups
    WHERE resolution_seconds = ${args.resolutionSeconds}
      AND bucket_start >= ${new Date(args.fromMs)} AND bucket_start < ${new Date(args.toMs)}
      ${args.service === undefined ? sql`` : sql`AND service = ${args.service}`}
    ORDER BY service, bucket_start`;
  const byService = new Map<string, ObjectiveBuckets[]>();
  for (const row of rows) {
    let entries = byService.get(row.service);
    if (!entries) {
      entries = args.objectivesOf(row.service).map((objective) => ({ objective, buckets: [] }));
      byService.set(row.service, entries);
    }
    if (entries.length === 0) continue;
    const calls = Number(row.calls);
    const errors = Number(row.errors);
    const sketch = entries.some((e) => e.objective.kind === 'latency') ? readSketch(row.sketch) : undefined;
    const startMs = row.bucket_start.getTime();
    for (const entry of entries) entry.buckets.push({ startMs, ...eventsOf(entry.objective, { calls, errors, sketch }) });
  }
  for (const [service, entries] of byService) if (entries.length === 0) byService.delete(service);
  return byService;
};
