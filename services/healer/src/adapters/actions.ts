// Action executors: HTTP calls to an agent's control URL or a configured endpoint, only to hosts on the
// allow-list, each with an idempotency key so a retried or resumed step acts once.
import type { PlaybookStep } from '@hephaestus/schemas';
import pRetry, { AbortError } from 'p-retry';

export type ActionContext = { controlUrl?: string; controlToken?: string; allowedHosts: string[]; idempotencyKey: string };
export type ActionResult = { ok: true; detail: string } | { ok: false; error: string };

/** The agent's config change from a step's string parameters, typed as its control endpoint expects. */
const agentConfig = (params: Record<string, string>) => ({
  ...(params.model ? { model: params.model } : {}),
  ...(params.cache ? { cache: params.cache === 'true' } : {}),
  ...(params.circuitBreaker ? { circuitBreaker: params.circuitBreaker } : {}),
  ...(params.concurrency ? { concurrency: Number(params.concurrency) } : {}),
});

const targetOf = (step: PlaybookStep, context: ActionContext): { url: string; method: string; body?: string } | { error: string } => {
  if (step.action === 'agent.restart' || step.action === 'agent.set_config') {
    if (!context.controlUrl) return { error: 'the agent exports no heph.control.url' };
    const base = context.controlUrl.replace(/\/$/, '');
    if (step.action === 'agent.restart') return { url: `${base}/restart`, method: 'POST' };
    return { url: `${base}/config`, method: 'POST', body: JSON.stringify(agentConfig(step.params)) };
  }
  const url = step.params.url;
  if (!url) return { error: "http action needs params.url" };
  return { url, method: step.params.method ?? 'POST' };
};

export const runAction = async (step: PlaybookStep, context: ActionContext): Promise<ActionResult> => {
  const target = targetOf(step, context);
  if ('error' in target) return { ok: false, error: target.error };
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return { ok: false, error: `not a URL: ${target.url}` };
  }
  if (!context.allowedHosts.includes(url.hostname.replace(/^\[|\]$/g, ''))) {
    return { ok: false, error: `host ${url.hostname} is not on the healer's allow-list (HEPH_HEALER_ALLOWED_HOSTS)` };
  }
  try {
    const status = await pRetry(
      async () => {
        const response = await fetch(url, {
          method: target.method,
          headers: {
            'idempotency-key': context.idempotencyKey,
            ...(target.body ? { 'content-type': 'application/json' } : {}),
            ...(context.controlToken ? { authorization: `Bearer ${context.controlToken}` } : {}),
          },
          body: target.body,
          signal: AbortSignal.timeout(step.timeoutSeconds * 1000),
        });
        if (response.status >= 500) throw new Error(`${url.origin}${url.pathname} answered ${response.status}`);
        if (response.status >= 400) throw new AbortError(`${url.origin}${url.pathname} answered ${response.status}`);
        return response.status;
      },
      { retries: step.retries, minTimeout: 200, maxTimeout: 2000 },
    );
    return { ok: true, detail: `${target.method} ${url.origin}${url.pathname} answered ${status}` };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
};
