// The objectives file: the documented example is the defaults, a bad file is refused with its line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultObjectives, objectivesFor } from '@hephaestus/schemas';
import { loadObjectives, ObjectivesFileError, parseObjectives } from './objectives-loader.ts';

const good = `alerting:
  minCalls: 50
defaults:
  availability: { targetPercent: 99.5 }
services:
  - service: "batch-*"
    latency: false
  - service: checkout
    latency:
      thresholdMs: 800
`;

describe('objectives loader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'heph-objectives-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses a file over the defaults', () => {
    const result = parseObjectives('objectives.yaml', good);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.objectives.alerting).toEqual({ rules: defaultObjectives.alerting.rules, minCalls: 50 });
    expect(objectivesFor(result.objectives, 'checkout').map(({ alerting: _, ...o }) => o)).toEqual([
      { service: 'checkout', kind: 'availability', targetPercent: 99.5 },
      { service: 'checkout', kind: 'latency', targetPercent: 99, thresholdMs: 800 },
    ]);
    expect(objectivesFor(result.objectives, 'batch-nightly').map((o) => o.kind)).toEqual(['availability']);
  });

  it.each([
    ['an unknown key', good.replace('      thresholdMs: 800', '      thresholdMS: 800'), 10, 'services.1.latency: Unrecognized key: "thresholdMS"'],
    ['a target of 100 %', good.replace('99.5', '100'), 4, 'defaults.availability.targetPercent: Too big'],
    ['a threshold that is not a number', good.replace('800', 'fast'), 10, 'services.1.latency.thresholdMs: Invalid input: expected number, received string'],
    ['an entry without a service', good.replace('  - service: checkout\n', '  - availability: false\n'), 8, 'services.1.service'],
    ['a short window longer than the long one', good.replace('  minCalls: 50', '  rules:\n    - { name: fast, longWindowBuckets: 2, shortWindowBuckets: 6, burnRate: 14.4, severity: critical }'), 3, 'alerting.rules.0.shortWindowBuckets: the short window cannot be longer than the long window'],
    ['broken YAML', good.replace('{ targetPercent: 99.5 }', '{ targetPercent: 99.5'), 5, ''],
  ])('names the line of %s', (_what, text, line, reason) => {
    const result = parseObjectives('objectives.yaml', text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.line).toBe(line);
    expect(result.error.reason).toContain(reason);
  });

  it('loads the documented example, which is the defaults', async () => {
    const example = join(import.meta.dirname, '../../../../config/objectives.yaml');
    expect(await loadObjectives(example, { mustExist: true })).toEqual(defaultObjectives);
  });

  it('gives the defaults without a file at the default path, and refuses a missing file that was asked for', async () => {
    const missing = join(dir, 'objectives.yaml');
    expect(await loadObjectives(missing, { mustExist: false })).toBe(defaultObjectives);
    await expect(loadObjectives(missing, { mustExist: true })).rejects.toThrow(/ENOENT/);
  });

  it('refuses a bad file with a coded error naming the file and line', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'alerting:\n  bucketsPerHour: -1\n');
    const error = await loadObjectives(file, { mustExist: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectivesFileError);
    expect(error).toMatchObject({ code: 'OBJECTIVES_FILE_INVALID', message: `${file}:2: alerting.bucketsPerHour: Too small: expected number to be >0` });
  });
});
