// Loads the LLM price table and budgets; a missing file means no prices and no budgets, a bad one stops
// the start with the file and the reason.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { costsFile, type CostsConfig } from '@hephaestus/schemas';

export const loadCosts = async (file: string): Promise<CostsConfig> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { prices: [], budgets: [] };
    throw error;
  }
  const parsed = costsFile.safeParse(parse(text) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
};
