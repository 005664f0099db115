// A Slack incoming-webhook message: `text` (what notifications and old clients show) and Block Kit
// `blocks` with each incident's severity, service, summary and console link. Block Kit limits:
// 50 blocks, a header of 150 characters, section text of 3000.
import { incidentLink, postJson, title, type Delivery, type DeliveryContext, type Send } from './notification.ts';

const shownIncidents = 20;

/** Slack's mrkdwn treats &, < and > as markup. */
const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export const slackMessage = (delivery: Delivery, ctx: DeliveryContext, channel?: string) => {
  const heading = title(delivery);
  const incidentBlocks = delivery.incidents.slice(0, shownIncidents).map(({ incident, state }) => ({
    type: 'section',
    text: { type: 'mrkdwn', text: clip(`*<${incidentLink(ctx.consoleUrl, incident.id)}|${escape(incident.service)}>* ${escape(incident.summary)}`, 3000) },
    fields: [
      { type: 'mrkdwn', text: `*Severity*\n${escape(incident.severity)}` },
      { type: 'mrkdwn', text: `*Service*\n${escape(incident.service)}` },
      { type: 'mrkdwn', text: `*Status*\n${state}` },
      { type: 'mrkdwn', text: `*Signal*\n${escape(incident.signal)}` },
    ],
  }));
  const more = delivery.incidents.length - shownIncidents;
  const first = delivery.incidents[0]?.incident;
  return {
    ...(channel ? { channel } : {}),
    text: first ? `${heading}: ${first.summary}` : heading,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(heading, 150) } },
      ...incidentBlocks,
      ...(more > 0 ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${more} more incidents` }] }] : []),
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open in console' },
            url: delivery.incidents.length === 1 && first ? incidentLink(ctx.consoleUrl, first.id) : `${ctx.consoleUrl}/api/incidents`,
          },
        ],
      },
    ],
  };
};

export const slackSender =
  (config: { url: string; channel?: string }, ctx: DeliveryContext): Send =>
  (delivery, signal) =>
    postJson(config.url, JSON.stringify(slackMessage(delivery, ctx, config.channel)), { 'idempotency-key': delivery.id }, signal);
