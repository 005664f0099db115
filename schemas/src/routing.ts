// The alert routing file (YAML, e.g. config/routing.yaml), shaped like Alertmanager's configuration:
// receivers, a route tree with grouping timers, inhibition rules. Parsing resolves what the file
// leaves implicit (durations, matcher strings, values a child route inherits from its parent).
import { z } from 'zod';
import { parseMatcher, regexProblem, type Matcher } from './matchers.ts';

const unitsMs = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
// Alertmanager's (Prometheus') duration syntax: units largest first, each at most once: 1h30m, 90s, 0s.
const durationSyntax = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds of a duration such as `30s`, `5m`, `4h`, `1h30m`; undefined when it is not one. */
export const parseDuration = (text: string): number | undefined => {
  if (text === '0') return 0;
  const match = durationSyntax.exec(text);
  if (!match || text === '') return undefined;
  const units = Object.values(unitsMs);
  return match.slice(1).reduce((sum, part, i) => sum + (part ? Number(part) * units[i]! : 0), 0);
};

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 5m or 4h, got '${text}'` });
    return z.NEVER;
  }
  return ms;
});

const matcherText = z.string().transform((text, ctx): Matcher => {
  const m = parseMatcher(text);
  if (!m) {
    // A regex RE2 refuses (the engine Alertmanager's Go regexes use, and ours): say why.
    const regex = /^[a-zA-Z_][a-zA-Z0-9_.]*\s*[=!]~\s*"?(.*?)"?$/.exec(text.trim());
    const problem = regex ? regexProblem(regex[1]!) : undefined;
    ctx.addIssue({ code: 'custom', message: problem ? `invalid regular expression in '${text}': ${problem}` : `expected a matcher like service="checkout" or service=~"pay.*", got '${text}'` });
    return z.NEVER;
  }
  return m;
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable');
const httpUrl = z.url({ protocol: /^https?$/ });

export const pagerDutyEventsUrl = 'https://events.pagerduty.com/v2/enqueue';

const receiverFile = z
  .object({
    name: z.string().min(1),
    /** Alertmanager's webhook JSON (version "4") plus our incident fields. */
    webhook: z
      .object({
        url: httpUrl,
        /** The environment variable holding the HMAC-SHA256 key; the signature of X-Heph-Timestamp and the body goes in X-Heph-Signature-256. */
        secretEnv: envName.optional(),
      })
      .strict()
      .optional(),
    /** A Slack incoming webhook. */
    slack: z.object({ url: httpUrl, channel: z.string().min(1).optional() }).strict().optional(),
    /** PagerDuty Events API v2. */
    pagerduty: z
      .object({ routingKeyEnv: envName, url: httpUrl.default(pagerDutyEventsUrl) })
      .strict()
      .optional(),
    /** Writes the notification to the analyzer's log. */
    log: z.object({}).strict().optional(),
  })
  .strict();

type RouteFileInput = {
  receiver?: string;
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  matchers?: string[];
  continue?: boolean;
  routes?: RouteFileInput[];
};
type RouteFileOutput = {
  receiver?: string;
  group_by?: string[];
  group_wait?: number;
  group_interval?: number;
  repeat_interval?: number;
  matchers: Matcher[];
  continue: boolean;
  routes: RouteFileOutput[];
};

const routeFile: z.ZodType<RouteFileOutput, RouteFileInput> = z.lazy(() =>
  z
    .object({
      receiver: z.string().min(1).optional(),
      /** Labels whose values form the group; `['...']` groups by every label (no aggregation). */
      group_by: z.array(z.string().min(1)).optional(),
      group_wait: duration.optional(),
      group_interval: duration.optional(),
      repeat_interval: duration.optional(),
      matchers: z.array(matcherText).default([]),
      continue: z.boolean().default(false),
      routes: z.array(routeFile).default([]),
    })
    .strict(),
);

const inhibitRuleFile = z
  .object({
    source_matchers: z.array(matcherText).min(1),
    target_matchers: z.array(matcherText).min(1),
    /** Labels whose values must be equal in the source and the target. */
    equal: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const routingFile = z
  .object({
    receivers: z.array(receiverFile).min(1),
    route: routeFile,
    inhibit_rules: z.array(inhibitRuleFile).default([]),
  })
  .strict()
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    file.receivers.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['receivers', i, 'name'], message: `receiver '${r.name}' is defined twice` });
      names.add(r.name);
    });
    if (!file.route.receiver) ctx.addIssue({ code: 'custom', path: ['route'], message: 'the root route needs a receiver' });
    if (file.route.matchers.length > 0) ctx.addIssue({ code: 'custom', path: ['route', 'matchers'], message: 'the root route matches every incident: it takes no matchers' });
    if (file.route.continue) ctx.addIssue({ code: 'custom', path: ['route', 'continue'], message: 'the root route cannot continue' });
    const visit = (route: RouteFileOutput, path: (string | number)[]) => {
      if (route.receiver !== undefined && !names.has(route.receiver)) {
        ctx.addIssue({ code: 'custom', path: [...path, 'receiver'], message: `no receiver named '${route.receiver}'` });
      }
      const by = route.group_by ?? [];
      if (by.includes('...') && by.length > 1) ctx.addIssue({ code: 'custom', path: [...path, 'group_by'], message: "'...' groups by every label: list nothing else" });
      if (route.group_interval === 0) ctx.addIssue({ code: 'custom', path: [...path, 'group_interval'], message: 'group_interval must be above zero' });
      if (route.repeat_interval === 0) ctx.addIssue({ code: 'custom', path: [...path, 'repeat_interval'], message: 'repeat_interval must be above zero' });
      route.routes.forEach((child, i) => visit(child, [...path, 'routes', i]));
    };
    visit(file.route, ['route']);
  });
export type RoutingFile = z.infer<typeof routingFile>;

export type Receiver = z.infer<typeof receiverFile>;
export type IntegrationKind = 'webhook' | 'slack' | 'pagerduty' | 'log';

/** The integrations of a receiver, in a fixed order; a receiver with none discards its notifications. */
export const integrationsOf = (receiver: Receiver): IntegrationKind[] =>
  (['webhook', 'slack', 'pagerduty', 'log'] as const).filter((kind) => receiver[kind] !== undefined);

/** A route with everything it inherits resolved; `key` names it in group keys (Alertmanager's route key). */
export type Route = {
  key: string;
  receiver: string;
  /** `'all'`: every label of the incident (`group_by: ['...']`). */
  groupBy: string[] | 'all';
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  matchers: Matcher[];
  continue: boolean;
  routes: Route[];
};

export type InhibitRule = { sourceMatchers: Matcher[]; targetMatchers: Matcher[]; equal: string[] };

export type Routing = { receivers: Receiver[]; route: Route; inhibitRules: InhibitRule[] };

/** Alertmanager's defaults for what the root route leaves out. */
export const routeDefaults = { groupWaitMs: 30_000, groupIntervalMs: 5 * 60_000, repeatIntervalMs: 4 * 3_600_000 };

/** `{service="checkout",severity=~"critical|warning"}`, the form Alertmanager prints matchers and label sets in. */
export const matchersText = (matchers: Matcher[]): string =>
  `{${matchers.map((m) => `${m.name}${m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!='}${JSON.stringify(m.value)}`).join(',')}}`;

const resolveRoute = (file: RouteFileOutput, parent: Route | undefined, key: string): Route => {
  const groupBy = file.group_by === undefined ? (parent?.groupBy ?? []) : file.group_by.includes('...') ? 'all' : file.group_by;
  const route: Route = {
    key,
    receiver: file.receiver ?? parent!.receiver,
    groupBy,
    groupWaitMs: file.group_wait ?? parent?.groupWaitMs ?? routeDefaults.groupWaitMs,
    groupIntervalMs: file.group_interval ?? parent?.groupIntervalMs ?? routeDefaults.groupIntervalMs,
    repeatIntervalMs: file.repeat_interval ?? parent?.repeatIntervalMs ?? routeDefaults.repeatIntervalMs,
    matchers: file.matchers,
    continue: file.continue,
    routes: [],
  };
  const childKeys = file.routes.map((child) => `${key}/${matchersText(child.matchers)}`);
  // Siblings with the same matchers would share a key; the index keeps their groups apart.
  route.routes = file.routes.map((child, i) =>
    resolveRoute(child, route, childKeys.indexOf(childKeys[i]!) === childKeys.lastIndexOf(childKeys[i]!) ? childKeys[i]! : `${childKeys[i]}/${i}`),
  );
  return route;
};

/** The routing a parsed file describes, with inherited values filled in. */
export const resolveRouting = (file: RoutingFile): Routing => ({
  receivers: file.receivers,
  route: resolveRoute(file.route, undefined, '{}'),
  inhibitRules: file.inhibit_rules.map((r) => ({ sourceMatchers: r.source_matchers, targetMatchers: r.target_matchers, equal: r.equal })),
});

/**
 * The routing without a file: every incident on its own, at once, to the webhook at `webhookUrl`
 * (HEPH_ALERT_WEBHOOK_URL) when there is one, otherwise to the log.
 */
export const defaultRouting = (webhookUrl?: string): Routing => {
  const receiver: Receiver = webhookUrl ? { name: 'webhook', webhook: { url: webhookUrl } } : { name: 'log', log: {} };
  return {
    receivers: [receiver],
    route: {
      key: '{}',
      receiver: receiver.name,
      // Not `all`: a raised severity or a re-labelled incident is an update to its group, not a new page.
      groupBy: ['alertname', 'service'],
      groupWaitMs: 0,
      groupIntervalMs: 5000,
      repeatIntervalMs: routeDefaults.repeatIntervalMs,
      matchers: [],
      continue: false,
      routes: [],
    },
    inhibitRules: [],
  };
};
