// The generic webhook: Alertmanager's webhook JSON (version "4", so existing receivers understand it)
// plus our `incident` (the group's first incident, as before grouping existed) and `incidents`.
// With a secret, `X-Heph-Timestamp: <unix seconds>` and `X-Heph-Signature-256: sha256=<hex HMAC-SHA256 of
// "<timestamp>.<raw body>">` sign each request, so a recorded request cannot be replayed later (a receiver
// refuses a timestamp more than five minutes away, as Stripe and Slack receivers do); `Idempotency-Key`
// is the same on every retry of one notification, so a receiver can also drop a retry it has seen.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Labels } from '@hephaestus/schemas';
import { describeIncident, incidentLink, postJson, type Delivery, type DeliveryContext, type Send } from './notification.ts';

export const signatureHeader = 'x-heph-signature-256';
export const timestampHeader = 'x-heph-timestamp';

/** How far a signed request's timestamp may be from the receiver's clock. */
export const signatureToleranceSeconds = 300;

export const sign = (timestamp: number, body: string, secret: string) =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/**
 * For receivers written in TypeScript: the timestamp must be within the tolerance of `nowMs` and the
 * signature, compared in constant time, must be over that timestamp and the raw body bytes.
 */
export const verifySignature = (
  body: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  secret: string,
  nowMs = Date.now(),
  toleranceSeconds = signatureToleranceSeconds,
): boolean => {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  const seconds = Number(timestamp);
  if (Math.abs(nowMs / 1000 - seconds) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(seconds, body, secret));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
};

const common = (sets: Labels[]): Labels => {
  const [first, ...rest] = sets;
  if (!first) return {};
  return Object.fromEntries(Object.entries(first).filter(([name, value]) => rest.every((s) => s[name] === value)));
};

/** Alertmanager's zero time: a firing alert has no end yet. */
const noEnd = '0001-01-01T00:00:00Z';

export const webhookPayload = (delivery: Delivery, ctx: DeliveryContext) => {
  const alerts = delivery.incidents.map(({ incident, state }) => ({
    status: state === 'resolved' ? 'resolved' : 'firing',
    labels: incident.labels,
    annotations: { summary: incident.summary },
    startsAt: incident.startsAt,
    endsAt: state === 'resolved' ? (incident.resolvedAt ?? noEnd) : noEnd,
    generatorURL: incidentLink(ctx.consoleUrl, incident.id),
    fingerprint: incident.id.replaceAll('-', '').slice(0, 16),
  }));
  const first = delivery.incidents[0];
  return {
    version: '4',
    groupKey: delivery.groupKey,
    truncatedAlerts: 0,
    status: delivery.notice === 'resolved' ? 'resolved' : 'firing',
    receiver: delivery.receiver,
    groupLabels: delivery.groupLabels,
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: ctx.consoleUrl,
    alerts,
    incident: first ? describeIncident(first.incident, first.state, ctx) : undefined,
    incidents: delivery.incidents.map(({ incident, state }) => describeIncident(incident, state, ctx)),
  };
};

export const webhookSender =
  (config: { url: string }, secret: string | undefined, ctx: DeliveryContext, nowMs: () => number = Date.now): Send =>
  (delivery, signal) => {
    const body = JSON.stringify(webhookPayload(delivery, ctx));
    const headers: Record<string, string> = { 'idempotency-key': delivery.id };
    if (secret) {
      const timestamp = Math.floor(nowMs() / 1000);
      headers[timestampHeader] = String(timestamp);
      headers[signatureHeader] = sign(timestamp, body, secret);
    }
    return postJson(config.url, body, headers, signal);
  };
