// Action executors: HTTP calls to an agent's control URL or a configured endpoint, only to allow-listed
// origins (checked after templating), each with an idempotency key so a retried or resumed step acts
// once; GitHub actions go to an injected executor. Parameters are templated as plain strings and never
// reach a shell. The control URL comes from telemetry (`heph.control.url`), so it is parsed, refused
// when it carries anything but an origin and a plain path, and extended with the URL API.
import type { PlaybookStep } from '@hephaestus/schemas';
import pRetry, { AbortError } from 'p-retry';

export type ActionResult = { ok: true; detail: string } | { ok: false; error: string };

export type GitHubContext = { idempotencyKey: string; remediationId: string; incidentId: string; service: string; serviceVersion?: string };
/** Opens and closes fix pull requests; the GitHub part of the healer provides it when configured. */
export type GitHubExecutor = {
  run(step: PlaybookStep, context: GitHubContext): Promise<ActionResult>;
  undo(context: Omit<GitHubContext, 'serviceVersion'>): Promise<ActionResult>;
};

/** The incident fields a step's parameters may name: `{{incident.id}}`, `{{remediation.id}}`… */
export type TemplateValues = {
  'incident.id': string;
  'incident.service': string;
  'incident.signal': string;
  'incident.severity': string;
  'remediation.id': string;
};

export type ActionContext = {
  controlUrl?: string;
  /** Sent to the agent's control endpoint only (agent.* steps), never to a playbook's own URLs. */
  controlToken?: string;
  /** Hosts whose every port may be called (HEPH_HEALER_ALLOWED_HOSTS); used only when no origins are set. */
  allowedHosts: string[];
  /** Origins (scheme, host, port) that may be called (HEPH_HEALER_ALLOWED_ORIGINS); when set, they alone decide. */
  allowedOrigins?: string[];
  idempotencyKey: string;
  values?: TemplateValues;
  github?: GitHubExecutor;
  githubContext?: Omit<GitHubContext, 'idempotencyKey'>;
};

export const githubMissing = 'GitHub is not configured (HEPH_GITHUB_TOKEN or HEPH_GITHUB_APP_ID)';

/** `{{name}}` replaced by its value, URL-encoded when the text is a URL; an unknown name is an error. */
export const fillTemplate = (text: string, values: TemplateValues | undefined, encode: boolean): { ok: true; text: string } | { ok: false; error: string } => {
  let unknown: string | undefined;
  const filled = text.replace(/\{\{\s*([a-z.]+)\s*\}\}/g, (whole, name: string) => {
    const value = values?.[name as keyof TemplateValues];
    if (value === undefined) {
      unknown ??= name;
      return whole;
    }
    return encode ? encodeURIComponent(value) : value;
  });
  return unknown ? { ok: false, error: `unknown template field {{${unknown}}}` } : { ok: true, text: filled };
};

/** The agent's config change from a step's string parameters, typed as its control endpoint expects. */
const agentConfig = (params: Record<string, string>) => ({
  ...(params.model ? { model: params.model } : {}),
  ...(params.cache ? { cache: params.cache === 'true' } : {}),
  ...(params.circuitBreaker ? { circuitBreaker: params.circuitBreaker } : {}),
  ...(params.concurrency ? { concurrency: Number(params.concurrency) } : {}),
});

type HttpTarget = { url: URL; method: string; body?: string; contentType?: string; agent: boolean };

/** An http(s) URL, or why not. */
const parseHttpUrl = (text: string): URL | { error: string } => {
  if (!URL.canParse(text)) return { error: `not a URL: ${text}` };
  const url = new URL(text);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : { error: `not an http(s) URL: ${text}` };
};

/** A path of plain segments (`/`, `/control`, `/agents/planner-1/`): nothing for an action path to be swallowed by or escape from. */
const plainPath = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/;

/**
 * The agent's control endpoint from its `heph.control.url`: an origin and a plain path, nothing else. A
 * query, fragment, userinfo, dot segment or percent-escape is refused, so no `?x=` or `#` can swallow the
 * action path and no `user@` can hide the real host.
 */
export const controlBase = (text: string): URL | { error: string } => {
  const url = parseHttpUrl(text);
  if ('error' in url) return { error: `heph.control.url: ${url.error}` };
  if (url.username || url.password || text.includes('@')) return { error: `heph.control.url must not carry userinfo: ${url.origin}` };
  if (text.includes('?') || text.includes('#')) return { error: `heph.control.url must not carry a query or fragment: ${url.origin}${url.pathname}` };
  const rawPath = text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') || '/';
  if (!plainPath.test(rawPath)) return { error: `heph.control.url must end in a plain path: ${url.origin}${url.pathname}` };
  return url;
};

