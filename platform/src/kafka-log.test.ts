import { describe, expect, it } from 'vitest';
import { groupBySize } from './kafka-log.ts';

const record = (bytes: number) => ({ key: null, value: Buffer.alloc(bytes), headers: {} });

describe('kafka send grouping', () => {
  it('groups consecutive records up to the byte limit and sends an oversized record alone', () => {
    const groups = groupBySize([record(400), record(400), record(400), record(2000), record(10)], 1000);
    expect(groups.map((g) => g.map((r) => r.value.length))).toEqual([[400, 400], [400], [2000], [10]]);
  });
});
