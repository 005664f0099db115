import { describe, expect, it } from 'vitest';
import { defaultCommonSettings, formatValue, judge, newAlarm, newRecord, scoreOfRatio, stepAlarm, Verdict } from './detector.ts';

describe('shared detector rules', () => {
  it('formats values with their unit, scaled for reading', () => {
    expect(formatValue(2300, 'ms')).toBe('2.3 s');
    expect(formatValue(410, 'ms')).toBe('410 ms');
    expect(formatValue(0.25, 's')).toBe('250 ms');
    expect(formatValue(5 * 2 ** 30, 'bytes')).toBe('5 GB');
    expect(formatValue(12.345, '%')).toBe('12.3 %');
    expect(formatValue(1234567, '')).toBe('1,234,567');
    expect(formatValue(3, 'req/s')).toBe('3 req/s');
  });

  it('explains a verdict in one line, with the run of anomalous intervals', () => {
    const settings = { ...defaultCommonSettings, label: 'p95 latency', unit: 'ms' };
    expect(new Verdict(0.9, true, 2300, 410, 80, 6, settings).explanation).toBe('p95 latency 2.3 s vs usual 410 ms ± 80 ms, 6 intervals');
    expect(new Verdict(0.1, false, 400, 410, 80, 0, settings).explanation).toBe('p95 latency 400 ms vs usual 410 ms ± 80 ms');
    expect(new Verdict(0, false, 400, Number.NaN, 0, 0, settings).explanation).toBe('p95 latency 400 ms: still learning');
  });

  it('scores a deviation against the decaying record of past deviations, after warm-up', () => {
    const r = newRecord();
    expect(judge(r, 2, 2, 1, 0)).toBe(0);
    expect(judge(r, 4, 2, 1, 0)).toBe(0);
    expect(judge(r, 8, 2, 1, 0)).toBe(2);
    expect(judge(r, 4, 2, 0.5, 0)).toBe(0.5);
    // The record decayed from 8 to 4, then took 4: a floor of 10 stops a calm series from alarming on wiggles.
    expect(judge(r, 6, 2, 1, 10)).toBeCloseTo(0.6, 10);
    expect(scoreOfRatio(1)).toBe(0.5);
    expect(scoreOfRatio(0)).toBe(0);
  });

  it('keeps the alarm up until enough quiet points pass (hysteresis)', () => {
    const a = newAlarm();
    const s = { ...defaultCommonSettings, alarmScore: 0.5, clearScore: 0.4, quietPoints: 2 };
    const states = [0.6, 0.45, 0.3, 0.45, 0.3, 0.3, 0.3].map((score) => stepAlarm(a, score, s));
    expect(states).toEqual([true, true, true, true, true, false, false]);
  });
});
