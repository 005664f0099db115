import { describe, expect, it } from 'vitest';
import { allMatch, matcherMatches, parseMatcher } from './matchers.ts';

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
});
