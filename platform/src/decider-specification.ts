// Given/when/then for deciders, after Emmett's DeciderSpecification: given past events, when a
// command, then these new events (or this error).
import { expect } from 'vitest';

export type Decider<State, Command, Event> = {
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
  initialState: () => State;
};

export const DeciderSpecification = {
  for: <State, Command, Event, Stored = Event>(
    decider: { decide: (command: Command, state: State) => Event[]; evolve: (state: State, event: Stored) => State; initialState: () => State },
  ) => ({
    given: (events: Stored[]) => ({
      when: (command: Command) => {
        const run = () => decider.decide(command, events.reduce(decider.evolve, decider.initialState()));
        return {
          then: (expected: Event[]) => expect(run()).toEqual(expected),
          thenNothingHappens: () => expect(run()).toEqual([]),
          thenThrows: (message?: string | RegExp) => expect(run).toThrow(message),
        };
      },
    }),
  }),
};
