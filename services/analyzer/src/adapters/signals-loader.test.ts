import { describe, expect, it } from 'vitest';
import { meaningOf } from '@hephaestus/schemas';
import { join } from 'node:path';
import { loadSignalMeanings, parseSignals } from './signals-loader.ts';

describe('signals file', () => {
  it('reads overrides that come before the defaults', () => {
    const parsed = parseSignals('signals.yaml', 'signals:\n  - { signal: "queue.*", role: symptom, bad: up, severity: critical, confirmIntervals: 3 }\n');
    expect(parsed.ok).toBe(true);
    const meanings = parsed.ok ? parsed.meanings : [];
    expect(meaningOf('queue.depth', meanings)).toMatchObject({ role: 'symptom', bad: 'up', confirmIntervals: 3, minRelativeChange: 0 });
    expect(meaningOf('process.memory.usage', meanings)).toMatchObject({ role: 'resource' });
  });

  it('refuses an unknown role with the file and line', () => {
    const parsed = parseSignals('signals.yaml', 'signals:\n  - signal: queue.depth\n    role: alarm\n    bad: up\n');
    expect(parsed).toMatchObject({ ok: false });
    expect(!parsed.ok && parsed.message).toMatch(/^signals\.yaml:3: signals\.0\.role: /);
  });

  it('loads the documented example shipped in config/ (no overrides) and nothing without a file', async () => {
    expect(await loadSignalMeanings(join(import.meta.dirname, '../../../../config/signals.yaml'))).toEqual([]);
    expect(await loadSignalMeanings(undefined)).toEqual([]);
  });
});
