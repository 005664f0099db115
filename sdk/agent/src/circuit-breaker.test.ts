import { describe, expect, it } from 'vitest';
import { admit, closedBreaker, failed, forced, released, succeeded, type BreakerState } from './circuit-breaker.ts';

const options = { failureThreshold: 3, resetMs: 1000 };
const failTimes = (state: BreakerState, n: number, nowMs = 0): BreakerState => {
  let s = state;
  for (let i = 0; i < n; i++) s = failed(s, admit(s, options, nowMs).route, options, nowMs);
  return s;
};

describe('circuit breaker', () => {
  it('stays closed below the threshold and forgets failures after a success', () => {
    const twice = failTimes(closedBreaker(), 2);
    expect(twice).toEqual({ status: 'closed', failures: 2 });
    const healed = succeeded(twice, 'primary');
    expect(failTimes(healed, 2)).toEqual({ status: 'closed', failures: 2 });
  });

  it('opens after the threshold of consecutive failures and routes to the fallback', () => {
    const open = failTimes(closedBreaker(), 3, 50);
    expect(open).toEqual({ status: 'open', openedAtMs: 50, forced: false });
    expect(admit(open, options, 1049).route).toBe('fallback');
  });

  it('lets one trial through after resetMs and closes when it succeeds', () => {
    const open = failTimes(closedBreaker(), 3, 0);
    const trial = admit(open, options, 1000);
    expect(trial.route).toBe('trial');
    expect(trial.state.status).toBe('half_open');
    expect(admit(trial.state, options, 1001).route).toBe('fallback');
    expect(succeeded(trial.state, 'trial')).toEqual(closedBreaker());
  });

  it('opens again, with a new reset period, when the trial fails', () => {
    const trial = admit(failTimes(closedBreaker(), 3, 0), options, 1000);
    const reopened = failed(trial.state, 'trial', options, 1200);
    expect(reopened).toEqual({ status: 'open', openedAtMs: 1200, forced: false });
    expect(admit(reopened, options, 2100).route).toBe('fallback');
    expect(admit(reopened, options, 2200).route).toBe('trial');
  });

  it('ignores outcomes of calls that were under way when it opened', () => {
    const open = failTimes(closedBreaker(), 3, 0);
    expect(failed(open, 'primary', options, 500)).toBe(open);
    expect(succeeded(open, 'primary')).toBe(open);
  });

  it('gives the trial back when it was answered without reaching the provider', () => {
    const trial = admit(failTimes(closedBreaker(), 3, 0), options, 1000);
    const back = released(trial.state, 'trial');
    expect(back).toEqual({ status: 'open', openedAtMs: 0, forced: false });
    expect(admit(back, options, 1001).route).toBe('trial');
  });

  it('held open by force never tries the primary; closing by force resets it', () => {
    const held = forced('open', 0);
    expect(admit(held, options, 1_000_000).route).toBe('fallback');
    expect(forced('closed', 5)).toEqual(closedBreaker());
  });
});
