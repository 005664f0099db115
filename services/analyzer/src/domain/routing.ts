// Alert routing as Alertmanager does it, as a pure scheduler: route → group → mute (silences,
// inhibition, downstream symptoms) → dedup against the notification log → the notifications due now
// and when to look again. Time, incidents, silences and what was already sent are arguments.
import {
  allMatch,
  integrationsOf,
  silencedBy,
  type IntegrationKind,
  type InhibitRule,
  type Labels,
  type Route,
  type Routing,
  type Silence,
} from '@hephaestus/schemas';

/** What routing needs to know of an incident. */
export type AlertIncident = {
  id: string;
  /** The incident stream's version: a notification's identity includes it. */
  version: number;
  labels: Labels;
  status: 'firing' | 'resolved';
  acknowledged: boolean;
  /** When it opened, or reopened. */
  firingSinceMs: number;
  resolvedAtMs?: number;
  acknowledgedAtMs?: number;
};

/** An incident's state in one notification. `acknowledged` only for receivers that can acknowledge (PagerDuty). */
export type AlertState = 'firing' | 'acknowledged' | 'resolved';
export type Notice = AlertState;

export type Target = { receiver: string; kind: IntegrationKind };

/** The last notification of a group to a target: Alertmanager's notification log entry. */
export type NotificationLogEntry = { sentAtMs: number; firing: string[]; acknowledged: string[]; resolved: string[] };

export const logKey = (target: Target, groupKey: string) => `${target.receiver}\u001f${target.kind}\u001f${groupKey}`;

export type Notification<I extends AlertIncident = AlertIncident> = Target & {
  groupKey: string;
  groupLabels: Labels;
  notice: Notice;
  /** Firing first, then acknowledged, then resolved; oldest first within each. */
  incidents: Array<{ incident: I; state: AlertState }>;
  /** When the group was last notified to this target (even in an ended lifecycle); undefined for its very first notification. */
  previousSentAtMs?: number;
};

export type ScheduleInput<I extends AlertIncident> = {
  routing: Routing;
  incidents: I[];
  silences: Silence[];
  /** Keyed by `logKey`. */
  log: ReadonlyMap<string, NotificationLogEntry>;
  /** Ids of incidents that are downstream symptoms of an open root cause: muted like inhibited ones. */
  symptoms?: ReadonlySet<string>;
  nowMs: number;
};

export type Schedule<I extends AlertIncident> = {
  due: Notification<I>[];
  /** The earliest future time something may become due without a new event. */
  nextWakeAtMs?: number;
  /** Resolved incidents nothing more will be sent about: the caller may forget them. */
  done: string[];
};

// route: the matching routes of the tree, depth first; a matching child stops the search among its
// siblings unless it says `continue`; no matching child means the parent itself.
export const matchRoutes = (route: Route, labels: Labels): Route[] => {
  if (!allMatch(route.matchers, labels)) return [];
  const matched: Route[] = [];
  for (const child of route.routes) {
    const found = matchRoutes(child, labels);
    if (found.length === 0) continue;
    matched.push(...found);
    if (!child.continue) break;
  }
  return matched.length > 0 ? matched : [route];
};

const labelsText = (labels: Labels) =>
  `{${Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',')}}`;

/** The labels that form the incident's group on this route: only those it has, as in Alertmanager. */
export const groupLabelsOf = (route: Route, labels: Labels): Labels =>
  route.groupBy === 'all' ? { ...labels } : Object.fromEntries(route.groupBy.filter((name) => labels[name] !== undefined).map((name) => [name, labels[name]!]));

/** Alertmanager's group key: the route's key and the group's labels, e.g. `{}/{team="payments"}:{service="checkout"}`. */
export const groupKeyOf = (route: Route, groupLabels: Labels) => `${route.key}:${labelsText(groupLabels)}`;

// mute: inhibition as Alertmanager applies it. A firing source inhibits a target when both sides
// match and the `equal` labels agree (a label missing on both sides counts as equal). An incident
// never inhibits itself, and when the target matches both sides, sources that also do are ignored
// (two such incidents would otherwise silence each other).
export const inhibited = (target: AlertIncident, firing: AlertIncident[], rules: InhibitRule[]): boolean =>
  rules.some((rule) => {
    if (!allMatch(rule.targetMatchers, target.labels)) return false;
    const twoSided = allMatch(rule.sourceMatchers, target.labels);
    return firing.some(
      (source) =>
        source.id !== target.id &&
        allMatch(rule.sourceMatchers, source.labels) &&
        !(twoSided && allMatch(rule.targetMatchers, source.labels)) &&
        rule.equal.every((name) => (source.labels[name] ?? '') === (target.labels[name] ?? '')),
    );
  });

const firstTickAtOrAfter = (lastSentMs: number, intervalMs: number, atMs: number) =>
  lastSentMs + Math.max(1, Math.ceil((atMs - lastSentMs) / intervalMs)) * intervalMs;

const byTime = (a: AlertIncident, b: AlertIncident) => a.firingSinceMs - b.firingSinceMs || a.id.localeCompare(b.id);

