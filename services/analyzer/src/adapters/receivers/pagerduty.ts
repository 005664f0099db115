// PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview/): one alert
// per notification group. `dedup_key` is the SHA-256 of the group key, as Alertmanager makes it, so
// every trigger of a group lands on one PagerDuty alert and acknowledge/resolve find it; PagerDuty
// deduplicates a repeated trigger on that key.
import { createHash } from 'node:crypto';
import type { Severity } from '@hephaestus/schemas';
import { describeIncident, incidentLink, postJson, title, type Delivery, type DeliveryContext, type Send } from './notification.ts';

export const dedupKey = (groupKey: string) => createHash('sha256').update(groupKey).digest('hex');

const actions = { firing: 'trigger', acknowledged: 'acknowledge', resolved: 'resolve' } as const;

const rank: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export const pagerDutyEvent = (delivery: Delivery, ctx: DeliveryContext, routingKey: string) => {
  const event_action = actions[delivery.notice];
  const base = { routing_key: routingKey, event_action, dedup_key: dedupKey(delivery.groupKey) };
  if (event_action !== 'trigger') return base;
  const firing = delivery.incidents.filter((i) => i.state === 'firing').map((i) => i.incident);
  const first = firing[0]!;
  const severity = firing.map((i) => i.severity).sort((a, b) => rank[a] - rank[b])[0]!;
  return {
    ...base,
    payload: {
      summary: `${title(delivery)}: ${first.summary}`.slice(0, 1024),
      source: [...new Set(firing.map((i) => i.service))].join(', ').slice(0, 255),
      severity,
      timestamp: first.startsAt,
      component: first.service,
      group: delivery.groupKey.slice(0, 255),
      class: first.signal,
      custom_details: {
        groupLabels: delivery.groupLabels,
        incidents: delivery.incidents.map(({ incident, state }) => ({ state, ...describeIncident(incident, state, ctx) })),
      },
    },
    client: 'Hephaestus',
    client_url: ctx.consoleUrl,
    links: delivery.incidents.slice(0, 10).map(({ incident }) => ({ href: incidentLink(ctx.consoleUrl, incident.id), text: `${incident.service} ${incident.signal} in the console` })),
  };
};

export const pagerDutySender =
  (config: { url: string }, routingKey: string, ctx: DeliveryContext): Send =>
  (delivery, signal) =>
    postJson(config.url, JSON.stringify(pagerDutyEvent(delivery, ctx, routingKey)), {}, signal);
