import { DeciderSpecification } from '@hephaestus/platform/testing';
import { describe, expect, it } from 'vitest';
import { silenceDecider, type SilenceCommand, type SilenceEvent } from './silence.ts';

const spec = DeciderSpecification.for(silenceDecider);
const at = '2026-12-03T10:00:00.000Z';
const plus = (minutes: number) => new Date(Date.parse(at) + minutes * 60_000).toISOString();
const matchers = [{ name: 'service', value: 'coder', isRegex: false, isEqual: true }];
const data = { silenceId: 's-1', matchers, startsAt: at, endsAt: plus(60), createdBy: 'ana', comment: 'deploying coder' };
const create: SilenceCommand = { type: 'CreateSilence', at, ...data };
const created: SilenceEvent = { type: 'silence.created', data, occurredAt: at };
const pendingData = { ...data, startsAt: plus(30) };
const pending: SilenceEvent = { type: 'silence.created', data: pendingData, occurredAt: at };

describe('silence decider', () => {
  it('creates a silence once', () => {
    spec.given([]).when(create).then([{ type: 'silence.created', data }]);
    spec.given([created]).when(create).thenNothingHappens();
  });

  it('never starts a silence in the past: it starts when it is created', () => {
    spec.given([]).when({ ...create, startsAt: plus(-10) }).then([{ type: 'silence.created', data }]);
  });

  it('expires an active or a pending silence, saying who did', () => {
    spec.given([created]).when({ type: 'ExpireSilence', at: plus(5), by: 'bo' }).then([{ type: 'silence.expired', data: { silenceId: 's-1', by: 'bo' } }]);
    spec.given([pending]).when({ type: 'ExpireSilence', at: plus(5) }).then([{ type: 'silence.expired', data: { silenceId: 's-1' } }]);
  });

  it('leaves an expired silence, or one that ended by itself, or none at all, as it is', () => {
    const expired: SilenceEvent = { type: 'silence.expired', data: { silenceId: 's-1' }, occurredAt: plus(5) };
    spec.given([created, expired]).when({ type: 'ExpireSilence', at: plus(6) }).thenNothingHappens();
    spec.given([created]).when({ type: 'ExpireSilence', at: plus(61) }).thenNothingHappens();
    spec.given([]).when({ type: 'ExpireSilence', at }).thenNothingHappens();
  });

  it('evolves: expiring ends the silence then, and a pending one also starts then', () => {
    const fold = (events: SilenceEvent[]) => events.reduce(silenceDecider.evolve, silenceDecider.initialState());
    expect(fold([created, { type: 'silence.expired', data: { silenceId: 's-1', by: 'bo' }, occurredAt: plus(5) }])).toMatchObject({ startsAt: at, endsAt: plus(5), expiredBy: 'bo' });
    expect(fold([pending, { type: 'silence.expired', data: { silenceId: 's-1' }, occurredAt: plus(5) }])).toMatchObject({ startsAt: plus(5), endsAt: plus(5) });
  });
});
