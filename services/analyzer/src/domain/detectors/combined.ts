// The combiner: several detectors judge each point, and the strongest verdict speaks. Every member
// scores on one scale (its deviation against the record of its own recent deviations), so taking
// the maximum is fair; the combined alarm has its own hysteresis.
import { defaultCommonSettings, newAlarm, stepAlarm, Verdict, type AlarmState, type CommonSettings, type Detector } from './detector.ts';

export type CombinedState = { members: unknown[]; alarm: AlarmState };

/** One set of settings for many series: call the result once per series with that series' members. */
export const combiner = (settings: Partial<CommonSettings> = {}) => {
  const s: CommonSettings = { ...defaultCommonSettings, ...settings };
  return (members: ReadonlyArray<Detector>, alarm: AlarmState = newAlarm()): Detector<CombinedState> => {
    const count = members.length;
    return {
      state: { members: members.map((m) => m.state), alarm },
      update(timestampMs, value) {
        let best = members[0]!.update(timestampMs, value);
        for (let i = 1; i < count; i++) {
          const v = members[i]!.update(timestampMs, value);
          if (v.score > best.score || (Number.isNaN(best.usual) && !Number.isNaN(v.usual) && v.score === best.score)) best = v;
        }
        const anomalous = stepAlarm(alarm, best.score, s);
        return new Verdict(best.score, anomalous, value, best.usual, best.spread, alarm.run, best.settings, best.context, best.aux);
      },
    };
  };
};

export const combineDetectors = (members: ReadonlyArray<Detector>, settings: Partial<CommonSettings> = {}, alarm?: AlarmState): Detector<CombinedState> =>
  combiner(settings)(members, alarm);
