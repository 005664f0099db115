import { describe, expect, it } from 'vitest';
import { resolveRouting, routingFile, type Silence } from '@hephaestus/schemas';
import { groupKeyOf, groupLabelsOf, logKey, matchRoutes, schedule, type AlertIncident, type Notification, type NotificationLogEntry } from './routing.ts';

const routingOf = (file: unknown) => resolveRouting(routingFile.parse(file));

const t0 = Date.UTC(2026, 10, 25, 12);
const s = (seconds: number) => t0 + seconds * 1000;

const incident = (id: string, labels: Record<string, string>, firingSinceMs = t0, more: Partial<AlertIncident> = {}): AlertIncident => ({
  id,
  version: 1,
  labels: { alertname: 'ErrorRateHigh', signal: 'error_rate', severity: 'critical', ...labels },
  status: 'firing',
  acknowledged: false,
  firingSinceMs,
  ...more,
});
const resolved = (i: AlertIncident, atMs: number): AlertIncident => ({ ...i, version: i.version + 1, status: 'resolved', resolvedAtMs: atMs });

/** What recording a delivered notification does to the notification log. */
const sent = (log: Map<string, NotificationLogEntry>, n: Notification, atMs: number) => {
  const states = (state: string) => n.incidents.filter((i) => i.state === state).map((i) => i.incident.id);
  log.set(logKey(n, n.groupKey), { sentAtMs: atMs, firing: states('firing'), acknowledged: states('acknowledged'), resolved: states('resolved') });
};

const summary = (due: Notification[]) => due.map((n) => ({ receiver: n.receiver, kind: n.kind, notice: n.notice, ids: n.incidents.map((i) => `${i.incident.id}:${i.state}`) }));

const receivers = [
  { name: 'default', webhook: { url: 'http://127.0.0.1:1/default' } },
  { name: 'payments', webhook: { url: 'http://127.0.0.1:1/payments' } },
  { name: 'pager', pagerduty: { routingKeyEnv: 'PD_KEY' } },
  { name: 'audit', log: {} },
];

describe('route matching', () => {
  const routing = routingOf({
    receivers,
    route: {
      receiver: 'default',
      group_by: ['service'],
      routes: [
        { matchers: ['severity="critical"'], receiver: 'pager', continue: true },
        { matchers: ['team="payments"'], receiver: 'payments', routes: [{ matchers: ['service=~"ledger|refunds"'], group_by: ['...'] }] },
        { matchers: ['team=~"pay.*"'], receiver: 'audit' },
      ],
    },
  });
  const route = (labels: Record<string, string>) => matchRoutes(routing.route, labels).map((r) => `${r.receiver} ${r.key}`);

  it('takes the first matching child and stops there', () => {
    expect(route({ team: 'payments', severity: 'warning' })).toEqual(['payments {}/{team="payments"}']);
  });

  it('goes on to the next siblings after a child that says continue', () => {
    expect(route({ team: 'payments', severity: 'critical' })).toEqual(['pager {}/{severity="critical"}', 'payments {}/{team="payments"}']);
  });

  it('falls back to the parent when no child matches', () => {
    expect(route({ team: 'search', severity: 'warning' })).toEqual(['default {}']);
    expect(route({ team: 'search', severity: 'critical' })).toEqual(['pager {}/{severity="critical"}']);
  });

  it('descends into nested routes, which inherit the receiver and timers', () => {
    const [ledger] = matchRoutes(routing.route, { team: 'payments', service: 'ledger' });
    expect(ledger).toMatchObject({ receiver: 'payments', key: '{}/{team="payments"}/{service=~"ledger|refunds"}', groupBy: 'all', groupWaitMs: 30_000, repeatIntervalMs: 4 * 3_600_000 });
  });

  it('forms group keys from the group_by labels the incident has', () => {
    const labels = { service: 'checkout', team: 'search', severity: 'warning' };
    expect(groupLabelsOf(routing.route, labels)).toEqual({ service: 'checkout' });
    expect(groupKeyOf(routing.route, { service: 'checkout' })).toBe('{}:{service="checkout"}');
    expect(groupLabelsOf({ ...routing.route, groupBy: ['service', 'environment'] }, labels)).toEqual({ service: 'checkout' });
  });
});

