// Loads YAML playbooks from a folder. A file with an error is refused with its file, line and reason;
// the others still load.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { playbook, type Playbook } from '@hephaestus/schemas';

export type PlaybookError = { file: string; line: number; reason: string };

export const parsePlaybook = (file: string, text: string): { ok: true; playbook: Playbook } | { ok: false; error: PlaybookError } => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  const yamlError = doc.errors[0];
  if (yamlError) return { ok: false, error: { file, line: lineOf(yamlError.pos[0]), reason: yamlError.message.split('\n')[0]! } };
  const parsed = playbook.safeParse(doc.toJS());
  if (parsed.success) return { ok: true, playbook: parsed.data };
  const issue = parsed.error.issues[0]!;
  // Point at the deepest node of the path that exists in the file.
  let line = 1;
  for (let depth = issue.path.length; depth >= 0; depth--) {
    const node = doc.getIn(issue.path.slice(0, depth) as (string | number)[], true);
    if (isNode(node) && node.range) {
      line = lineOf(node.range[0]);
      break;
    }
  }
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { ok: false, error: { file, line, reason: `${where}${issue.message}` } };
};

export const loadPlaybooks = async (directory: string): Promise<{ playbooks: Playbook[]; errors: PlaybookError[] }> => {
  const files = (await readdir(directory)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const playbooks: Playbook[] = [];
  const errors: PlaybookError[] = [];
  for (const name of files) {
    const file = join(directory, name);
    const result = parsePlaybook(file, await readFile(file, 'utf8'));
    if (result.ok) playbooks.push(result.playbook);
    else errors.push(result.error);
  }
  return { playbooks, errors };
};
