import { describe, expect, it } from 'vitest';
import { createConcurrencyPool } from './concurrency-pool.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};
const settle = () => new Promise((r) => setImmediate(r));

describe('concurrency pool', () => {
  it('runs at most `limit` tasks at once and starts the next as one finishes', async () => {
    const pool = createConcurrencyPool(2);
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let peak = 0;
    const runs = gates.map((gate) =>
      pool.run(async () => {
        peak = Math.max(peak, ++running);
        await gate.promise;
        running--;
      }),
    );
    await settle();
    expect([pool.active, pool.waiting]).toEqual([2, 1]);
    gates[0]?.resolve();
    await settle();
    expect([pool.active, pool.waiting]).toEqual([2, 0]);
    gates[1]?.resolve();
    gates[2]?.resolve();
    await Promise.all(runs);
    expect(peak).toBe(2);
    expect(pool.active).toBe(0);
  });

  it('starts waiting tasks when the limit is raised and holds new ones when it is lowered', async () => {
    const pool = createConcurrencyPool(1);
    const gate = deferred();
    const runs = [1, 2, 3].map(() => pool.run(() => gate.promise));
    await settle();
    expect(pool.active).toBe(1);
    pool.setLimit(3);
    expect(pool.active).toBe(3);
    pool.setLimit(1);
    const late = pool.run(async () => 'late');
    expect(pool.waiting).toBe(1);
    gate.resolve();
    await Promise.all(runs);
    await expect(late).resolves.toBe('late');
  });

  it('frees the slot when a task fails', async () => {
    const pool = createConcurrencyPool(1);
    await expect(pool.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(pool.run(async () => 'next')).resolves.toBe('next');
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => createConcurrencyPool(0)).toThrow(RangeError);
    expect(() => createConcurrencyPool(1).setLimit(1.5)).toThrow(RangeError);
  });
});
