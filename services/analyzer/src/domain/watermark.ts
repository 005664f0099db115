// How far the telemetry has got, in event time, over the partitions the collectors read. The newest
// event time consumed moves it on; a partition whose collector is behind (records still to apply, by the
// log's high watermark when its batch was read) holds it back at that partition's newest event time, so
// an interval closes once every partition's telemetry for it is applied: a lagging collector delays the
// judgement instead of making its services look quiet. A partition that is behind and stops reporting
// (its collector died and nobody took it over) holds time back for `staleMs` of the clock at most.

export type WatermarkSource = { source: string; lastMs?: number; behind?: boolean };

export const createWatermark = (options: { staleMs: number }) => {
  const sources = new Map<string, { lastMs: number; behind: boolean; heardAtMs: number; stale: boolean }>();
  let newestMs = 0;

  /** One applied batch, heard at `nowMs` of the clock; `capMs` bounds the newest time (a skewed agent clock). */
  const advance = (batch: WatermarkSource, nowMs: number, capMs = Number.POSITIVE_INFINITY) => {
    const known = sources.get(batch.source);
    const lastMs = batch.lastMs === undefined ? known?.lastMs : Math.max(known?.lastMs ?? Number.NEGATIVE_INFINITY, Math.min(batch.lastMs, capMs));
    if (lastMs === undefined) return;
    sources.set(batch.source, { lastMs, behind: batch.behind === true, heardAtMs: nowMs, stale: false });
    if (lastMs > newestMs) newestMs = lastMs;
  };

  /**
   * The watermark at `nowMs`, and the partitions that went stale since the last call (behind, unheard
   * for `staleMs`: no longer waited for).
   */
  const at = (nowMs: number): { ms: number; heldBy?: string; wentStale: string[] } => {
    let ms = newestMs;
    let heldBy: string | undefined;
    const wentStale: string[] = [];
    for (const [source, s] of sources) {
      if (!s.behind) continue;
      if (nowMs - s.heardAtMs >= options.staleMs) {
        if (!s.stale) wentStale.push(source);
        s.stale = true;
        continue;
      }
      if (s.lastMs < ms) {
        ms = s.lastMs;
        heldBy = source;
      }
    }
    return { ms, heldBy, wentStale };
  };

  return { advance, at, newestMs: () => newestMs };
};
