// What each kind of signal means to the incident policy: which side of its baseline is bad, and
// whether it is a symptom users feel (may page), a cause or resource signal (evidence only), or a
// prediction (pages only when imminent and confident). Overridable per signal glob in config.
import { z } from 'zod';
import { globMatches } from './matchers.ts';
import { severity } from './events.ts';

export const signalRole = z.enum(['symptom', 'cause', 'resource', 'prediction']);
export type SignalRole = z.infer<typeof signalRole>;

/** Which movement is bad: `up` (errors, latency, cost), `down` (throughput), or `both` (a gauge with no known good side). */
export const badSide = z.enum(['up', 'down', 'both']);
export type BadSide = z.infer<typeof badSide>;

export const signalMeaning = z
  .object({
    /** A signal name or glob (`error_rate`, `latency.*`, `*.duration`). The first matching entry wins. */
    signal: z.string().min(1),
    role: signalRole,
    bad: badSide,
    /** The page's severity when this signal opens an incident. */
    severity: severity.default('warning'),
    /**
     * How far from the baseline the value must be, relative to it, before the signal counts
     * (0.25: 25 % above for `up`; a large drop for throughput is 0.5). Keeps a series with a tiny
     * spread ("613 vs usual 615 ± 0.5") from mattering at all.
     */
    minRelativeChange: z.number().nonnegative().default(0),
    /** Consecutive bad intervals before a symptom may open an incident on its own (1: at once). */
    confirmIntervals: z.number().int().min(1).default(1),
    /**
     * A move at least this far from the baseline (relative, like `minRelativeChange`) needs no
     * confirmation: the mean latency of a whole interval at three times its usual is a fault, not noise.
     * Unset: every move waits for `confirmIntervals`.
     */
    confirmAtOnceChange: z.number().positive().optional(),
    /**
     * A lower bar than `minRelativeChange` for a gradual climb that is still climbing (the level-shift
     * test's creep: it rose over more than two intervals and its line is above its recent median).
     * Latency that has crept 30 % up and keeps going is a fault on its way, seen about 20 s sooner at
     * 10 s resolution than at 50 %. Unset: a creep must reach `minRelativeChange` like any move.
     */
    creepRelativeChange: z.number().positive().optional(),
  })
  .strict();
export type SignalMeaning = z.infer<typeof signalMeaning>;

const entry = (m: z.input<typeof signalMeaning>): SignalMeaning => signalMeaning.parse(m);

/**
 * The defaults, most specific first. Symptoms confirm over two of the last three intervals (error rate
 * at once with a new or surging error signature on the service); objectives' burn rates page at once;
 * tokens, cache, calls and gauges never page alone.
 */
export const defaultSignalMeanings: SignalMeaning[] = [
  // Two bad intervals among the last three, or one with a new or surging error signature: a noisy
  // service passes the count-aware test now and then, a fault with errors nobody saw before pages at once.
  entry({ signal: 'error_rate', role: 'symptom', bad: 'up', severity: 'critical', confirmIntervals: 2 }),
  // A slow burn is a ticket, not a page: evidence beside the incidents it relates to.
  entry({ signal: 'burn_rate.*.ticket', role: 'cause', bad: 'up', severity: 'warning' }),
  entry({ signal: 'burn_rate.*', role: 'symptom', bad: 'up', severity: 'critical' }),
  entry({ signal: 'failure.predicted', role: 'prediction', bad: 'up', severity: 'critical' }),
  entry({ signal: 'gen_ai.budget', role: 'symptom', bad: 'up', severity: 'warning' }),
  entry({ signal: 'latency.*', role: 'symptom', bad: 'up', severity: 'warning', minRelativeChange: 0.5, confirmIntervals: 2, creepRelativeChange: 0.3 }),
  // Means over a whole interval: three times the usual needs no second interval (quantiles below do).
  entry({ signal: '*.duration', role: 'symptom', bad: 'up', severity: 'warning', minRelativeChange: 0.5, confirmIntervals: 2, confirmAtOnceChange: 2, creepRelativeChange: 0.3 }),
  // A duration histogram's p95 series: the same symptom as its mean, but the p95 of one interval's few
  // dozen calls is noisy (a healthy agent's moved +53 % in the demo's first minutes): it must double.
  entry({ signal: '*.duration.p95', role: 'symptom', bad: 'up', severity: 'warning', minRelativeChange: 1, confirmIntervals: 2 }),
  entry({ signal: '*_ms', role: 'symptom', bad: 'up', severity: 'warning', minRelativeChange: 0.5, confirmIntervals: 2, creepRelativeChange: 0.3 }),
  entry({ signal: 'gen_ai.cost_per_success_usd', role: 'symptom', bad: 'up', severity: 'warning', minRelativeChange: 0.5, confirmIntervals: 2, confirmAtOnceChange: 2 }),
  entry({ signal: 'gen_ai.cost_usd', role: 'cause', bad: 'up', minRelativeChange: 0.5 }),
  entry({ signal: 'gen_ai.*tokens', role: 'cause', bad: 'up', minRelativeChange: 0.25 }),
  entry({ signal: 'gen_ai.errors', role: 'cause', bad: 'up' }),
  entry({ signal: 'logs.errors', role: 'cause', bad: 'up' }),
  entry({ signal: 'error_signature.*', role: 'cause', bad: 'up' }),
  entry({ signal: 'calls', role: 'cause', bad: 'down', minRelativeChange: 0.5 }),
  entry({ signal: 'gen_ai.calls', role: 'cause', bad: 'down', minRelativeChange: 0.5 }),
  entry({ signal: 'gen_ai.cache_*', role: 'cause', bad: 'both' }),
  entry({ signal: '*', role: 'resource', bad: 'both' }),
];

export const signalMeanings = z.array(signalMeaning);

/** The meaning of a signal: the first matching override, else the first matching default. */
export const meaningOf = (signal: string, overrides: readonly SignalMeaning[] = []): SignalMeaning =>
  overrides.find((m) => globMatches(m.signal, signal)) ?? defaultSignalMeanings.find((m) => globMatches(m.signal, signal))!;

/** Whether a value on this side of its baseline, this far from it, is bad for the signal. */
export const isBadMove = (meaning: SignalMeaning, value: number, baseline: number): boolean => {
  const direction = value >= baseline ? 'up' : 'down';
  if (meaning.bad !== 'both' && meaning.bad !== direction) return false;
  if (meaning.minRelativeChange === 0) return value !== baseline;
  const scale = Math.abs(baseline);
  if (scale === 0) return value !== 0;
  return Math.abs(value - baseline) / scale >= meaning.minRelativeChange;
};
