// A YAML configuration file parsed by its zod schema, or its first problem with the file and line it
// is on: what the routing, objectives and signals files share.
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';

export type YamlFileError = { file: string; line: number; reason: string };

/**
 * A union (an objective is an object or `false`) that fits neither way: the object's own complaint
 * (a field of the wrong type) says more than "invalid input".
 */
const withinUnion = (issue: z.core.$ZodIssue): z.core.$ZodIssue => {
  if (issue.code !== 'invalid_union') return issue;
  const deeper = issue.errors.find((branch) => (branch[0]?.path.length ?? 0) > 0)?.[0];
  return deeper ? withinUnion({ ...deeper, path: [...issue.path, ...deeper.path] }) : issue;
};

/** A YAML file parsed by `schema`, or its first problem with the line it is on. */
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
