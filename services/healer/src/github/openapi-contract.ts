// GitHub's published REST and webhook descriptions (@octokit/openapi, @octokit/openapi-webhooks) as a
// contract: find an operation by method and path template, validate requests, responses and webhook
// payloads against it, and fill a stand-in's answers with what the schema requires.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

type Json = Record<string, unknown>;
type Schema = Json & { $ref?: string };

export type OperationMatch = { operationId: string; method: string; template: string; params: Record<string, string> };

const require = createRequire(import.meta.url);
const loadJson = (specifier: string): Json => JSON.parse(readFileSync(require.resolve(specifier), 'utf8')) as Json;

// ajv-formats is CommonJS: its default export arrives wrapped under Node's ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/** JSON pointer token escaping (RFC 6901), then URI fragment escaping for `$ref`. */
const pointerToken = (token: string) => encodeURIComponent(token.replace(/~/g, '~0').replace(/\//g, '~1'));

const newAjv = () => {
  // strict off: the descriptions carry OpenAPI keywords (`example`, `discriminator`, `x-github`) that
  // are annotations, not JSON Schema; `nullable` (OpenAPI 3.0) is understood by Ajv itself.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
  addFormats(ajv);
  // GitHub's own format names: numbers and strings whose shape the type already says.
  for (const format of ['int32', 'int64', 'double', 'repo.nwo', 'binary', 'timestamp']) ajv.addFormat(format, true);
  return ajv;
};

const describeErrors = (validate: ValidateFunction, where: string): string[] =>
  (validate.errors ?? []).slice(0, 20).map((e) => `${where}${e.instancePath || ''} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);

const templateRegex = (template: string, multiSegment: Set<string>) =>
  new RegExp(
    `^${template
      .split(/(\{[^}]+\})/)
      .map((part) => {
        const name = part.match(/^\{([^}]+)\}$/)?.[1];
        if (!name) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        return multiSegment.has(name) ? `(?<${name.replace(/\W/g, '_')}>.+)` : `(?<${name.replace(/\W/g, '_')}>[^/]+)`;
      })
      .join('')}$`,
  );

/**
 * Properties a value carries that its schema does not name (where the schema lists its properties and
 * says nothing of others): JSON Schema allows them, but in a stand-in's answer they mean a misspelt or
 * invented field, the drift the contract is there to catch.
 */
export const unknownProperties = (schema: Schema, value: unknown, resolve: (s: Schema) => Schema, path = ''): string[] => {
  if (value === null || typeof value !== 'object') return [];
  const s = resolve(schema);
  const parts = [s, ...((s.allOf ?? []) as Schema[]), ...((s.anyOf ?? []) as Schema[]), ...((s.oneOf ?? []) as Schema[])].map(resolve);
  if (Array.isArray(value)) {
    const items = parts.map((p) => p.items as Schema | undefined).find(Boolean);
    return items ? value.flatMap((v, i) => unknownProperties(items, v, resolve, `${path}/${i}`)) : [];
  }
  const properties = new Map<string, Schema>();
  let open = false;
  for (const p of parts) {
    if (p.additionalProperties !== undefined && p.additionalProperties !== false) open = true;
    for (const [k, v] of Object.entries((p.properties ?? {}) as Record<string, Schema>)) if (!properties.has(k)) properties.set(k, v);
  }
  const nested = [s.allOf, s.anyOf, s.oneOf].some((x) => Array.isArray(x) && (x as Schema[]).some((b) => !resolve(b).properties && resolve(b).type === 'object'));
  if (properties.size === 0 || nested) open = true;
  const errors: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const child = properties.get(key);
    if (child) errors.push(...unknownProperties(child, v, resolve, `${path}/${key}`));
    else if (!open) errors.push(`${path || '/'} has property ${key}, which GitHub's description does not name`);
  }
  return errors;
};

export type RestContract = ReturnType<typeof createRestContract>;

