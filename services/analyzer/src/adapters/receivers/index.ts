// One send function per receiver integration of the routing, with its secrets read from the
// environment given (webhook HMAC keys, PagerDuty routing keys). A missing secret stops the start.
import type { Logger } from '@hephaestus/platform';
import { integrationsOf, type Routing } from '@hephaestus/schemas';
import type { Target } from '../../domain/routing.ts';
import { title, type DeliveryContext, type Send } from './notification.ts';
import { pagerDutySender } from './pagerduty.ts';
import { slackSender } from './slack.ts';
import { webhookSender } from './webhook.ts';

export * from './notification.ts';
export { dedupKey, pagerDutyEvent } from './pagerduty.ts';
export { slackMessage } from './slack.ts';
export { sign, signatureHeader, signatureToleranceSeconds, timestampHeader, verifySignature, webhookPayload } from './webhook.ts';

export const targetKey = (target: Target) => `${target.receiver}\u001f${target.kind}`;

export class ReceiverConfigError extends Error {
  readonly code = 'RECEIVER_CONFIG_INVALID';
}

export const createSenders = (
  routing: Routing,
  options: DeliveryContext & { env: Record<string, string | undefined>; logger: Logger },
): Map<string, { target: Target; send: Send }> => {
  const secret = (receiver: string, name: string, what: string) => {
    const value = options.env[name];
    if (!value) throw new ReceiverConfigError(`receiver '${receiver}': ${name} is not set (${what})`);
    return value;
  };
  const senders = new Map<string, { target: Target; send: Send }>();
  for (const receiver of routing.receivers) {
    for (const kind of integrationsOf(receiver)) {
      const target = { receiver: receiver.name, kind };
      let send: Send;
      if (kind === 'webhook') {
        const config = receiver.webhook!;
        send = webhookSender(config, config.secretEnv ? secret(receiver.name, config.secretEnv, 'the webhook HMAC key') : undefined, options);
      } else if (kind === 'slack') {
        send = slackSender(receiver.slack!, options);
      } else if (kind === 'pagerduty') {
        const config = receiver.pagerduty!;
        send = pagerDutySender(config, secret(receiver.name, config.routingKeyEnv, 'the PagerDuty routing key'), options);
      } else {
        send = async (delivery) => {
          const first = delivery.incidents[0]?.incident;
          options.logger.info({ receiver: receiver.name, groupKey: delivery.groupKey, incidentIds: delivery.incidents.map((i) => i.incident.id) }, `alert ${delivery.notice}: ${title(delivery)}${first ? `: ${first.summary}` : ''}`);
          return 0;
        };
      }
      senders.set(targetKey(target), { target, send });
    }
  }
  return senders;
};
