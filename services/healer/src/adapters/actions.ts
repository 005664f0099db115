// Action executors: HTTP calls to an agent's control URL or a configured endpoint, only to hosts on the
// allow-list (checked after templating), each with an idempotency key so a retried or resumed step acts
// once; GitHub actions go to an injected executor. Parameters are templated as plain strings and never
// reach a shell.
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
  controlToken?: string;
  allowedHosts: string[];
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

type HttpTarget = { url: URL; method: string; body?: string; contentType?: string };

/** The HTTP call a step stands for, templated and checked against the allow-list, or why there is none. */
export const planHttpCall = (step: PlaybookStep, context: ActionContext): HttpTarget | { error: string } => {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(step.params)) {
    const filled = fillTemplate(value, context.values, key === 'url');
    if (!filled.ok) return { error: `${step.name}: params.${key}: ${filled.error}` };
    params[key] = filled.text;
  }
  let target: { url: string; method: string; body?: string; contentType?: string };
  if (step.action === 'agent.restart' || step.action === 'agent.set_config' || step.action === 'agent.rollback') {
    if (!context.controlUrl) return { error: 'the agent exports no heph.control.url' };
    const base = context.controlUrl.replace(/\/$/, '');
    if (step.action === 'agent.restart') target = { url: `${base}/restart`, method: 'POST' };
    else if (step.action === 'agent.set_config') target = { url: `${base}/config`, method: 'POST', body: JSON.stringify(agentConfig(params)), contentType: 'application/json' };
    else target = { url: `${base}/rollback`, method: 'POST', body: JSON.stringify(params.version ? { version: params.version } : {}), contentType: 'application/json' };
  } else if (step.action === 'http') {
    if (!params.url) return { error: 'http action needs params.url' };
    const body = params.body;
    target = { url: params.url, method: (params.method ?? 'POST').toUpperCase(), body, contentType: body === undefined ? undefined : body.trimStart().startsWith('{') ? 'application/json' : 'text/plain' };
  } else {
    return { error: `${step.action} is not an HTTP action` };
  }
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return { error: `not a URL: ${target.url}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `not an http(s) URL: ${target.url}` };
  if (!context.allowedHosts.includes(url.hostname.replace(/^\[|\]$/g, ''))) {
    return { error: `host ${url.hostname} is not on the healer's allow-list (HEPH_HEALER_ALLOWED_HOSTS)` };
  }
  return { ...target, url };
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
            ...(context.controlToken ? { authorization: `Bearer ${context.controlToken}` } : {}),
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
