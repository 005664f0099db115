// Service level objectives (config/objectives.yaml): an availability and a latency objective for
// every service, overridable per service glob, and the multiwindow, multi-burn-rate rules that page on them.
import { z } from 'zod';
import { globMatches } from './matchers.ts';

const targetPercent = z.number().gt(0).lt(100);

export const availabilityTarget = z.strictObject({
  /** Percent of calls that succeed, e.g. 99.5. */
  targetPercent,
});
export type AvailabilityTarget = z.infer<typeof availabilityTarget>;

export const latencyTarget = z.strictObject({
  /** Percent of calls faster than `thresholdMs`, e.g. 99. */
  targetPercent,
  thresholdMs: z.number().positive(),
});
export type LatencyTarget = z.infer<typeof latencyTarget>;

/** One alert rule: fires when the burn rate over the long window AND over the short window both reach `burnRate`. */
export const burnRateRule = z
  .strictObject({
    name: z.string().min(1),
    longWindowBuckets: z.int().positive(),
    shortWindowBuckets: z.int().positive(),
    /** How many times faster than the objective allows the error budget is being spent. */
    burnRate: z.number().positive(),
    severity: z.enum(['critical', 'warning']),
  })
  .refine((r) => r.shortWindowBuckets <= r.longWindowBuckets, { message: 'the short window cannot be longer than the long window', path: ['shortWindowBuckets'] });
export type BurnRateRule = z.infer<typeof burnRateRule>;

/**
 * The SRE workbook's recommended rules for a 30-day objective ("Alerting on SLOs", table 5-8), in hours
 * of the real scheme. The ticket's factor is 2.5 rather than the workbook's 1: see `config/objectives.yaml`.
 */
export const workbookRules = [
  { name: 'fast', longWindowHours: 1, shortWindowHours: 5 / 60, burnRate: 14.4, severity: 'critical' },
  { name: 'medium', longWindowHours: 6, shortWindowHours: 0.5, burnRate: 6, severity: 'critical' },
  { name: 'slow', longWindowHours: 72, shortWindowHours: 6, burnRate: 2.5, severity: 'warning' },
] as const;

/**
 * The workbook's rules with an hour of the scheme worth `bucketsPerHour` buckets, whatever the
 * resolution. A window is never under one bucket (the fast rule's 5 minutes are half a bucket at 6).
 */
export const scaledRules = (bucketsPerHour: number): BurnRateRule[] =>
  workbookRules.map((r) => ({
    name: r.name,
    longWindowBuckets: Math.max(1, Math.round(r.longWindowHours * bucketsPerHour)),
    shortWindowBuckets: Math.max(1, Math.round(r.shortWindowHours * bucketsPerHour)),
    burnRate: r.burnRate,
    severity: r.severity,
  }));

const serviceObjectives = z.strictObject({
  /** A glob over service.name; the first entry that matches a service applies to it. */
  service: z.string().min(1),
  /** Fields left out keep the default; `false` turns the objective off for these services. */
  availability: z.union([availabilityTarget.partial(), z.literal(false)]).optional(),
  latency: z.union([latencyTarget.partial(), z.literal(false)]).optional(),
});
export type ServiceObjectives = z.infer<typeof serviceObjectives>;

export const objectivesFile = z
  .strictObject({
    alerting: z
      .strictObject({
        /** Buckets that stand for one hour of the workbook's scheme (see config/objectives.yaml). */
        bucketsPerHour: z.number().positive().default(6),
        /** Fewer calls than this in a rule's short window: that rule gives no verdict. */
        minCalls: z.int().nonnegative().default(20),
        /** Replaces the scaled workbook rules; evaluated in this order, the first that fires wins. */
        rules: z.array(burnRateRule).min(1).optional(),
      })
      .prefault({}),
    defaults: z
      .strictObject({
        availability: availabilityTarget.default({ targetPercent: 99 }),
        /**
         * Off unless set: no threshold suits every service (an LLM agent's calls take seconds), so a
         * latency objective is declared here or per service; statistical detectors cover the rest.
         */
        latency: z.union([latencyTarget, z.literal(false)]).default(false),
      })
      .prefault({}),
    services: z.array(serviceObjectives).default([]),
  })
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    file.alerting.rules?.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['alerting', 'rules', i, 'name'], message: `rule '${r.name}' is defined twice` });
      names.add(r.name);
    });
  });
export type ObjectivesFile = z.infer<typeof objectivesFile>;

/** How every objective alerts: the rules in evaluation order and the short window's minimum volume. */
export type ObjectiveAlerting = { rules: BurnRateRule[]; minCalls: number };

export type ObjectivesConfig = {
  alerting: ObjectiveAlerting;
  defaults: ObjectivesFile['defaults'];
  services: ServiceObjectives[];
};

export const resolveObjectives = (file: ObjectivesFile): ObjectivesConfig => ({
  alerting: { rules: file.alerting.rules ?? scaledRules(file.alerting.bucketsPerHour), minCalls: file.alerting.minCalls },
  defaults: file.defaults,
  services: file.services,
});

/** The objectives every service has when there is no file. */
export const defaultObjectives: ObjectivesConfig = resolveObjectives(objectivesFile.parse({}));

export type Objective =
  | { service: string; kind: 'availability'; targetPercent: number; alerting: ObjectiveAlerting }
  | { service: string; kind: 'latency'; targetPercent: number; thresholdMs: number; alerting: ObjectiveAlerting };

/** The objectives of one service: the defaults, overridden by the first entry whose glob matches. */
export const objectivesFor = (config: ObjectivesConfig, service: string): Objective[] => {
  const entry = config.services.find((s) => globMatches(s.service, service));
  const objectives: Objective[] = [];
  if (entry?.availability !== false) {
    objectives.push({ service, kind: 'availability', ...config.defaults.availability, ...entry?.availability, alerting: config.alerting });
  }
  if (entry?.latency !== false) {
    const base = config.defaults.latency === false ? undefined : config.defaults.latency;
    const latency = entry?.latency === undefined ? base : { targetPercent: 99, ...base, ...entry.latency };
    if (latency?.thresholdMs !== undefined) objectives.push({ service, kind: 'latency', targetPercent: latency.targetPercent, thresholdMs: latency.thresholdMs, alerting: config.alerting });
  }
  return objectives;
};
