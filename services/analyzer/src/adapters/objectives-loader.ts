// Loads the service level objectives (config/objectives.yaml). No file means the defaults for every
// service; a bad file stops the start with its file, line and reason, as the routing file does.
import { readFile } from 'node:fs/promises';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { defaultObjectives, objectivesFile, resolveObjectives, type ObjectivesConfig } from '@hephaestus/schemas';

export type YamlFileError = { file: string; line: number; reason: string };
export type ObjectivesError = YamlFileError;

export class ObjectivesFileError extends Error {
  readonly code = 'OBJECTIVES_FILE_INVALID';
  readonly detail: ObjectivesError;
  constructor(detail: ObjectivesError) {
    super(`${detail.file}:${detail.line}: ${detail.reason}`);
    this.detail = detail;
  }
}

/**
 * A union (an objective is an object or `false`) that fits neither way: the object's own complaint
 * (a field of the wrong type) says more than "invalid input".
 */
const withinUnion = (issue: z.core.$ZodIssue): z.core.$ZodIssue => {
  if (issue.code !== 'invalid_union') return issue;
  const deeper = issue.errors.find((branch) => (branch[0]?.path.length ?? 0) > 0)?.[0];
  return deeper ? withinUnion({ ...deeper, path: [...issue.path, ...deeper.path] }) : issue;
};

/**
 * A YAML file parsed by `schema`, or its first problem with the line it is on: the routing file's
 * approach (alert-dispatcher.ts parseRouting, healer playbook-loader.ts), written once for any schema.
 */
export const parseYamlFile = <S extends z.ZodType>(file: string, text: string, schema: S): { ok: true; value: z.output<S> } | { ok: false; error: YamlFileError } => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  const yamlError = doc.errors[0];
  if (yamlError) return { ok: false, error: { file, line: lineOf(yamlError.pos[0]), reason: yamlError.message.split('\n')[0]! } };
  const parsed = schema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = withinUnion(parsed.error.issues[0]!);
  // The key (or list item) of the deepest part of the path that is in the file: an unknown key
  // itself, the key holding an object a required key is missing from.
  const path = (issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path) as (string | number)[];
  let line = 1;
  for (let depth = path.length; depth > 0; depth--) {
    const parent = doc.getIn(path.slice(0, depth - 1), true);
    const step = path[depth - 1];
    const node = isMap(parent) ? parent.items.find((pair) => isScalar(pair.key) && pair.key.value === step)?.key : isSeq(parent) ? parent.items[Number(step)] : undefined;
    if (isNode(node) && node.range) {
      line = lineOf(node.range[0]);
      break;
    }
  }
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { ok: false, error: { file, line, reason: `${where}${issue.message}` } };
};

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
