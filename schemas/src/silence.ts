// Silences as Alertmanager's API v2 describes them: matchers and a time range; a silenced alert is not
// sent. Stored as silence.created / silence.expired events with a `silences` projection.
import { z } from 'zod';
import { allMatch, matcher, type Labels } from './matchers.ts';

export const silence = z.object({
  id: z.string(),
  matchers: z.array(matcher).min(1),
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime(),
  createdBy: z.string().min(1),
  comment: z.string(),
});
export type Silence = z.infer<typeof silence>;

export type SilenceState = 'pending' | 'active' | 'expired';

export const silenceState = (s: Pick<Silence, 'startsAt' | 'endsAt'>, nowMs: number): SilenceState =>
  nowMs < Date.parse(s.startsAt) ? 'pending' : nowMs < Date.parse(s.endsAt) ? 'active' : 'expired';

/** The ids of the active silences whose matchers all match these labels. */
export const silencedBy = (labels: Labels, silences: Silence[], nowMs: number): string[] =>
  silences.filter((s) => silenceState(s, nowMs) === 'active' && allMatch(s.matchers, labels)).map((s) => s.id);