const createRestContract = () => {
  const doc = loadJson('@octokit/openapi/generated/api.github.com.json');
  const ajv = newAjv();
  ajv.addSchema(doc, 'rest');
  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string) => {
    let validate = compiled.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `rest#${pointer}` });
      compiled.set(pointer, validate);
    }
    return validate;
  };
  const at = (pointer: string): unknown =>
    pointer
      .split('/')
      .slice(1)
      .reduce<unknown>((node, token) => (node as Json | undefined)?.[decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  /** Follows a local `$ref` to the object and the pointer where it lives. */
  const deref = (pointer: string): { node: Json; pointer: string } => {
    const node = at(pointer) as Json;
    const ref = node?.$ref;
    if (typeof ref === 'string' && ref.startsWith('#/')) return deref(ref.slice(1).split('/').map((t) => encodeURIComponent(t)).join('/'));
    return { node, pointer };
  };

  const paths = doc.paths as Record<string, Record<string, Json>>;
  type Route = { method: string; template: string; regex: RegExp; literals: number; operationId: string };
  const routes: Route[] = [];
  for (const [template, item] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!operation || typeof operation !== 'object' || !('operationId' in operation)) continue;
      const pointer = `/paths/${pointerToken(template)}/${method}`;
      const multi = new Set<string>();
      for (const i of ((operation.parameters as unknown[]) ?? []).keys()) {
        const p = deref(`${pointer}/parameters/${i}`).node;
        if (p['x-multi-segment'] === true || (p.in === 'path' && p.name === 'path')) multi.add(String(p.name));
      }
      routes.push({
        method: method.toUpperCase(),
        template,
        regex: templateRegex(template, multi),
        literals: template.split('/').filter((s) => !s.startsWith('{')).length,
        operationId: String(operation.operationId),
      });
    }
  }
  // The most literal template wins: /git/ref/{ref} before /git/{anything}.
  routes.sort((a, b) => b.literals - a.literals);

  const resolveRest = (schema: Schema): Schema => (schema.$ref ? (deref(schema.$ref.slice(1).split('/').map((t) => encodeURIComponent(t)).join('/')).node as Schema) : schema);
  const operationPointer = (m: OperationMatch) => `/paths/${pointerToken(m.template)}/${m.method.toLowerCase()}`;

  const parameters = (m: OperationMatch) => {
    const pointer = operationPointer(m);
    const list = (at(`${pointer}/parameters`) as unknown[] | undefined) ?? [];
    return list.map((_, i) => deref(`${pointer}/parameters/${i}`));
  };

  const coerce = (value: string, schema: Json): unknown => {
    if (schema.type === 'integer' || schema.type === 'number') return Number(value);
    if (schema.type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
    return value;
  };

  return {
    /** The operation GitHub serves for this method and path, found among every path template of the description. */
    match(method: string, pathname: string): OperationMatch | undefined {
      for (const route of routes) {
        if (route.method !== method.toUpperCase()) continue;
        const found = route.regex.exec(pathname);
        if (!found) continue;
        const params: Record<string, string> = {};
        for (const [key, value] of Object.entries(found.groups ?? {})) params[key] = decodeURIComponent(value);
        return { operationId: route.operationId, method: route.method, template: route.template, params };
      }
      return undefined;
    },

    validateRequest(m: OperationMatch, request: { query: URLSearchParams; body: unknown }): string[] {
      const errors: string[] = [];
      const declared = new Set<string>();
      for (const { node: p, pointer } of parameters(m)) {
        const name = String(p.name);
        if (p.in === 'query') declared.add(name);
        const raw = p.in === 'path' ? m.params[name.replace(/\W/g, '_')] : p.in === 'query' ? request.query.get(name) ?? undefined : undefined;
        if (p.in !== 'path' && p.in !== 'query') continue;
        if (raw === undefined) {
          if (p.required === true) errors.push(`request ${p.in} parameter ${name} is required`);
          continue;
        }
        const validate = validatorAt(`${pointer}/schema`);
        if (!validate(coerce(raw, (deref(`${pointer}/schema`).node ?? {}) as Json))) errors.push(...describeErrors(validate, `request ${p.in} parameter ${name}`));
      }
      for (const key of request.query.keys()) if (!declared.has(key)) errors.push(`request query parameter ${key} is not part of ${m.operationId}`);
      const bodyPointer = `${operationPointer(m)}/requestBody`;
      const requestBody = at(bodyPointer) as Json | undefined;
      if (!requestBody) {
        if (request.body !== undefined) errors.push(`${m.operationId} takes no request body`);
        return errors;
      }
      if (request.body === undefined) {
        if (requestBody.required === true) errors.push(`${m.operationId} requires a request body`);
        return errors;
      }
      const validate = validatorAt(`${bodyPointer}/content/${pointerToken('application/json')}/schema`);
      if (!validate(request.body)) errors.push(...describeErrors(validate, 'request body'));
      return errors;
    },

    validateResponse(m: OperationMatch, status: number, body: unknown): string[] {
      const responses = `${operationPointer(m)}/responses`;
      const documented = at(`${responses}/${status}`) ?? at(`${responses}/default`);
      if (!documented) return [`${m.operationId} does not document status ${status}`];
      const { node, pointer } = deref(at(`${responses}/${status}`) ? `${responses}/${status}` : `${responses}/default`);
      const content = node.content as Json | undefined;
      if (!content || !content['application/json']) return body === undefined ? [] : [`${m.operationId} ${status} documents no JSON body`];
      const schemaPointer = `${pointer}/content/${pointerToken('application/json')}/schema`;
      const validate = validatorAt(schemaPointer);
      const errors = validate(body) ? [] : describeErrors(validate, `response ${status} body`);
      return [...errors, ...unknownProperties(at(schemaPointer) as Schema, body, resolveRest).map((e) => `response ${status} body${e}`)];
    },

    /** The JSON schema of a response, with its local `$ref`s still in place (resolve with `resolve`). */
    responseSchema(operationId: string, status: number): Schema {
      const route = routes.find((r) => r.operationId === operationId);
      if (!route) throw new Error(`no operation ${operationId} in GitHub's description`);
      const { pointer } = deref(`/paths/${pointerToken(route.template)}/${route.method.toLowerCase()}/responses/${status}`);
      return at(`${pointer}/content/${pointerToken('application/json')}/schema`) as Schema;
    },
    resolve: resolveRest,
  };
};

