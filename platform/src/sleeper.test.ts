import { describe, expect, it } from 'vitest';
import { sleeper } from './sleeper.ts';

// Each test sleeps for an hour: it ends only if the wake cuts the sleep short (or vitest's timeout fails it).
const hour = 3_600_000;

describe('sleeper', () => {
  it('given a sleep under way, when woken, then the sleep ends', async () => {
    const nap = sleeper();
    const slept = nap.sleep(hour);
    nap.wake();
    await expect(slept).resolves.toBeUndefined();
  });

  it('given no sleep under way (a pass is running), when woken, then the next sleep ends at once', async () => {
    const nap = sleeper();
    nap.wake();
    await expect(nap.sleep(hour)).resolves.toBeUndefined();
  });

  it('keeps one wake for one sleep only: the sleep after it waits', async () => {
    const nap = sleeper();
    nap.wake();
    nap.wake();
    await nap.sleep(hour);
    const second = nap.sleep(hour);
    // A sleep that ended at once would settle before the timer: still sleeping is what is asserted.
    const state = await Promise.race([second.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('sleeping'), 50))]);
    expect(state).toBe('sleeping');
    nap.wake();
    await second;
  });
});
