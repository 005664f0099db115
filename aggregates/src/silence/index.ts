// Silences: the Silence decider, its events and the `silences` projection, written by the console's API and read by the
// analyzer's alert dispatcher.
export {
  activeSilences,
  createSilence,
  expireSilence,
  getSilence,
  listSilences,
  projectSilenceEvent,
  silenceStreamId,
  unendedSilences,
  type SilenceNotFound,
  type SilenceResult,
  type StoredSilence,
} from './silence-store.ts';
export { silenceDecider, type SilenceAggregate, type SilenceCommand, type SilenceEvent } from './silence.ts';
