import { describe, expect, it } from 'vitest';
import { createWatermark } from './watermark.ts';

describe('the watermark over partitions', () => {
  it('is the newest event time while every partition is caught up', () => {
    const w = createWatermark({ staleMs: 30_000 });
    w.advance({ source: 'otel.spans/0', lastMs: 1_000 }, 0);
    w.advance({ source: 'otel.spans/1', lastMs: 5_000 }, 0);
    expect(w.at(0)).toMatchObject({ ms: 5_000, heldBy: undefined });
  });

  it('is held back by a partition whose collector is behind, until it catches up', () => {
    const w = createWatermark({ staleMs: 30_000 });
    w.advance({ source: 'otel.spans/0', lastMs: 20_000 }, 0);
    w.advance({ source: 'otel.metrics/1', lastMs: 4_000, behind: true }, 0);
    expect(w.at(100)).toMatchObject({ ms: 4_000, heldBy: 'otel.metrics/1' });
    // A batch with no items (all of it dead letters) keeps the partition's time, and says where it is.
    w.advance({ source: 'otel.metrics/1', behind: true }, 200);
    expect(w.at(300).ms).toBe(4_000);
    w.advance({ source: 'otel.metrics/1', lastMs: 9_000, behind: true }, 400);
    expect(w.at(500).ms).toBe(9_000);
    w.advance({ source: 'otel.metrics/1', lastMs: 19_000 }, 600);
    expect(w.at(700)).toMatchObject({ ms: 20_000, heldBy: undefined });
  });

  it('never moves a partition back: an older batch after a newer one changes nothing', () => {
    const w = createWatermark({ staleMs: 30_000 });
    w.advance({ source: 'otel.spans/0', lastMs: 30_000 }, 0);
    w.advance({ source: 'otel.spans/1', lastMs: 12_000, behind: true }, 0);
    w.advance({ source: 'otel.spans/1', lastMs: 8_000, behind: true }, 10);
    expect(w.at(20).ms).toBe(12_000);
  });

  it('stops waiting for a partition behind that is not heard of for the stale time, and says so once', () => {
    const w = createWatermark({ staleMs: 30_000 });
    w.advance({ source: 'otel.spans/0', lastMs: 50_000 }, 0);
    w.advance({ source: 'otel.spans/2', lastMs: 10_000, behind: true }, 0);
    expect(w.at(29_999)).toEqual({ ms: 10_000, heldBy: 'otel.spans/2', wentStale: [] });
    expect(w.at(30_000)).toEqual({ ms: 50_000, heldBy: undefined, wentStale: ['otel.spans/2'] });
    expect(w.at(31_000).wentStale).toEqual([]);
    // Heard of again (its new owner reads it), it holds time back again.
    w.advance({ source: 'otel.spans/2', lastMs: 11_000, behind: true }, 40_000);
    expect(w.at(40_001)).toMatchObject({ ms: 11_000, heldBy: 'otel.spans/2' });
  });

  it('caps a timestamp from a skewed clock', () => {
    const w = createWatermark({ staleMs: 30_000 });
    w.advance({ source: 'otel.spans/0', lastMs: 9_999_999 }, 0, 60_000);
    expect(w.at(0).ms).toBe(60_000);
  });
});