/** The control endpoint with the action's path appended as a segment (the URL API, not concatenation). */
const actionUrl = (base: URL, action: string): URL => {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${action}`;
  return url;
};

/** Whether the allow-list lets the healer call this URL: its origin is listed, or (no origins set) its host. */
const allowed = (url: URL, context: ActionContext): boolean => {
  if (context.allowedOrigins && context.allowedOrigins.length > 0) {
    return context.allowedOrigins.some((o) => URL.canParse(o) && new URL(o).origin === url.origin);
  }
  return context.allowedHosts.includes(url.hostname.replace(/^\[|\]$/g, ''));
};

/** The HTTP call a step stands for, templated and checked against the allow-list, or why there is none. */
export const planHttpCall = (step: PlaybookStep, context: ActionContext): HttpTarget | { error: string } => {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(step.params)) {
    const filled = fillTemplate(value, context.values, key === 'url');
    if (!filled.ok) return { error: `${step.name}: params.${key}: ${filled.error}` };
    params[key] = filled.text;
  }
  let target: HttpTarget;
  if (step.action === 'agent.restart' || step.action === 'agent.set_config' || step.action === 'agent.rollback') {
    if (!context.controlUrl) return { error: 'the agent exports no heph.control.url' };
    const base = controlBase(context.controlUrl);
    if ('error' in base) return base;
    if (step.action === 'agent.restart') target = { url: actionUrl(base, 'restart'), method: 'POST', agent: true };
    else if (step.action === 'agent.set_config') target = { url: actionUrl(base, 'config'), method: 'POST', body: JSON.stringify(agentConfig(params)), contentType: 'application/json', agent: true };
    else target = { url: actionUrl(base, 'rollback'), method: 'POST', body: JSON.stringify(params.version ? { version: params.version } : {}), contentType: 'application/json', agent: true };
  } else if (step.action === 'http') {
    if (!params.url) return { error: 'http action needs params.url' };
    const url = parseHttpUrl(params.url);
    if ('error' in url) return url;
    const body = params.body;
    target = { url, method: (params.method ?? 'POST').toUpperCase(), body, contentType: body === undefined ? undefined : body.trimStart().startsWith('{') ? 'application/json' : 'text/plain', agent: false };
  } else {
    return { error: `${step.action} is not an HTTP action` };
  }
  if (!allowed(target.url, context)) {
    const variable = context.allowedOrigins && context.allowedOrigins.length > 0 ? 'HEPH_HEALER_ALLOWED_ORIGINS' : 'HEPH_HEALER_ALLOWED_HOSTS';
    return { error: `origin ${target.url.origin} is not on the healer's allow-list (${variable})` };
  }
  // The agent control token goes to listed origins only: a host allowed on any port would hand it to
  // whatever listens on the port a control URL names.
  if (target.agent && context.controlToken && !(context.allowedOrigins && context.allowedOrigins.length > 0)) {
    return { error: `HEPH_AGENT_CONTROL_TOKEN is set but HEPH_HEALER_ALLOWED_ORIGINS is not: list the agents' origins (the token is sent to those only), not just their hosts` };
  }
  return target;
};

const isGitHub = (step: PlaybookStep) => step.action === 'github.fix_pr' || step.action === 'github.revert';

/** What the step would do, for a dry run: nothing is called. */
export const describeAction = (step: PlaybookStep, context: ActionContext): ActionResult => {
  if (isGitHub(step)) return { ok: true, detail: `dry run: would ${step.action === 'github.fix_pr' ? 'open a fix pull request' : 'open a revert pull request'} for ${context.githubContext?.service ?? 'the service'}` };
  const target = planHttpCall(step, context);
  if ('error' in target) return { ok: false, error: target.error };
  return { ok: true, detail: `dry run: would ${target.method} ${target.url.origin}${target.url.pathname}${target.body && target.body !== '{}' ? ` with ${target.body}` : ''}` };
};

export const runAction = async (step: PlaybookStep, context: ActionContext): Promise<ActionResult> => {
  if (isGitHub(step)) {
    if (!context.github || !context.githubContext) return { ok: false, error: githubMissing };
    // A file path or title may name the incident's service, e.g. `config/{{incident.service}}.yaml`.
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(step.params)) {
      const filled = fillTemplate(value, context.values, false);
      if (!filled.ok) return { ok: false, error: `${step.name}: params.${key}: ${filled.error}` };
      params[key] = filled.text;
    }
    return context.github.run({ ...step, params }, { ...context.githubContext, idempotencyKey: context.idempotencyKey });
  }
  const target = planHttpCall(step, context);
  if ('error' in target) return { ok: false, error: target.error };
  const { url } = target;
  try {
    const status = await pRetry(
      async () => {
        const response = await fetch(url, {
          method: target.method,
          headers: {
            'idempotency-key': context.idempotencyKey,
            ...(target.contentType ? { 'content-type': target.contentType } : {}),
            ...(target.agent && context.controlToken ? { authorization: `Bearer ${context.controlToken}` } : {}),
          },
          body: target.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(step.timeoutSeconds * 1000),
        });
        await response.body?.cancel();
        if (response.status >= 500) throw new Error(`${url.origin}${url.pathname} answered ${response.status}`);
        if (response.status >= 300) throw new AbortError(`${url.origin}${url.pathname} answered ${response.status}`);
        return response.status;
      },
      { retries: step.retries, minTimeout: 200, maxTimeout: 2000 },
    );
    return { ok: true, detail: `${target.method} ${url.origin}${url.pathname} answered ${status}` };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
};

/** Closes the pull request a succeeded github.fix_pr step opened (the compensation before rollback). */
export const undoGitHub = async (context: ActionContext): Promise<ActionResult> => {
  if (!context.github || !context.githubContext) return { ok: false, error: githubMissing };
  const { serviceVersion: _v, ...rest } = context.githubContext;
  return context.github.undo({ ...rest, idempotencyKey: context.idempotencyKey });
};
