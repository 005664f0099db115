// The fault catalogue of `heph demo --fault NAME`: what each fault does to an agent's simulated world,
// how the control plane should see it, and what cures it.
import { badVersion, fallbackModel, memoryLimitBytes, primaryModel, provider, stableVersion, healthyConditions, type Conditions } from './simulation.ts';

export const faultNames = ['error-burst', 'latency-spike', 'memory-leak', 'spend-runaway', 'provider-outage', 'bad-deploy', 'latency-creep'] as const;
export type FaultName = (typeof faultNames)[number];

export const isFaultName = (name: string): name is FaultName => (faultNames as readonly string[]).includes(name);

export type Fault = {
  name: FaultName;
  /** What goes wrong, in plain words (printed when the fault is injected). */
  effect: string;
  /** The signals the analyzer should see it in. */
  detection: string;
  /** What brings the agent back. */
  cure: string;
  /** Whether restarting the agent clears it: faults outside the process (the provider, the deployed version) survive a restart. */
  clearedByRestart: boolean;
  /** The agent of the demo fleet it hits unless told otherwise. */
  defaultService: string;
  /** The simulation under this fault, `elapsedMs` after it began. */
  apply(conditions: Conditions, elapsedMs: number): Conditions;
};

const gib = (bytes: number) => `${bytes / 1024 ** 3} GiB`;

export const faults: Record<FaultName, Fault> = {
  'error-burst': {
    name: 'error-burst',
    effect: '60 % of its LLM calls fail with a reset connection (a wedged model client)',
    detection: 'error_rate of the agent and of its callers; gen_ai.errors; logs.errors',
    cure: 'restart the agent (agent.restart): its model client starts afresh',
    clearedByRestart: true,
    defaultService: 'researcher',
    apply: (c) => ({ ...c, llmFailureRatio: 0.6, llmFailure: { code: 'ECONNRESET', message: `request to ${provider} failed, reason: socket hang up` } }),
  },
  'latency-spike': {
    name: 'latency-spike',
    effect: 'its provider throttles to 8 calls at once: with its usual 100 allowed, its connection pool saturates and every LLM call takes ten times as long',
    detection: 'gen_ai.client.operation.duration (its own LLM calls); latency.p95_ms of the agent and of its callers',
    cure: 'shed load: lower its concurrency to 8 or less (agent.set_config {"concurrency":8}); a restart brings back the 100 that saturate',
    clearedByRestart: false,
    defaultService: 'coder',
    apply: (c) => ({ ...c, providerConcurrency: Math.min(c.providerConcurrency, 8) }),
  },
  'memory-leak': {
    name: 'memory-leak',
    effect: `process.memory.usage climbs 1 % of its ${gib(memoryLimitBytes)} limit every 10 s; at the limit every request fails`,
    detection: `failure.predicted on process.memory.usage (with HEPH_LIMITS=process.memory.usage=${memoryLimitBytes}) minutes before the limit; error_rate once it is reached`,
    cure: 'restart the agent (agent.restart): the memory is given back',
    clearedByRestart: true,
    defaultService: 'reviewer',
    apply: (c, elapsedMs) => ({ ...c, leakedBytes: Math.min(memoryLimitBytes, c.leakedBytes + (elapsedMs / 10_000) * 0.01 * memoryLimitBytes) }),
  },
  'spend-runaway': {
    name: 'spend-runaway',
    effect: 'a prompt loop: it re-sends the same prompts over and over and the answers run 30 times longer; output tokens and spend surge',
    detection: 'gen_ai.cost_per_success_usd, gen_ai.cost_usd and gen_ai.output_tokens of the agent; heph.gen_ai.cost; the gen_ai.budget forecast',
    cure: 'turn its LLM cache on (agent.set_config {"cache":true}): the repeated prompts are answered from the cache and spend falls back; a restart keeps the loop',
    clearedByRestart: false,
    defaultService: 'coder',
    apply: (c) => ({ ...c, outputTokenFactor: c.outputTokenFactor * 30, repeatedPrompts: true }),
  },
  'provider-outage': {
    name: 'provider-outage',
    effect: `every call to ${provider} ${primaryModel} fails (503); the errors cascade to its callers`,
    detection: 'error_rate of the agent and of every caller up the chain (root cause: the agent, the deepest failing service); gen_ai.errors with error.type service_unavailable; logs.errors',
    cure: `switch the agent to ${fallbackModel} (agent.set_config: POST /control/config {"model":"${fallbackModel}"}) or open its circuit breaker to the fallback ({"circuitBreaker":"open"}); a restart does not help`,
    clearedByRestart: false,
    defaultService: 'researcher',
    apply: (c) => ({ ...c, unavailableModels: [...c.unavailableModels, primaryModel] }),
  },
  'bad-deploy': {
    name: 'bad-deploy',
    effect: `version ${badVersion} replaces ${stableVersion}: 40 % of its requests fail in the tool call (TypeError)`,
    detection: `error_rate of the agent and of its callers, starting with service.version ${badVersion}; a new error signature`,
    cure: `revert the deploy: a revert pull request (github.revert) whose merge deploys ${stableVersion} again, or POST /control/rollback (agent.rollback) without GitHub; a restart runs the same bad version`,
    clearedByRestart: false,
    defaultService: 'coder',
    apply: (c) => ({
      ...c,
      version: badVersion,
      toolFailureRatio: 0.4,
      toolFailure: { code: 'TypeError', message: "Cannot read properties of undefined (reading 'citations')" },
    }),
  },
  'latency-creep': {
    name: 'latency-creep',
    effect: 'its LLM latency grows slowly: by its usual value every 2 minutes',
    detection: 'a gradual level shift in gen_ai.client.operation.duration (its own LLM calls; 30 % above the level of a minute before and still climbing, about 45 s after the onset) and latency.p95_ms of the agent and of its callers',
    cure: 'restart the agent (agent.restart): restart-on-latency-creep answers a gradual onset; shedding load would only postpone it',
    clearedByRestart: true,
    defaultService: 'reviewer',
    apply: (c, elapsedMs) => ({ ...c, latencyFactor: c.latencyFactor * (1 + elapsedMs / 120_000) }),
  },
};

export type ActiveFault = { name: FaultName; sinceMs: number };

/** The simulation at `nowMs` with these faults active. */
export const conditionsAt = (active: readonly ActiveFault[], nowMs: number): Conditions =>
  active.reduce((conditions, fault) => faults[fault.name].apply(conditions, Math.max(0, nowMs - fault.sinceMs)), healthyConditions());
