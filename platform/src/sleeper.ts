// A sleep that `wake` cuts short: for loops that look again after a while unless something happens sooner.

export const sleeper = () => {
  let cut: (() => void) | undefined;
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => cut?.(), Math.max(0, ms));
        cut = () => {
          clearTimeout(timer);
          cut = undefined;
          resolve();
        };
      }),
    /** Ends the sleep under way; nothing when none is. */
    wake: () => cut?.(),
  };
};
