// An incident as the healer decides on it: what each service of the incident shows (signal, side of its
// baseline, value, error signature), the incident's severity and labels, and the root-cause ranking,
// folded from the incident's stream. One fold, used by the healer and its tests.
import type { Direction, EventDataOf, NewEvent, Severity } from '@hephaestus/schemas';

/** One signal of the incident on one service: the opening one or an attached one. */
export type SignalEvidence = {
  service: string;
  signal: string;
  /** The value's side of its baseline; undefined when an old event gives no way to tell. */
  direction?: Direction;
  value: number;
  baseline?: number;
  /** The error template (Drain) of an `error_signature.*` signal, or of any signal that carries one. */
  signature?: string;
  /** How it got off its baseline, when the analyzer could tell: a step (`sudden`) or a creep (`gradual`). */
  onset?: 'sudden' | 'gradual';
};

export type RankedCandidate = EventDataOf<'incident.root_cause_ranked'>['candidates'][number];

export type IncidentEvidence = {
  incidentId: string;
  /** The service the incident opened on. */
  service: string;
  signal: string;
  severity: Severity;
  labels: Record<string, string>;
  controlUrl?: string;
  windowStart: string;
  signals: SignalEvidence[];
  ranking: RankedCandidate[];
  /** Whether the settled ranking (one interval of event time after opening) is in the evidence. */
  settled: boolean;
};

/**
 * These signals are bad on one side only whatever their baseline says: an error rate or a new error
 * signature only matters going up, and a failure prediction's value is the gauge now and its baseline
 * the limit it is predicted to cross, so value < baseline is the prediction itself, not a drop.
 */
const onlyAbove = (signal: string) => signal === 'error_rate' || signal === 'failure.predicted' || signal.startsWith('error_signature.');

/** The side of its baseline a signal is on: as recorded, else derived (events recorded before the field existed). */
export const directionOf = (signal: { signal: string; value: number; baseline?: number; direction?: Direction }): Direction | undefined => {
  if (signal.direction) return signal.direction;
  if (onlyAbove(signal.signal)) return 'above';
  if (signal.baseline === undefined || signal.value === signal.baseline) return undefined;
  return signal.value > signal.baseline ? 'above' : 'below';
};

export const initialEvidence = (): IncidentEvidence | undefined => undefined;

export const evolveEvidence = (state: IncidentEvidence | undefined, event: NewEvent): IncidentEvidence | undefined => {
  if (event.type === 'incident.opened') {
    const d = event.data;
    // A reopened incident's new opening starts its evidence again, as the incident aggregate does.
    return {
      incidentId: d.incidentId,
      service: d.service,
      signal: d.signal,
      severity: d.severity,
      labels: d.labels ?? {},
      controlUrl: d.controlUrl,
      windowStart: d.windowStart,
      signals: [{ service: d.service, signal: d.signal, direction: directionOf(d), value: d.value, baseline: d.baseline, onset: d.explanation?.onset }],
      ranking: [],
      settled: false,
    };
  }
  if (!state) return state;
  switch (event.type) {
    case 'incident.signal_attached': {
      const d = event.data;
      const signal: SignalEvidence = { service: d.service, signal: d.signal, direction: directionOf(d), value: d.value, baseline: d.baseline, signature: d.signature, onset: d.explanation?.onset };
      return { ...state, signals: [...state.signals, signal] };
    }
    case 'incident.severity_changed':
      return { ...state, severity: event.data.to };
    case 'incident.root_cause_ranked':
      return { ...state, ranking: event.data.candidates, settled: state.settled || event.data.settled === true };
    default:
      return state;
  }
};

/** The incident's evidence from its events in stream order; undefined before it opened. */
export const foldEvidence = (events: readonly NewEvent[]): IncidentEvidence | undefined => events.reduce(evolveEvidence, initialEvidence());
