// A concurrency limit for one provider's calls, resizable at run time: raising it starts waiting
// calls at once; lowering it lets calls in flight finish and holds new ones until they fit.

export type ConcurrencyPool = {
  run<T>(task: () => Promise<T>): Promise<T>;
  setLimit(limit: number): void;
  readonly limit: number;
  readonly active: number;
  readonly waiting: number;
};

export const createConcurrencyPool = (initialLimit: number): ConcurrencyPool => {
  const checkLimit = (limit: number): number => {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, not ${limit}`);
    return limit;
  };
  let limit = checkLimit(initialLimit);
  let active = 0;
  const queue: Array<() => void> = [];

  const drain = () => {
    while (active < limit && queue.length > 0) {
      active++;
      queue.shift()?.();
    }
  };
  const acquire = (): Promise<void> => {
    if (active < limit) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => queue.push(resolve));
  };

  return {
    async run(task) {
      await acquire();
      try {
        return await task();
      } finally {
        active--;
        drain();
      }
    },
    setLimit(next) {
      limit = checkLimit(next);
      drain();
    },
    get limit() {
      return limit;
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
};
