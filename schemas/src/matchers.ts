// Label matchers as Alertmanager defines them (API v2: name, value, isRegex, isEqual), shared by
// silences, routes and inhibition rules. Regexes are anchored and run on RE2 (re2js), as Alertmanager's
// Go regexes do: linear time in the label's length, so no pattern can stall the event loop.
import { RE2JS } from 're2js';
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

/** Compiled patterns by source; bounded, since patterns come from API clients. */
const compiled = new Map<string, RE2JS | Error>();
const maxCompiled = 10_000;

/** The pattern anchored as Alertmanager anchors it (`^(?:pattern)$`), compiled by RE2, or RE2's refusal. */
const anchored = (pattern: string): RE2JS | Error => {
  let re = compiled.get(pattern);
  if (!re) {
    try {
      re = RE2JS.compile(`^(?:${pattern})$`);
    } catch (error) {
      re = error instanceof Error ? error : new Error(String(error));
    }
    if (compiled.size >= maxCompiled) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
};

/**
 * Why RE2 refuses a pattern (backreferences, lookaround, a bad repeat…), in Go's words
 * (`error parsing regexp: …`), or undefined when it compiles.
 */
export const regexProblem = (pattern: string): string | undefined => {
  const re = anchored(pattern);
  return re instanceof Error ? re.message : undefined;
};

/** Whether the whole value matches the pattern; a pattern RE2 refuses matches nothing. */
export const regexMatches = (pattern: string, value: string): boolean => {
  const re = anchored(pattern);
  return !(re instanceof Error) && re.matches(value);
};

/** A missing label matches as the empty string (Alertmanager's rule). */
export const matcherMatches = (m: Matcher, labels: Labels): boolean => {
  const value = labels[m.name] ?? '';
  const hit = m.isRegex ? regexMatches(m.value, value) : value === m.value;
  return m.isEqual ? hit : !hit;
};

export const allMatch = (matchers: Matcher[], labels: Labels): boolean => matchers.every((m) => matcherMatches(m, labels));

/**
 * Parses `name=value`, `name!=value`, `name=~regex`, `name!~regex` (amtool's and Alertmanager's config
 * syntax). A regex RE2 refuses is no matcher: a routing file with one is refused at load.
 */
export const parseMatcher = (text: string): Matcher | undefined => {
  // On the trimmed text: a lazy value followed by `\s*$` would backtrack quadratically on a long line.
  const match = /^([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?$/.exec(text.trim());
  if (!match) return undefined;
  const [, name, op, value] = match;
  const isRegex = op === '=~' || op === '!~';
  if (isRegex && regexProblem(value!) !== undefined) return undefined;
  return { name: name!, value: value!, isRegex, isEqual: op === '=' || op === '=~' };
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
