// JSON request bodies for the console: parsed with Fastify's own parser (prototype-poisoning checks),
// an empty body read as no body, and refused with 400 when nested deeper than any API body needs or
// when a string holds a NUL (PostgreSQL refuses U+0000 in text and jsonb).
import type { FastifyInstance } from 'fastify';

/** Our deepest body (a silence: object, matchers, matcher) is 3 levels; Alertmanager clients send no deeper. */
export const maxJsonDepth = 32;

class BodyError extends Error {
  readonly statusCode = 400;
  readonly code: 'JSON_TOO_DEEP' | 'JSON_NUL';
  constructor(code: BodyError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** Why a parsed body is refused, walking it without recursion, or undefined. */
const bodyProblem = (value: unknown): BodyError | undefined => {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return new BodyError('JSON_NUL', 'strings in the body must not contain NUL (\\u0000)');
    } else if (v !== null && typeof v === 'object') {
      if (depth > maxJsonDepth) return new BodyError('JSON_TOO_DEEP', `the body is nested deeper than ${maxJsonDepth} levels`);
      for (const [key, child] of Object.entries(v)) {
        if (key.includes('\0')) return new BodyError('JSON_NUL', 'keys in the body must not contain NUL (\\u0000)');
        stack.push([child, depth + 1]);
      }
    }
  }
  return undefined;
};

export const registerJsonBodies = (app: FastifyInstance): void => {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    parse(request, text, (error: Error | null, value?: unknown) => {
      if (error) return done(error, undefined);
      const problem = bodyProblem(value);
      return problem ? done(problem, undefined) : done(null, value);
    });
  });
};
