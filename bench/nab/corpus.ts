// Loads the NAB subset in ../shared/nab (or $NAB_DIR): every series with its labelled windows.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Window } from '../../services/analyzer/src/domain/detectors/nab-scoring.ts';
import { parseTimestampMs } from '../../cli/src/detect.ts';

export type NabSeries = { name: string; family: string; timestampsMs: number[]; values: number[]; windows: Window[] };

export const defaultNabDir = (): string => resolve(import.meta.dirname, '../../../shared/nab');

const timestampOf = (text: string): number => {
  const ms = parseTimestampMs(text);
  if (ms === undefined) throw new Error(`bad timestamp '${text}'`);
  return ms;
};

export const loadCorpus = (dir = defaultNabDir()): NabSeries[] => {
  const windows = JSON.parse(readFileSync(join(dir, 'combined_windows.json'), 'utf8')) as Record<string, [string, string][]>;
  return Object.keys(windows)
    .sort()
    .map((name) => {
      const lines = readFileSync(join(dir, 'data', name), 'utf8').split('\n').slice(1).filter((l) => l.trim() !== '');
      const timestampsMs = new Array<number>(lines.length);
      const values = new Array<number>(lines.length);
      lines.forEach((line, i) => {
        const comma = line.indexOf(',');
        timestampsMs[i] = timestampOf(line.slice(0, comma));
        values[i] = Number(line.slice(comma + 1));
      });
      return {
        name,
        family: name.split('/')[0]!,
        timestampsMs,
        values,
        windows: windows[name]!.map(([start, end]) => ({ startMs: timestampOf(start), endMs: timestampOf(end) })),
      };
    });
};

export const listFamilies = (corpus: NabSeries[]): string[] => [...new Set(corpus.map((s) => s.family))];
