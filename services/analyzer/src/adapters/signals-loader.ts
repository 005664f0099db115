// load: per-signal overrides of the incident policy's meaning table (HEPH_SIGNALS_FILE, YAML), refused
// with file:line: reason like every other configuration file.
import { readFile } from 'node:fs/promises';
import { signalMeanings, type SignalMeaning } from '@hephaestus/schemas';
import { z } from 'zod';
import { parseYamlFile } from './yaml-file.ts';

const signalsFile = z.strictObject({ signals: signalMeanings.default([]) });

export class SignalsFileError extends Error {
  readonly code = 'SIGNALS_FILE_INVALID';
}

export const parseSignals = (file: string, text: string): { ok: true; meanings: SignalMeaning[] } | { ok: false; message: string } => {
  const result = parseYamlFile(file, text, signalsFile);
  return result.ok ? { ok: true, meanings: result.value.signals } : { ok: false, message: `${result.error.file}:${result.error.line}: ${result.error.reason}` };
};

/** The overrides in `file`; none without a file. */
export const loadSignalMeanings = async (file: string | undefined): Promise<SignalMeaning[]> => {
  if (!file) return [];
  const result = parseSignals(file, await readFile(file, 'utf8'));
  if (!result.ok) throw new SignalsFileError(result.message);
  return result.meanings;
};
