// Loads the service level objectives (config/objectives.yaml). No file means the defaults for every
// service; a bad file stops the start with its file, line and reason, as the routing file does.
import { readFile } from 'node:fs/promises';
import { defaultObjectives, objectivesFile, resolveObjectives, type ObjectivesConfig } from '@hephaestus/schemas';
import { parseYamlFile, type YamlFileError } from './yaml-file.ts';

export type ObjectivesError = YamlFileError;

export class ObjectivesFileError extends Error {
  readonly code = 'OBJECTIVES_FILE_INVALID';
  readonly detail: ObjectivesError;
  constructor(detail: ObjectivesError) {
    super(`${detail.file}:${detail.line}: ${detail.reason}`);
    this.detail = detail;
  }
}


export const parseObjectives = (file: string, text: string): { ok: true; objectives: ObjectivesConfig } | { ok: false; error: ObjectivesError } => {
  const result = parseYamlFile(file, text, objectivesFile);
  return result.ok ? { ok: true, objectives: resolveObjectives(result.value) } : result;
};

/**
 * The objectives in `file`. A missing file gives the defaults when `mustExist` is false (the default
 * path, `./config/objectives.yaml`), and is refused when the path was asked for (HEPH_OBJECTIVES_FILE).
 */
export const loadObjectives = async (file: string, options: { mustExist: boolean }): Promise<ObjectivesConfig> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT' && !options.mustExist) return defaultObjectives;
    throw error;
  }
  const result = parseObjectives(file, text);
  if (!result.ok) throw new ObjectivesFileError(result.error);
  return result.objectives;
};
