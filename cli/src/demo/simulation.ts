// The demo agents' simulated world, as pure functions: what an LLM call, a tool call and the process
// memory look like under a set of conditions. Faults (faults.ts) change the conditions; randomness is
// passed in, so a test can replay it.

export type Random = () => number;

export const provider = 'openai';
export const primaryModel = 'gpt-4o-mini';
export const fallbackModel = 'gpt-4.1-mini';
/** The version every agent runs until a bad deploy replaces it. */
export const stableVersion = '1.4.2';
export const badVersion = '1.5.0';
export const memoryLimitBytes = 1024 * 1024 * 1024;
/** LLM calls a demo agent lets run at once until the healer sheds load (agent.set_config concurrency). */
export const agentConcurrency = 100;
export const baselineMemoryBytes = 256 * 1024 * 1024;

/** A failure as the simulated provider or tool reports it; `code` becomes the span's `error.type`. */
export type SimulatedError = { code: string; status?: number; message: string };

export type Conditions = {
  /** `service.version` the agent runs. */
  version: string;
  /** Share of LLM calls that fail, and how they fail. */
  llmFailureRatio: number;
  llmFailure: SimulatedError;
  /** Models every call to which fails (a provider outage). */
  unavailableModels: string[];
  latencyFactor: number;
  /**
   * Calls at once the provider serves at full speed (Infinity when healthy). An agent that allows more
   * than this saturates its connection pool: every call takes `saturationFactor` times as long.
   */
  providerConcurrency: number;
  saturationFactor: number;
  outputTokenFactor: number;
  /** A prompt loop re-sends the same prompts: requests lose their own context, so a cache can answer the repeats. */
  repeatedPrompts: boolean;
  /** Share of tool calls that fail, and how (a bug in the deployed code). */
  toolFailureRatio: number;
  toolFailure: SimulatedError;
  /** Memory held on top of the baseline (a leak). */
  leakedBytes: number;
};

/** Healthy: one LLM call in 500 is rate limited, nothing else goes wrong (errors add up the call chain: the entry agent sees about 1 %). */
export const healthyConditions = (): Conditions => ({
  version: stableVersion,
  llmFailureRatio: 0.002,
  llmFailure: { code: 'rate_limit_exceeded', status: 429, message: `Rate limit reached for ${primaryModel} in organization org-demo on requests per min (RPM)` },
  unavailableModels: [],
  latencyFactor: 1,
  providerConcurrency: Number.POSITIVE_INFINITY,
  saturationFactor: 10,
  outputTokenFactor: 1,
  repeatedPrompts: false,
  toolFailureRatio: 0,
  toolFailure: { code: 'tool_error', message: 'tool failed' },
  leakedBytes: 0,
});

const between = (random: Random, low: number, high: number) => low + (high - low) * random();

/** `saturatedMs`: the part of `latencyMs` spent waiting on a saturated pool, which ends once the agent sheds load. */
export type LlmOutcome = { latencyMs: number; saturatedMs?: number; inputTokens: number; outputTokens: number; error?: SimulatedError };

/** One call to `model` from an agent allowing `concurrency` calls at once: its latency, token usage, and the error it ends with, if any. */
export const llmOutcome = (conditions: Conditions, model: string, random: Random, concurrency = agentConcurrency): LlmOutcome => {
  const inputTokens = Math.round(between(random, 250, 450));
  if (conditions.unavailableModels.includes(model)) {
    // An outage answers fast: the provider's front door refuses the call.
    return {
      latencyMs: between(random, 40, 120),
      inputTokens: 0,
      outputTokens: 0,
      error: { code: 'service_unavailable', status: 503, message: `${provider} ${model} is unavailable: 503 Service Unavailable` },
    };
  }
  // A long tail: one call in twenty takes a second more.
  const baseMs = between(random, 250, 650) + (random() < 0.05 ? 1000 : 0);
  const saturated = concurrency > conditions.providerConcurrency;
  const servedMs = baseMs * conditions.latencyFactor;
  const latencyMs = servedMs * (saturated ? conditions.saturationFactor : 1);
  const wait = saturated ? { saturatedMs: latencyMs - servedMs } : {};
  if (random() < conditions.llmFailureRatio) return { latencyMs, ...wait, inputTokens: 0, outputTokens: 0, error: conditions.llmFailure };
  return { latencyMs, ...wait, inputTokens, outputTokens: Math.round(between(random, 60, 180) * conditions.outputTokenFactor) };
};

export type ToolOutcome = { latencyMs: number; error?: SimulatedError };

export const toolOutcome = (conditions: Conditions, random: Random): ToolOutcome => {
  const latencyMs = between(random, 20, 80);
  return random() < conditions.toolFailureRatio ? { latencyMs, error: conditions.toolFailure } : { latencyMs };
};

/** The process's memory: the baseline within ±1.5 %, plus what leaked, never past the limit. */
export const memoryUsageBytes = (conditions: Conditions, random: Random): number =>
  Math.round(Math.min(memoryLimitBytes, baselineMemoryBytes * (1 + between(random, -0.015, 0.015)) + conditions.leakedBytes));

/** At the limit the process has no memory left: every request fails. */
export const outOfMemory = (conditions: Conditions): boolean => baselineMemoryBytes + conditions.leakedBytes >= memoryLimitBytes;
