// @hephaestus/agent: what an agent imports to be observed and healed by Hephaestus.
export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.ts';
export { controlConfigSchema, startControlServer, type ControlConfig, type ControlServer, type ControlServerOptions } from './control-server.ts';
export {
  CircuitOpenError,
  createLlmGuard,
  errorTypeOf,
  type CacheSecondLayer,
  type LlmGuard,
  type LlmGuardOptions,
  type LlmGuardSettings,
  type LlmGuardStatus,
} from './llm-guard.ts';
export { costUsd, priceFor, usageOf, type LlmUsage, type ModelPrice } from './llm-usage.ts';
export type { BreakerOptions, BreakerState } from './circuit-breaker.ts';
