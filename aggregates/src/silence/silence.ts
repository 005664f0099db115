// The Silence aggregate as a decider: pure decide/evolve over its stream (`silence-<id>`). A silence is
// created once, with matchers and a time range, and can be expired early (Alertmanager's rules: it
// cannot start in the past, expiring a pending one ends it before it starts, an expired one stays as it is).
import { silenceState, type EventFact, type Matcher, type NewEvent } from '@hephaestus/schemas';

export type SilenceEvent = EventFact<'silence.created' | 'silence.expired'>;

export type SilenceAggregate =
  | { status: 'none' }
  | { status: 'exists'; id: string; matchers: Matcher[]; startsAt: string; endsAt: string; createdBy: string; comment: string; expiredBy?: string };

export type SilenceCommand =
  | { type: 'CreateSilence'; at: string; silenceId: string; matchers: Matcher[]; startsAt: string; endsAt: string; createdBy: string; comment: string }
  | { type: 'ExpireSilence'; at: string; by?: string };

export const initialState = (): SilenceAggregate => ({ status: 'none' });

const earlier = (a: string, b: string) => (Date.parse(a) <= Date.parse(b) ? a : b);

export const decide = (command: SilenceCommand, state: SilenceAggregate): NewEvent[] => {
  switch (command.type) {
    case 'CreateSilence': {
      if (state.status !== 'none') return [];
      const { type: _type, at, ...data } = command;
      // A silence cannot start in the past: it would claim to have muted notifications already sent.
      const startsAt = new Date(Math.max(Date.parse(data.startsAt), Date.parse(at))).toISOString();
      return [{ type: 'silence.created', data: { ...data, startsAt } }];
    }
    case 'ExpireSilence':
      if (state.status === 'none' || silenceState(state, Date.parse(command.at)) === 'expired') return [];
      return [{ type: 'silence.expired', data: command.by === undefined ? { silenceId: state.id } : { silenceId: state.id, by: command.by } }];
  }
};

export const evolve = (state: SilenceAggregate, event: SilenceEvent): SilenceAggregate => {
  switch (event.type) {
    case 'silence.created': {
      const { silenceId, ...rest } = event.data;
      return { status: 'exists', id: silenceId, ...rest };
    }
    case 'silence.expired':
      // Expiring ends the silence at that moment; a pending one also starts then.
      if (state.status === 'none') return state;
      return {
        ...state,
        startsAt: earlier(state.startsAt, event.occurredAt),
        endsAt: earlier(state.endsAt, event.occurredAt),
        ...(event.data.by === undefined ? {} : { expiredBy: event.data.by }),
      };
  }
};

export const silenceDecider = { decide, evolve, initialState };
