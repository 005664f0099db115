// Label matchers as Alertmanager defines them (API v2: name, value, isRegex, isEqual), shared by
// silences, routes and inhibition rules. Regexes are anchored, as in Alertmanager.
import { z } from 'zod';

export const matcher = z.object({
  name: z.string().min(1),
  value: z.string(),
  isRegex: z.boolean().default(false),
  /** false: the label must NOT match (`!=`, `!~`). */
  isEqual: z.boolean().default(true),
});
export type Matcher = z.infer<typeof matcher>;

export type Labels = Record<string, string>;

const compiled = new Map<string, RegExp>();
const anchored = (pattern: string): RegExp => {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`);
    compiled.set(pattern, re);
  }
  return re;
};

/** A missing label matches as the empty string (Alertmanager's rule). */
export const matcherMatches = (m: Matcher, labels: Labels): boolean => {
  const value = labels[m.name] ?? '';
  const hit = m.isRegex ? anchored(m.value).test(value) : value === m.value;
  return m.isEqual ? hit : !hit;
};

export const allMatch = (matchers: Matcher[], labels: Labels): boolean => matchers.every((m) => matcherMatches(m, labels));

/** Parses `name=value`, `name!=value`, `name=~regex`, `name!~regex` (amtool's and Alertmanager's config syntax). */
export const parseMatcher = (text: string): Matcher | undefined => {
  const match = /^\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/.exec(text);
  if (!match) return undefined;
  const [, name, op, value] = match;
  return { name: name!, value: value!, isRegex: op === '=~' || op === '!~', isEqual: op === '=' || op === '=~' };
};

const globs = new Map<string, RegExp>();

/** A glob over a name (service, signal): `*` matches any run of characters, everything else itself. */
export const globMatches = (glob: string, value: string): boolean => {
  let re = globs.get(glob);
  if (!re) {
    re = new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    globs.set(glob, re);
  }
  return re.test(value);
};