export type WebhookContract = ReturnType<typeof createWebhookContract>;

const createWebhookContract = () => {
  const doc = loadJson('@octokit/openapi-webhooks/generated/api.github.com.json');
  const ajv = newAjv();
  ajv.addSchema(doc, 'webhooks');
  const compiled = new Map<string, ValidateFunction>();
  const at = (path: string[]): unknown => path.reduce<unknown>((node, token) => (node as Json | undefined)?.[token], doc);
  const bodySchema = (name: string): Schema => at(['webhooks', name, 'post', 'requestBody', 'content', 'application/json', 'schema']) as Schema;
  const resolve = (schema: Schema): Schema => {
    let s = schema;
    while (s.$ref) s = at(s.$ref.slice(2).split('/')) as Schema;
    return s;
  };
  const bodySchemaPointer = (name: string) => `/webhooks/${pointerToken(name)}/post/requestBody/content/${pointerToken('application/json')}/schema`;
  return {
    /** `name` as the description names its webhooks: `check-suite-completed`, `status`, `pull-request-closed`. */
    validate(name: string, payload: unknown): string[] {
      if (!at(['webhooks', name])) return [`GitHub describes no webhook ${name}`];
      let validate = compiled.get(name);
      if (!validate) {
        validate = ajv.compile({ $ref: `webhooks#${bodySchemaPointer(name)}` });
        compiled.set(name, validate);
      }
      const errors = validate(payload) ? [] : describeErrors(validate, `webhook ${name}`);
      return [...errors, ...unknownProperties(bodySchema(name), payload, resolve).map((e) => `webhook ${name}${e}`)];
    },
    bodySchema,
    resolve,
  };
};

// Loading and indexing the descriptions takes a second: once per process.
let rest: RestContract | undefined;
let webhooks: WebhookContract | undefined;
export const restContract = (): RestContract => (rest ??= createRestContract());
export const webhookContract = (): WebhookContract => (webhooks ??= createWebhookContract());

/**
 * `partial` completed with a value for every required property it lacks, so that it satisfies
 * `schema`: null where null is allowed, else the first enum value, a placeholder of the format, zero,
 * false, an empty list. The values the stand-in sets itself are left as they are, and validated.
 */
export const completeFromSchema = (schema: Schema, partial: unknown, resolve: (s: Schema) => Schema, placeholderUrl: string): unknown => {
  const s = resolve(schema);
  if (s.allOf) {
    return (s.allOf as Schema[]).reduce<unknown>((acc, part) => completeFromSchema(part, acc, resolve, placeholderUrl), partial);
  }
  const choices = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (choices) {
    const objectChoice = choices.map(resolve).find((c) => c.type === 'object' || c.properties);
    if (partial !== undefined && partial !== null && typeof partial === 'object' && objectChoice) return completeFromSchema(objectChoice, partial, resolve, placeholderUrl);
    if (partial !== undefined) return partial;
    const nullChoice = choices.map(resolve).find((c) => c.type === 'null');
    return nullChoice ? null : completeFromSchema(choices[0]!, undefined, resolve, placeholderUrl);
  }
  const types = Array.isArray(s.type) ? (s.type as string[]) : s.type ? [s.type as string] : s.properties ? ['object'] : [];
  if (partial === undefined) {
    if (s.nullable === true || types.includes('null')) return null;
    if (Array.isArray(s.enum)) return s.enum[0];
    if (s.const !== undefined) return s.const;
  }
  const type = types.find((t) => t !== 'null');
  if (type === 'object' || (partial !== null && typeof partial === 'object' && !Array.isArray(partial))) {
    const out: Json = { ...((partial as Json | undefined) ?? {}) };
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required as string[] | undefined) ?? []) {
      out[key] = completeFromSchema(properties[key] ?? {}, out[key], resolve, placeholderUrl);
    }
    for (const [key, value] of Object.entries(out)) {
      if (properties[key] && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        out[key] = completeFromSchema(properties[key], value, resolve, placeholderUrl);
      }
      if (properties[key] && Array.isArray(value)) {
        const items = resolve(properties[key]).items as Schema | undefined;
        out[key] = items ? value.map((v) => (v !== null && typeof v === 'object' ? completeFromSchema(items, v, resolve, placeholderUrl) : v)) : value;
      }
    }
    return out;
  }
  if (partial !== undefined) return partial;
  switch (type) {
    case 'string':
      if (s.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (s.format === 'date') return '2026-01-01';
      if (s.format === 'uri' || s.format === 'uri-template') return placeholderUrl;
      if (s.format === 'email') return 'heph@stand-in.invalid';
      return typeof s.minLength === 'number' ? '0'.repeat(s.minLength) : '';
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    default:
      return null;
  }
};
