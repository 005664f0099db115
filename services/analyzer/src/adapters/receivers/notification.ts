// What a receiver is given to deliver (a routed notification with the incidents' facts), and the
// HTTP post every integration shares: a non-2xx answer is an error saying whether a retry can help.
import type { Severity, SignalExplanation } from '@hephaestus/schemas';
import type { AlertIncident, AlertState, Notification } from '../../domain/routing.ts';

/** An incident as the notifications describe it: routing's view plus the facts of its opened event. */
export type AlertedIncident = AlertIncident & {
  service: string;
  signal: string;
  severity: Severity;
  summary: string;
  value: number;
  baseline: number;
  calls?: number;
  errors?: number;
  /** Start of the interval the fault was first seen in (ISO). */
  windowStart: string;
  /** When the current firing began: the fault's onset, or when the incident reopened (ISO). */
  startsAt: string;
  resolvedAt?: string;
  acknowledgedBy?: string;
  traceIds?: string[];
  /** How the opening signal was judged (detector, baseline, threshold, window, evidence), and why it pages. */
  explanation?: SignalExplanation;
  pagedBecause?: string;
};

/** A notification on its way to one integration; `id` is its idempotency key. */
export type Delivery = Notification<AlertedIncident> & { id: string };

export type DeliveryContext = { consoleUrl: string };

/** Sends one delivery; resolves to the receiver's HTTP status (0 when nothing went over HTTP). */
export type Send = (delivery: Delivery, signal: AbortSignal) => Promise<number>;

export const incidentLink = (consoleUrl: string, incidentId: string) => `${consoleUrl}/api/incidents/${incidentId}`;

export class DeliveryError extends Error {
  readonly code = 'ALERT_DELIVERY_FAILED';
  readonly status: number;
  /** 5xx, 408 and 429 may pass later; another 4xx will not until the configuration changes. */
  readonly retryable: boolean;
  constructor(message: string, status: number, retryable: boolean) {
    super(message);
    this.status = status;
    this.retryable = retryable;
  }
}

export const postJson = async (url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<number> => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal });
  const text = await response.text().catch(() => '');
  if (response.ok) return response.status;
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  throw new DeliveryError(`receiver answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`, response.status, retryable);
};

/** An incident as our payloads describe it (the webhook's `incident`, PagerDuty's custom details). */
export const describeIncident = (incident: AlertedIncident, state: AlertState, ctx: DeliveryContext) => ({
  id: incident.id,
  status: state === 'resolved' ? 'resolved' : 'open',
  acknowledged: incident.acknowledged,
  acknowledgedBy: incident.acknowledgedBy,
  service: incident.service,
  signal: incident.signal,
  severity: incident.severity,
  summary: incident.summary,
  value: incident.value,
  baseline: incident.baseline,
  calls: incident.calls,
  errors: incident.errors,
  openedAt: incident.windowStart,
  resolvedAt: incident.resolvedAt,
  labels: incident.labels,
  traceIds: incident.traceIds,
  explanation: incident.explanation,
  pagedBecause: incident.pagedBecause,
  links: { incident: incidentLink(ctx.consoleUrl, incident.id), console: ctx.consoleUrl },
});

/** `[FIRING:2] checkout error_rate`: Alertmanager's title convention. */
export const title = (delivery: Delivery) => {
  const count = delivery.incidents.filter((i) => i.state === delivery.notice).length;
  const first = delivery.incidents[0]?.incident;
  const what = first ? `${first.service} ${first.signal}` : delivery.groupKey;
  return `[${delivery.notice.toUpperCase()}:${count}] ${what}${delivery.incidents.length > 1 ? ` and ${delivery.incidents.length - 1} more` : ''}`;
};