describe('grouping timers', () => {
  const routing = routingOf({
    receivers,
    route: { receiver: 'default', group_by: ['service'], group_wait: '30s', group_interval: '5m', repeat_interval: '1h' },
  });
  const a = incident('a', { service: 'checkout' }, s(0));
  const b = incident('b', { service: 'checkout', signal: 'latency' }, s(10));
  const other = incident('c', { service: 'search' }, s(20));

  it('waits group_wait after the first incident, then sends the group as one notification', () => {
    const log = new Map<string, NotificationLogEntry>();
    const early = schedule({ routing, incidents: [a, b, other], silences: [], log, nowMs: s(29) });
    expect(early.due).toEqual([]);
    expect(early.nextWakeAtMs).toBe(s(30));
    const due = schedule({ routing, incidents: [a, b, other], silences: [], log, nowMs: s(30) });
    expect(summary(due.due)).toEqual([{ receiver: 'default', kind: 'webhook', notice: 'firing', ids: ['a:firing', 'b:firing'] }]);
    expect(due.due[0]!.groupKey).toBe('{}:{service="checkout"}');
    expect(due.nextWakeAtMs).toBe(s(50));
  });

  it('holds a new incident in a notified group until group_interval after the last notification', () => {
    const log = new Map<string, NotificationLogEntry>();
    sent(log, schedule({ routing, incidents: [a], silences: [], log, nowMs: s(30) }).due[0]!, s(30));
    const late = incident('d', { service: 'checkout', signal: 'saturation' }, s(60));
    const before = schedule({ routing, incidents: [a, late], silences: [], log, nowMs: s(329) });
    expect(before.due).toEqual([]);
    expect(before.nextWakeAtMs).toBe(s(330));
    expect(summary(schedule({ routing, incidents: [a, late], silences: [], log, nowMs: s(330) }).due)).toEqual([
      { receiver: 'default', kind: 'webhook', notice: 'firing', ids: ['a:firing', 'd:firing'] },
    ]);
  });

  it('sends nothing new while nothing changed, and repeats a still-firing group after repeat_interval', () => {
    const log = new Map<string, NotificationLogEntry>();
    sent(log, schedule({ routing, incidents: [a], silences: [], log, nowMs: s(30) }).due[0]!, s(30));
    const quiet = schedule({ routing, incidents: [a], silences: [], log, nowMs: s(30 + 3599) });
    expect(quiet.due).toEqual([]);
    expect(quiet.nextWakeAtMs).toBe(s(30 + 3600));
    const repeat = schedule({ routing, incidents: [a], silences: [], log, nowMs: s(30 + 3600) });
    expect(summary(repeat.due)).toEqual([{ receiver: 'default', kind: 'webhook', notice: 'firing', ids: ['a:firing'] }]);
    expect(repeat.due[0]!.previousSentAtMs).toBe(s(30));
  });

  it('sends a resolve notice once everything resolved, after which the incidents are done', () => {
    const log = new Map<string, NotificationLogEntry>();
    sent(log, schedule({ routing, incidents: [a, b], silences: [], log, nowMs: s(30) }).due[0]!, s(30));
    const aDone = resolved(a, s(100));
    const partly = schedule({ routing, incidents: [aDone, b], silences: [], log, nowMs: s(330) });
    expect(summary(partly.due)).toEqual([{ receiver: 'default', kind: 'webhook', notice: 'firing', ids: ['b:firing', 'a:resolved'] }]);
    expect(partly.done).toEqual([]);
    sent(log, partly.due[0]!, s(330));
    expect(schedule({ routing, incidents: [aDone, b], silences: [], log, nowMs: s(331) }).done).toEqual(['a']);

    const bDone = resolved(b, s(400));
    const all = schedule({ routing, incidents: [bDone], silences: [], log, nowMs: s(630) });
    expect(summary(all.due)).toEqual([{ receiver: 'default', kind: 'webhook', notice: 'resolved', ids: ['b:resolved'] }]);
    expect(all.done).toEqual([]);
    sent(log, all.due[0]!, s(630));
    const after = schedule({ routing, incidents: [bDone], silences: [], log, nowMs: s(631) });
    expect(after).toMatchObject({ due: [], done: ['b'] });
  });

  it('never notifies an incident that resolved within group_wait', () => {
    const log = new Map<string, NotificationLogEntry>();
    expect(schedule({ routing, incidents: [resolved(a, s(10))], silences: [], log, nowMs: s(40) })).toEqual({ due: [], nextWakeAtMs: undefined, done: ['a'] });
  });

  it('starts a group anew, with group_wait, once its last notification held nothing open', () => {
    const log = new Map<string, NotificationLogEntry>();
    sent(log, schedule({ routing, incidents: [a], silences: [], log, nowMs: s(30) }).due[0]!, s(30));
    sent(log, schedule({ routing, incidents: [resolved(a, s(40))], silences: [], log, nowMs: s(330) }).due[0]!, s(330));
    const next = incident('e', { service: 'checkout' }, s(400));
    expect(schedule({ routing, incidents: [next], silences: [], log, nowMs: s(429) }).nextWakeAtMs).toBe(s(430));
    expect(summary(schedule({ routing, incidents: [next], silences: [], log, nowMs: s(430) }).due)).toEqual([
      { receiver: 'default', kind: 'webhook', notice: 'firing', ids: ['e:firing'] },
    ]);
  });
});

