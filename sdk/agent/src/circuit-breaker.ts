// The circuit breaker of the LLM call guard, as pure functions of its state and the time: closed →
// open after `failureThreshold` consecutive failures → one trial call after `resetMs` (half-open) →
// closed when the trial succeeds, open again when it fails. While open, calls go to the fallback.

export type BreakerOptions = { failureThreshold: number; resetMs: number };

export type BreakerState =
  | { status: 'closed'; failures: number }
  /** `forced`: opened through the control endpoint; it stays open until closed the same way. */
  | { status: 'open'; openedAtMs: number; forced: boolean }
  /** A trial call is in flight; `openedAtMs` is kept so an unanswered trial can give the slot back. */
  | { status: 'half_open'; openedAtMs: number };

/** `trial`: the one call that tests the primary model again while half-open. */
export type BreakerRoute = 'primary' | 'trial' | 'fallback';

export const closedBreaker = (): BreakerState => ({ status: 'closed', failures: 0 });

/** Where the next call goes, and the state once it is on its way. */
export const admit = (state: BreakerState, options: BreakerOptions, nowMs: number): { route: BreakerRoute; state: BreakerState } => {
  switch (state.status) {
    case 'closed':
      return { route: 'primary', state };
    case 'open':
      if (state.forced || nowMs - state.openedAtMs < options.resetMs) return { route: 'fallback', state };
      return { route: 'trial', state: { status: 'half_open', openedAtMs: state.openedAtMs } };
    case 'half_open':
      return { route: 'fallback', state };
  }
};

export const succeeded = (state: BreakerState, route: BreakerRoute): BreakerState => {
  if (route === 'trial' && state.status === 'half_open') return closedBreaker();
  if (route === 'primary' && state.status === 'closed' && state.failures > 0) return closedBreaker();
  return state;
};

/** Calls that were already under way when the breaker opened do not move it again. */
export const failed = (state: BreakerState, route: BreakerRoute, options: BreakerOptions, nowMs: number): BreakerState => {
  if (route === 'trial' && state.status === 'half_open') return { status: 'open', openedAtMs: nowMs, forced: false };
  if (route === 'primary' && state.status === 'closed') {
    const failures = state.failures + 1;
    return failures >= options.failureThreshold ? { status: 'open', openedAtMs: nowMs, forced: false } : { status: 'closed', failures };
  }
  return state;
};

/** A trial answered without reaching the provider (cache hit, merged call) proves nothing: the next call tries again. */
export const released = (state: BreakerState, route: BreakerRoute): BreakerState =>
  route === 'trial' && state.status === 'half_open' ? { status: 'open', openedAtMs: state.openedAtMs, forced: false } : state;

/** `open` holds the breaker open until `closed` is set; `closed` resets it to automatic operation. */
export const forced = (setting: 'open' | 'closed', nowMs: number): BreakerState =>
  setting === 'open' ? { status: 'open', openedAtMs: nowMs, forced: true } : closedBreaker();