type Group<I> = { route: Route; groupKey: string; groupLabels: Labels; incidents: I[] };

export const schedule = <I extends AlertIncident>(input: ScheduleInput<I>): Schedule<I> => {
  const { routing, nowMs, log } = input;
  const receivers = new Map(routing.receivers.map((r) => [r.name, r]));

  // group: one aggregation group per route and group labels.
  const groups = new Map<string, Group<I>>();
  for (const incident of input.incidents) {
    for (const route of matchRoutes(routing.route, incident.labels)) {
      const groupLabels = groupLabelsOf(route, incident.labels);
      const groupKey = groupKeyOf(route, groupLabels);
      let group = groups.get(groupKey);
      if (!group) groups.set(groupKey, (group = { route, groupKey, groupLabels, incidents: [] }));
      group.incidents.push(incident);
    }
  }

  // mute: silenced, inhibited, or a downstream symptom.
  const firing = input.incidents.filter((i) => i.status === 'firing');
  const muted = new Set(
    input.incidents
      .filter((i) => silencedBy(i.labels, input.silences, nowMs).length > 0 || inhibited(i, firing, routing.inhibitRules) || input.symptoms?.has(i.id))
      .map((i) => i.id),
  );

  const due: Notification<I>[] = [];
  let nextWakeAtMs: number | undefined;
  const wakeAt = (t: number) => {
    if (t > nowMs && (nextWakeAtMs === undefined || t < nextWakeAtMs)) nextWakeAtMs = t;
  };
  // Resolved incidents a target was told are firing, and not yet that they resolved.
  const owed = new Set<string>();

  // dedup: Alertmanager's rule (notify on a new firing incident, on a newly resolved one, once when
  // all resolved, else every repeat_interval), on group_interval ticks after the last notification.
  for (const group of groups.values()) {
    const { route } = group;
    const receiver = receivers.get(route.receiver);
    if (!receiver) continue;
    const visible = group.incidents.filter((i) => !muted.has(i.id)).sort(byTime);
    for (const kind of integrationsOf(receiver)) {
      const target = { receiver: receiver.name, kind };
      const acknowledges = kind === 'pagerduty';
      const stateOf = (i: I): AlertState => (i.status === 'resolved' ? 'resolved' : acknowledges && i.acknowledged ? 'acknowledged' : 'firing');
      const states = visible.map((incident) => ({ incident, state: stateOf(incident) }));
      const nowFiring = states.filter((s) => s.state === 'firing');
      const nowAcked = states.filter((s) => s.state === 'acknowledged');

      const stored = log.get(logKey(target, group.groupKey));
      // A group whose last notification held nothing open has ended: the next incident starts anew.
      const entry = stored && stored.firing.length + stored.acknowledged.length > 0 ? stored : undefined;
      if (entry) {
        const toldOpen = new Set([...entry.firing, ...entry.acknowledged]);
        for (const i of group.incidents) if (i.status === 'resolved' && toldOpen.has(i.id) && !muted.has(i.id)) owed.add(i.id);
      }

      let dueAtMs: number | undefined;
      if (!entry) {
        const open = [...nowFiring, ...nowAcked];
        if (open.length > 0) dueAtMs = Math.min(...open.map((s) => s.incident.firingSinceMs)) + route.groupWaitMs;
      } else if (states.length > 0) {
        const told = { firing: new Set(entry.firing), acknowledged: new Set(entry.acknowledged), resolved: new Set(entry.resolved) };
        const changedAt = states
          .filter(({ incident, state }) => !told[state].has(incident.id))
          .map(({ incident: i, state }) => (state === 'firing' ? i.firingSinceMs : state === 'acknowledged' ? (i.acknowledgedAtMs ?? i.firingSinceMs) : (i.resolvedAtMs ?? nowMs)));
        if (changedAt.length > 0) dueAtMs = firstTickAtOrAfter(entry.sentAtMs, route.groupIntervalMs, Math.min(...changedAt));
        else if (nowFiring.length > 0) dueAtMs = firstTickAtOrAfter(entry.sentAtMs, route.groupIntervalMs, entry.sentAtMs + route.repeatIntervalMs);
      }
      if (dueAtMs === undefined) continue;
      if (dueAtMs > nowMs) {
        wakeAt(dueAtMs);
        continue;
      }
      const order = { firing: 0, acknowledged: 1, resolved: 2 };
      due.push({
        ...target,
        groupKey: group.groupKey,
        groupLabels: group.groupLabels,
        notice: nowFiring.length > 0 ? 'firing' : nowAcked.length > 0 ? 'acknowledged' : 'resolved',
        incidents: states.sort((a, b) => order[a.state] - order[b.state]),
        previousSentAtMs: stored?.sentAtMs,
      });
    }
  }

  // A silence starting or ending changes what is muted.
  for (const s of input.silences) {
    wakeAt(Date.parse(s.startsAt));
    wakeAt(Date.parse(s.endsAt));
  }

  const done = input.incidents.filter((i) => i.status === 'resolved' && !owed.has(i.id)).map((i) => i.id);
  return { due, nextWakeAtMs, done };
};