describe('muting', () => {
  const routing = routingOf({
    receivers,
    route: { receiver: 'default', group_by: ['service', 'alertname'], group_wait: '0s', group_interval: '1m' },
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['service'] }],
  });
  const critical = incident('crit', { service: 'checkout', alertname: 'ErrorRateHigh', severity: 'critical' });
  const warning = incident('warn', { service: 'checkout', alertname: 'LatencyHigh', severity: 'warning' });
  const elsewhere = incident('warn-search', { service: 'search', alertname: 'LatencyHigh', severity: 'warning' });
  const ids = (due: Notification[]) => due.flatMap((n) => n.incidents.map((i) => i.incident.id)).sort();

  it('inhibits a target while a matching source with equal labels fires', () => {
    expect(ids(schedule({ routing, incidents: [critical, warning, elsewhere], silences: [], log: new Map(), nowMs: s(1) }).due)).toEqual(['crit', 'warn-search']);
  });

  it('lifts the inhibition when the source resolves', () => {
    expect(ids(schedule({ routing, incidents: [resolved(critical, s(1)), warning], silences: [], log: new Map(), nowMs: s(2) }).due)).toEqual(['warn']);
  });

  it('never lets an incident inhibit itself, nor two incidents matching both sides inhibit each other', () => {
    const both = routingOf({
      receivers,
      route: { receiver: 'default', group_by: ['service'], group_wait: '0s' },
      inhibit_rules: [{ source_matchers: ['alertname="NodeDown"'], target_matchers: ['alertname="NodeDown"'], equal: [] }],
    });
    const x = incident('x', { service: 'a', alertname: 'NodeDown' });
    const y = incident('y', { service: 'b', alertname: 'NodeDown' });
    expect(ids(schedule({ routing: both, incidents: [x, y], silences: [], log: new Map(), nowMs: s(1) }).due)).toEqual(['x', 'y']);
  });

  it('mutes a silenced incident until the silence ends, and wakes up when it does', () => {
    const silence: Silence = {
      id: 'sil-1',
      matchers: [{ name: 'service', value: 'check.*', isRegex: true, isEqual: true }],
      startsAt: new Date(s(0)).toISOString(),
      endsAt: new Date(s(600)).toISOString(),
      createdBy: 'oncall',
      comment: 'deploy',
    };
    const during = schedule({ routing, incidents: [critical, elsewhere], silences: [silence], log: new Map(), nowMs: s(1) });
    expect(ids(during.due)).toEqual(['warn-search']);
    expect(during.nextWakeAtMs).toBe(s(600));
    expect(ids(schedule({ routing, incidents: [critical], silences: [silence], log: new Map(), nowMs: s(600) }).due)).toEqual(['crit']);
  });

  it('mutes downstream symptoms of an open root cause', () => {
    const plan = schedule({ routing, incidents: [critical, elsewhere], silences: [], log: new Map(), symptoms: new Set(['warn-search']), nowMs: s(1) });
    expect(ids(plan.due)).toEqual(['crit']);
  });

  it('forgets a resolved incident that stays muted: its resolve notice is not sent, as in Alertmanager', () => {
    const log = new Map<string, NotificationLogEntry>();
    sent(log, schedule({ routing, incidents: [warning], silences: [], log, nowMs: s(1) }).due[0]!, s(1));
    const source = { ...critical, firingSinceMs: s(50) };
    const plan = schedule({ routing, incidents: [source, resolved(warning, s(60))], silences: [], log, nowMs: s(100) });
    expect(plan.done).toEqual(['warn']);
    expect(ids(plan.due)).toEqual(['crit']);
  });
});

describe('PagerDuty acknowledgements', () => {
  const routing = routingOf({
    receivers: [...receivers, { name: 'both', webhook: { url: 'http://127.0.0.1:1/both' }, pagerduty: { routingKeyEnv: 'PD_KEY' } }],
    route: { receiver: 'both', group_by: ['service'], group_wait: '0s', group_interval: '1m' },
  });
  const a = incident('a', { service: 'checkout' }, s(0));

  it('acknowledges on PagerDuty once every open incident of the group is acknowledged; the webhook hears nothing', () => {
    const log = new Map<string, NotificationLogEntry>();
    const first = schedule({ routing, incidents: [a], silences: [], log, nowMs: s(0) });
    expect(summary(first.due)).toEqual([
      { receiver: 'both', kind: 'webhook', notice: 'firing', ids: ['a:firing'] },
      { receiver: 'both', kind: 'pagerduty', notice: 'firing', ids: ['a:firing'] },
    ]);
    for (const n of first.due) sent(log, n, s(0));
    const acked = { ...a, version: 2, acknowledged: true, acknowledgedAtMs: s(30) };
    const ack = schedule({ routing, incidents: [acked], silences: [], log, nowMs: s(60) });
    expect(summary(ack.due)).toEqual([{ receiver: 'both', kind: 'pagerduty', notice: 'acknowledged', ids: ['a:acknowledged'] }]);
    sent(log, ack.due[0]!, s(60));
    expect(schedule({ routing, incidents: [acked], silences: [], log, nowMs: s(120) }).due).toEqual([]);
    const gone = schedule({ routing, incidents: [resolved(acked, s(130))], silences: [], log, nowMs: s(180) });
    expect(summary(gone.due)).toEqual([
      { receiver: 'both', kind: 'webhook', notice: 'resolved', ids: ['a:resolved'] },
      { receiver: 'both', kind: 'pagerduty', notice: 'resolved', ids: ['a:resolved'] },
    ]);
  });
});
