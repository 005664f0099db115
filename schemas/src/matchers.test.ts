import { describe, expect, it } from 'vitest';
import { allMatch, matcherMatches, parseMatcher, regexProblem } from './matchers.ts';
import { routingFile } from './routing.ts';

describe('label matchers', () => {
  it('matches equality, inequality and anchored regexes', () => {
    const labels = { service: 'checkout', severity: 'critical' };
    expect(matcherMatches({ name: 'service', value: 'checkout', isRegex: false, isEqual: true }, labels)).toBe(true);
    expect(matcherMatches({ name: 'service', value: 'check', isRegex: true, isEqual: true }, labels)).toBe(false);
    expect(matcherMatches({ name: 'service', value: 'check.*', isRegex: true, isEqual: true }, labels)).toBe(true);
    expect(matcherMatches({ name: 'severity', value: 'critical', isRegex: false, isEqual: false }, labels)).toBe(false);
  });

  it('treats a missing label as empty', () => {
    expect(matcherMatches({ name: 'team', value: '', isRegex: false, isEqual: true }, {})).toBe(true);
    expect(allMatch([{ name: 'team', value: '.+', isRegex: true, isEqual: true }], {})).toBe(false);
  });

  it('parses the four operators', () => {
    expect(parseMatcher('service=checkout')).toEqual({ name: 'service', value: 'checkout', isRegex: false, isEqual: true });
    expect(parseMatcher('severity!="info"')).toEqual({ name: 'severity', value: 'info', isRegex: false, isEqual: false });
    expect(parseMatcher('service=~"pay.*"')).toEqual({ name: 'service', value: 'pay.*', isRegex: true, isEqual: true });
    expect(parseMatcher('env!~dev|test')).toEqual({ name: 'env', value: 'dev|test', isRegex: true, isEqual: false });
    expect(parseMatcher('not a matcher')).toBeUndefined();
  });

  // No stopwatch: the inputs are sized so that a quadratic parse (4·10¹⁰ steps) or a backtracking regex
  // (2⁵⁰ paths) would run for hours and fail on the test's timeout, while a linear one takes milliseconds.
  it('parses a long matcher line in linear time, trimming around it', { timeout: 30_000 }, () => {
    const value = `x${' '.repeat(200_000)}x`;
    expect(parseMatcher(`  team="${value}"  `)).toEqual({ name: 'team', value, isRegex: false, isEqual: true });
  });

  it('runs a catastrophic-backtracking regex in linear time (RE2), not for seconds', { timeout: 30_000 }, () => {
    // `(a+)+b` against 30 a's took 4 s per request on JavaScript's backtracking engine.
    const m = { name: 'service', value: '(a+)+b', isRegex: true, isEqual: true };
    expect(matcherMatches(m, { service: 'a'.repeat(50) })).toBe(false);
    expect(matcherMatches(m, { service: `${'a'.repeat(100_000)}c` })).toBe(false);
    expect(matcherMatches(m, { service: 'aaab' })).toBe(true);
  });

  it('anchors regexes to the whole value, as Alertmanager does', () => {
    const m = (value: string) => ({ name: 'env', value, isRegex: true, isEqual: true });
    expect(matcherMatches(m('prod|staging'), { env: 'prod' })).toBe(true);
    expect(matcherMatches(m('prod|staging'), { env: 'preprod' })).toBe(false);
    expect(matcherMatches(m('prod'), { env: 'prod\n' })).toBe(false);
  });

  it('refuses what RE2 refuses (backreferences, lookaround) with Go\'s message, and such a pattern matches nothing', () => {
    expect(regexProblem('(a)\\1')).toMatch(/^error parsing regexp: invalid escape sequence/);
    expect(regexProblem('(?=a)a')).toMatch(/^error parsing regexp: .*Perl syntax/);
    expect(regexProblem('(?<!a)b')).toMatch(/^error parsing regexp/);
    expect(regexProblem('check.*')).toBeUndefined();
    expect(matcherMatches({ name: 'x', value: '(?=a)a', isRegex: true, isEqual: true }, { x: 'a' })).toBe(false);
    expect(parseMatcher('service=~"(a)\\1"')).toBeUndefined();
  });

  it('refuses a routing file whose matcher regex RE2 refuses', () => {
    const parsed = routingFile.safeParse({ route: { receiver: 'pager', routes: [{ receiver: 'pager', matchers: ['service=~"(?=check)c.*"'] }] }, receivers: [{ name: 'pager', webhook: { url: 'http://127.0.0.1:9/x' } }] });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/^invalid regular expression in 'service=~"\(\?=check\)c\.\*"': /);
  });

  it('accepts in a routing file what RE2 and Alertmanager accept, though JavaScript would not', () => {
    for (const matcher of ['severity=~"(?i)critical"', 'service=~"(?P<name>check)out"', 'service=~"\\Qa.b\\E"']) {
      const parsed = routingFile.safeParse({ route: { receiver: 'pager', routes: [{ receiver: 'pager', matchers: [matcher] }] }, receivers: [{ name: 'pager', webhook: { url: 'http://127.0.0.1:9/x' } }] });
      expect(parsed.success, `${matcher}: ${parsed.error?.message}`).toBe(true);
    }
    expect(matcherMatches(parseMatcher('severity=~"(?i)critical"')!, { severity: 'CRITICAL' })).toBe(true);
  });
});
