// The detectors by name, and the default set the analyzer runs on every signal.
import { combiner, type CombinedState } from './combined.ts';
import { createChangepointDetector, type ChangepointState } from './changepoint.ts';
import { createContextNoveltyDetector, type ContextNoveltyState } from './context-novelty.ts';
import { createCusumDetector, cusumDetector, type CusumSettings, type CusumState } from './cusum.ts';
import type { CommonSettings, Detector } from './detector.ts';
import { createEwmaDetector, ewmaDetector, type EwmaSettings, type EwmaState } from './ewma-zscore.ts';
import { createRangeDetector, rangeDetector, type RangeSettings, type RangeState } from './range.ts';
import { createRelativeEntropyDetector, type RelativeEntropyState } from './relative-entropy.ts';
import { createRobustDetector, robustDetector, type RobustSettings, type RobustState } from './robust-zscore.ts';
import { createSeasonalDetector, seasonalDetector, type SeasonalSettings, type SeasonalState } from './seasonal-baseline.ts';
import { createWindowShapeDetector, type WindowShapeState } from './window-shape.ts';
import { createVolatilityDetector, volatilityDetector, type VolatilitySettings, type VolatilityState } from './volatility-shift.ts';

export type { Detection, Detector, CommonSettings } from './detector.ts';
export { formatValue, Verdict } from './detector.ts';

/** Per-signal settings: `common` applies to every member, the rest to one member each. */
export type DefaultDetectorSettings = {
  common?: Partial<CommonSettings>;
  range?: Partial<RangeSettings>;
  ewma?: Partial<EwmaSettings>;
  cusum?: Partial<CusumSettings>;
  volatility?: Partial<VolatilitySettings>;
  seasonal?: Partial<SeasonalSettings>;
  robust?: Partial<RobustSettings>;
};

export type DefaultDetectorState = CombinedState & { members: [RangeState, EwmaState, CusumState, VolatilityState, SeasonalState, RobustState] };

/**
 * The default set: range, EWMA z-score, CUSUM, volatility shift, seasonal baseline (day and week) and
 * robust z-score, combined. Build it once per kind of signal, then call the result once per series; keep that
 * detector with the series, and pass its `state` (structured-clonable) back in to resume after a restart.
 */
export const defaultDetector = (settings: DefaultDetectorSettings = {}) => {
  const common = settings.common ?? {};
  const range = rangeDetector({ ...common, ...settings.range });
  const ewma = ewmaDetector({ ...common, ...settings.ewma });
  const cusum = cusumDetector({ ...common, ...settings.cusum });
  const volatility = volatilityDetector({ ...common, ...settings.volatility });
  const seasonal = seasonalDetector({ ...common, ...settings.seasonal });
  const robust = robustDetector({ ...common, ...settings.robust });
  const combine = combiner(common);
  return (state?: DefaultDetectorState): Detector<DefaultDetectorState> => {
    const m = state?.members;
    const members = [range(m?.[0]), ewma(m?.[1]), cusum(m?.[2]), volatility(m?.[3]), seasonal(m?.[4]), robust(m?.[5])];
    return combine(members, state?.alarm) as Detector<DefaultDetectorState>;
  };
};

const standard = defaultDetector();

/** One detector with the default set; with settings, prefer `defaultDetector(settings)` once and call it per series. */
export const createDefaultDetector = (settings?: DefaultDetectorSettings, state?: DefaultDetectorState): Detector<DefaultDetectorState> =>
  (settings ? defaultDetector(settings) : standard)(state);

/** The named detectors the default set combines, in the order of its members. */
export const defaultMembers: readonly DetectorName[] = ['range', 'ewma', 'cusum', 'volatility', 'seasonal', 'robust'];

export const detectorNames = ['default', 'range', 'ewma', 'robust', 'cusum', 'volatility', 'seasonal', 'entropy', 'context', 'changepoint', 'shape'] as const;
export type DetectorName = (typeof detectorNames)[number];

export const detectorDescriptions: Record<DetectorName, string> = {
  default: 'range, ewma, cusum, volatility, seasonal and robust combined (the analyzer default)',
  range: 'a value beyond the highest or lowest of the recent past',
  ewma: 'EWMA z-score against an exponentially weighted mean and deviation',
  robust: 'robust z-score: median and MAD over a sliding window of 64 points, with a share of the longer-run spread',
  cusum: 'CUSUM: a sustained shift of the level',
  volatility: 'a change of spread: the series goes flat or starts to thrash',
  seasonal: 'seasonal baseline: unusual for this time of day or week',
  entropy: 'relative entropy: the last 52 points distributed unlike any usual stretch (Wang et al. 2011)',
  context: 'contextual novelty: a run of points tracing paths through the levels seldom met before (after CAD OSE)',
  changepoint: 'Bayesian online changepoint detection: a point no recent regime explains (Adams and MacKay 2007)',
  shape: 'window shape: the last 32 points trace a shape unlike the prototypes met before (after ARTime and KNN-CAD)',
};

export const isDetectorName = (name: string): name is DetectorName => (detectorNames as readonly string[]).includes(name);

/**
 * A detector by name, with common settings (label, unit, warm-up…): fresh, or resumed from the `state`
 * of one built with the same name and settings (a copy: v8-serialized and back, as the analyzer persists it).
 */
export const createDetector = (name: DetectorName, common: Partial<CommonSettings> = {}, state?: unknown): Detector => {
  switch (name) {
    case 'default':
      return createDefaultDetector(Object.keys(common).length > 0 ? { common } : undefined, state as DefaultDetectorState | undefined);
    case 'range':
      return createRangeDetector(common, state as RangeState | undefined);
    case 'ewma':
      return createEwmaDetector(common, state as EwmaState | undefined);
    case 'robust':
      return createRobustDetector(common, state as RobustState | undefined);
    case 'cusum':
      return createCusumDetector(common, state as CusumState | undefined);
    case 'volatility':
      return createVolatilityDetector(common, state as VolatilityState | undefined);
    case 'seasonal':
      return createSeasonalDetector(common, state as SeasonalState | undefined);
    case 'entropy':
      return createRelativeEntropyDetector(common, state as RelativeEntropyState | undefined);
    case 'context':
      return createContextNoveltyDetector(common, state as ContextNoveltyState | undefined);
    case 'changepoint':
      return createChangepointDetector(common, state as ChangepointState | undefined);
    case 'shape':
      return createWindowShapeDetector(common, state as WindowShapeState | undefined);
  }
};
