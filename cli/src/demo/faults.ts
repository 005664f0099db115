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
    effect: 'its LLM calls take ten times as long (a saturated connection pool)',
    detection: 'latency.p95_ms of the agent and of its callers; gen_ai.client.operation.duration',
    cure: 'restart the agent (agent.restart)',
    clearedByRestart: true,
    defaultService: 'coder',
    apply: (c) => ({ ...c, latencyFactor: c.latencyFactor * 10 }),
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
    effect: 'its LLM answers run 30 times longer (a runaway prompt loop): output tokens and spend surge',
    detection: 'gen_ai.output_tokens and gen_ai.cost_usd of the agent; heph.gen_ai.cost; the gen_ai.budget forecast',
    cure: 'restart the agent (agent.restart): the prompt loop ends',
    clearedByRestart: true,
    defaultService: 'coder',
    apply: (c) => ({ ...c, outputTokenFactor: c.outputTokenFactor * 30 }),
  },
  'provider-outage': {
    name: 'provider-outage',
    effect: `every call to ${provider} ${primaryModel} fails (503); the errors cascade to its callers`,
    detection: 'error_rate of the agent and of every caller up the chain (root cause: the agent, the deepest failing service); gen_ai.errors with error.type service_unavailable; logs.errors',
    cure: `switch the agent to ${fallbackModel} (POST /control/config {"model":"${fallbackModel}"}) or open its circuit breaker to the fallback ({"circuitBreaker":"open"}); a restart does not help`,
    clearedByRestart: false,
    defaultService: 'researcher',
    apply: (c) => ({ ...c, unavailableModels: [...c.unavailableModels, primaryModel] }),
  },
  'bad-deploy': {
    name: 'bad-deploy',
    effect: `version ${badVersion} replaces ${stableVersion}: 40 % of its requests fail in the tool call (TypeError)`,
    detection: `error_rate of the agent and of its callers, starting with service.version ${badVersion}; a new error signature`,
    cure: `revert the deploy (POST /control/rollback, what merging the revert pull request deploys); a restart runs the same bad version`,
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
    detection: 'a level shift in latency.p95_ms of the agent and of its callers (CUSUM), slowly',
    cure: 'restart the agent (agent.restart)',
    clearedByRestart: true,
    defaultService: 'reviewer',
    apply: (c, elapsedMs) => ({ ...c, latencyFactor: c.latencyFactor * (1 + elapsedMs / 120_000) }),
  },
};

export type ActiveFault = { name: FaultName; sinceMs: number };

/** The simulation at `nowMs` with these faults active. */
export const conditionsAt = (active: readonly ActiveFault[], nowMs: number): Conditions =>
  active.reduce((conditions, fault) => faults[fault.name].apply(conditions, Math.max(0, nowMs - fault.sinceMs)), healthyConditions());
