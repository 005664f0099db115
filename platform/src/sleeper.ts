// A sleep that `wake` cuts short: for loops that look again after a while unless something happens sooner.
// A wake that comes while no sleep is under way (the loop is busy with a pass) is kept: the next sleep
// returns at once, so what happened during the pass is looked at without waiting out a whole nap.

export const sleeper = () => {
  let cut: (() => void) | undefined;
  let woken = false;
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        if (woken) {
          woken = false;
          resolve();
          return;
        }
        const timer = setTimeout(() => cut?.(), Math.max(0, ms));
        cut = () => {
          clearTimeout(timer);
          cut = undefined;
          resolve();
        };
      }),
    /** Ends the sleep under way, or, when none is, the next one as soon as it starts. */
    wake: () => {
      if (cut) cut();
      else woken = true;
    },
  };
};
