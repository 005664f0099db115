// One active instance of a service among processes sharing a PostgreSQL database, the others standing
// by: the active one holds a session lock (session-lock.ts); a standby waits on it and starts the moment
// the active one stops or dies (PostgreSQL ends a killed process's session and releases its lock). On
// the embedded database there is one process, so it is active at once. A process that loses the lock
// while active (its lock connection dropped) stops the service and calls `onLost`: crash-only, its
// supervisor starts it again as a standby.
import type { Database } from './database.ts';
import type { Logger } from './logger.ts';
import { sessionLock, type Turn } from './session-lock.ts';

type Service = { stop: () => Promise<void> };

export type ActiveStandby = { stop: () => Promise<void>; active: () => boolean };

/** `onLost` for a service process: it exits (1) so that its supervisor starts it again, standing by. */
export const exitToStandBy = () => {
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
};

export const runActiveStandby = async (options: {
  database: Pick<Database, 'kind' | 'url'>;
  lockKey: number;
  /** The service's name, for the log and the lock connection's application_name. */
  name: string;
  logger: Logger;
  start: () => Promise<Service>;
  onLost: (reason: string) => void;
  /** How often the active one checks it still holds the lock. */
  checkMs?: number;
}): Promise<ActiveStandby> => {
  const { logger, name } = options;
  if (options.database.kind !== 'postgresql') {
    const service = await options.start();
    return { stop: () => service.stop(), active: () => true };
  }
  const lock = sessionLock(options.database.url, options.lockKey, `heph-${name}`);
  let service: Service | undefined;
  /** Holds the lock: active from the moment it takes it, while its service is still starting too. */
  let holding = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const running = () => service;
  const lose = async (reason: string) => {
    // Once: a check still in flight when the first one lost the turn must not lose it again.
    if (stopped || !holding) return;
    holding = false;
    logger.error(`${name} lost its active turn (${reason}): stopping; started again, it stands by`);
    clearInterval(timer);
    await service?.stop().catch((error: unknown) => logger.error({ err: error }, `${name} did not stop cleanly`));
    service = undefined;
    options.onLost(reason);
  };
  const activate = async (turn: Turn) => {
    holding = true;
    service = await options.start();
    if (stopped) return;
    timer = setInterval(() => {
      turn.holds().then(
        (held) => (held ? undefined : lose('the lock went with its database connection')),
        (error: unknown) => lose(`the lock cannot be checked: ${error instanceof Error ? error.message : String(error)}`),
      );
    }, options.checkMs ?? 2000);
    timer.unref();
  };
  // Active at once when no other holds the turn, so `heph up` returns with its analyzer running.
  const now = await lock.tryTake();
  let waiting: Promise<void> = Promise.resolve();
  if (now) {
    await activate(now).catch(async (error: unknown) => {
      await lock.close();
      throw error;
    });
    logger.info(`${name} active (it holds the ${name} lock)`);
  } else {
    logger.info(`${name} standing by: another ${name} is active; this one takes over when that one stops or dies`);
    waiting = lock.take().then(
      async (turn) => {
        if (stopped) return;
        logger.info(`${name} taking over: the active ${name} stopped or died`);
        await activate(turn).catch((error: unknown) => lose(`it did not start: ${error instanceof Error ? error.message : String(error)}`));
      },
      (error: unknown) => (stopped ? undefined : lose(`waiting for the lock failed: ${error instanceof Error ? error.message : String(error)}`)),
    );
  }
  return {
    active: () => holding && !stopped,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      if (service) {
        // Active: the service stops before the lock goes, so a standby never runs beside it.
        await service.stop();
        service = undefined;
        await lock.close();
        return;
      }
      // Standing by: ending the lock's session stops the wait; an activation already under way
      // finishes and is stopped.
      await lock.close();
      await waiting;
      await running()?.stop();
      service = undefined;
    },
  };
};
