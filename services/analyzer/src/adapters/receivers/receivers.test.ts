// Receiver payloads against their published contracts, sent to real HTTP servers on loopback.
import { createHash, createHmac } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { testLogger } from '@hephaestus/platform/testing';
import { defaultRouting, resolveRouting, routingFile } from '@hephaestus/schemas';
import {
  createSenders,
  dedupKey,
  DeliveryError,
  pagerDutyEvent,
  postJson,
  sign,
  signatureToleranceSeconds,
  slackMessage,
  targetKey,
  verifySignature,
  webhookPayload,
  type AlertedIncident,
  type Delivery,
} from './index.ts';
import { startLoopbackReceiver } from './testing.ts';

const ctx = { consoleUrl: 'http://console.test:8080' };

const incident = (id: string, more: Partial<AlertedIncident> = {}): AlertedIncident => ({
  id,
  version: 3,
  labels: { alertname: 'ErrorRateHigh', service: 'checkout', signal: 'error_rate', severity: 'critical', team: 'payments' },
  status: 'firing',
  acknowledged: false,
  firingSinceMs: Date.UTC(2026, 10, 25, 12, 0, 5),
  service: 'checkout',
  signal: 'error_rate',
  severity: 'critical',
  summary: 'error rate 42% (baseline 1%) over 120 calls',
  value: 0.42,
  baseline: 0.01,
  calls: 120,
  errors: 50,
  windowStart: '2026-11-25T12:00:00.000Z',
  startsAt: '2026-11-25T12:00:00.000Z',
  ...more,
});

const delivery = (more: Partial<Delivery> = {}): Delivery => ({
  id: '6f1c1a52-8d3e-5a49-9b0e-0c2d7f3e4a11',
  receiver: 'oncall',
  kind: 'webhook',
  groupKey: '{}/{team="payments"}:{service="checkout"}',
  groupLabels: { service: 'checkout' },
  notice: 'firing',
  incidents: [
    { incident: incident('inc-1'), state: 'firing' },
    {
      incident: incident('inc-2', {
        labels: { alertname: 'LatencyHigh', service: 'checkout', signal: 'latency', severity: 'warning', team: 'payments' },
        signal: 'latency',
        severity: 'warning',
        status: 'resolved',
        summary: 'p95 <2 s> & rising',
        resolvedAt: '2026-11-25T12:03:00.000Z',
      }),
      state: 'resolved',
    },
  ],
  ...more,
});

const servers: Array<{ close: () => Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

const sendersFor = (file: unknown, env: Record<string, string> = {}) =>
  createSenders(resolveRouting(routingFile.parse(file)), { ...ctx, env, logger: testLogger() });

describe('webhook receiver', () => {
  it("builds Alertmanager's version 4 payload plus our incident fields", () => {
    const payload = webhookPayload(delivery(), ctx);
    expect(payload).toMatchObject({
      version: '4',
      groupKey: '{}/{team="payments"}:{service="checkout"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'oncall',
      groupLabels: { service: 'checkout' },
      commonLabels: { service: 'checkout', team: 'payments' },
      commonAnnotations: {},
      externalURL: ctx.consoleUrl,
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'ErrorRateHigh', service: 'checkout', severity: 'critical' },
          annotations: { summary: 'error rate 42% (baseline 1%) over 120 calls' },
          startsAt: '2026-11-25T12:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: `${ctx.consoleUrl}/api/incidents/inc-1`,
        },
        { status: 'resolved', endsAt: '2026-11-25T12:03:00.000Z' },
      ],
      incident: { id: 'inc-1', status: 'open', service: 'checkout', value: 0.42, baseline: 0.01, links: { incident: `${ctx.consoleUrl}/api/incidents/inc-1` } },
      incidents: [{ id: 'inc-1', status: 'open' }, { id: 'inc-2', status: 'resolved' }],
    });
  });

  it('signs the timestamp and body with HMAC-SHA256 in X-Heph-Signature-256 and sends the idempotency key', async () => {
    const receiver = await startLoopbackReceiver();
    servers.push(receiver);
    const senders = sendersFor(
      { receivers: [{ name: 'oncall', webhook: { url: `${receiver.url}/alerts`, secretEnv: 'HOOK_KEY' } }], route: { receiver: 'oncall' } },
      { HOOK_KEY: 's3cret' },
    );
    const before = Math.floor(Date.now() / 1000);
    const status = await senders.get(targetKey({ receiver: 'oncall', kind: 'webhook' }))!.send(delivery(), AbortSignal.timeout(5000));
    expect(status).toBe(200);
    const [call] = receiver.calls;
    expect(call!.path).toBe('/alerts');
    expect(call!.headers['content-type']).toBe('application/json');
    expect(call!.headers['idempotency-key']).toBe(delivery().id);
    const timestamp = String(call!.headers['x-heph-timestamp']);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    // Verified the way a receiver in any language would: HMAC of "<timestamp>.<raw body>" with the shared key.
    const expected = `sha256=${createHmac('sha256', 's3cret').update(`${timestamp}.${call!.raw}`).digest('hex')}`;
    expect(call!.headers['x-heph-signature-256']).toBe(expected);
    const signed = { signature: expected, timestamp };
    expect(verifySignature(call!.raw, signed, 's3cret')).toBe(true);
    expect(verifySignature(call!.raw, signed, 'other')).toBe(false);
    expect(verifySignature(`${call!.raw} `, signed, 's3cret')).toBe(false);
    expect(verifySignature(call!.raw, { signature: expected, timestamp: String(Number(timestamp) + 1) }, 's3cret')).toBe(false);
    expect(verifySignature(call!.raw, { signature: expected, timestamp: undefined }, 's3cret')).toBe(false);
    expect(call!.body.incident.id).toBe('inc-1');
  });

  it('makes a captured signed request worthless after the tolerance (no replay)', () => {
    const body = '{"version":"4"}';
    const at = Date.UTC(2026, 11, 2, 12, 0, 0);
    const timestamp = at / 1000;
    const signed = { signature: sign(timestamp, body, 's3cret'), timestamp: String(timestamp) };
    expect(verifySignature(body, signed, 's3cret', at)).toBe(true);
    expect(verifySignature(body, signed, 's3cret', at + signatureToleranceSeconds * 1000)).toBe(true);
    expect(verifySignature(body, signed, 's3cret', at + (signatureToleranceSeconds + 1) * 1000)).toBe(false);
    expect(verifySignature(body, signed, 's3cret', at - (signatureToleranceSeconds + 1) * 1000)).toBe(false);
    // The old body-only signature no longer verifies: the timestamp is part of what is signed.
    const bodyOnly = `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
    expect(verifySignature(body, { signature: bodyOnly, timestamp: String(timestamp) }, 's3cret', at)).toBe(false);
  });

  it('sends no signature without a secret', async () => {
    const receiver = await startLoopbackReceiver();
    servers.push(receiver);
    const senders = sendersFor({ receivers: [{ name: 'oncall', webhook: { url: receiver.url } }], route: { receiver: 'oncall' } });
    await senders.get(targetKey({ receiver: 'oncall', kind: 'webhook' }))!.send(delivery(), AbortSignal.timeout(5000));
    expect(receiver.calls[0]!.headers['x-heph-signature-256']).toBeUndefined();
  });

  it('refuses to start when a named secret is not in the environment', () => {
    expect(() => sendersFor({ receivers: [{ name: 'oncall', webhook: { url: 'http://127.0.0.1:1', secretEnv: 'HOOK_KEY' } }], route: { receiver: 'oncall' } })).toThrow(
      "receiver 'oncall': HOOK_KEY is not set (the webhook HMAC key)",
    );
    expect(() => sendersFor({ receivers: [{ name: 'pd', pagerduty: { routingKeyEnv: 'PD_KEY' } }], route: { receiver: 'pd' } })).toThrow(/PD_KEY is not set/);
  });

  it('is the default receiver when HEPH_ALERT_WEBHOOK_URL is set, and the log otherwise', () => {
    expect(defaultRouting('http://127.0.0.1:9/hook').receivers).toEqual([{ name: 'webhook', webhook: { url: 'http://127.0.0.1:9/hook' } }]);
    expect(defaultRouting().receivers).toEqual([{ name: 'log', log: {} }]);
  });
});

describe('Slack receiver', () => {
  it('builds an incoming-webhook message: text, and blocks with severity, service, summary and console link', () => {
    const message = slackMessage(delivery({ kind: 'slack' }), ctx, '#payments-oncall');
    expect(message.channel).toBe('#payments-oncall');
    expect(message.text).toBe('[FIRING:1] checkout error_rate and 1 more: error rate 42% (baseline 1%) over 120 calls');
    const [header, first, second, actions] = message.blocks as any[];
    expect(header).toEqual({ type: 'header', text: { type: 'plain_text', text: '[FIRING:1] checkout error_rate and 1 more' } });
    expect(first).toMatchObject({
      type: 'section',
      text: { type: 'mrkdwn', text: `*<${ctx.consoleUrl}/api/incidents/inc-1|checkout>* error rate 42% (baseline 1%) over 120 calls` },
      fields: [{ text: '*Severity*\ncritical' }, { text: '*Service*\ncheckout' }, { text: '*Status*\nfiring' }, { text: '*Signal*\nerror_rate' }],
    });
    // Slack's mrkdwn control characters are escaped.
    expect(second.text.text).toContain('p95 &lt;2 s&gt; &amp; rising');
    expect(actions).toEqual({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in console' }, url: `${ctx.consoleUrl}/api/incidents` }] });
  });

  it('stays within Block Kit limits for a large group', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ incident: incident(`inc-${i}`), state: 'firing' as const }));
    const message = slackMessage(delivery({ kind: 'slack', incidents: many }), ctx);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(message.blocks.at(-2)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'and 40 more incidents' }] });
  });

  it('posts the message to the incoming webhook', async () => {
    const slack = await startLoopbackReceiver();
    servers.push(slack);
    const senders = sendersFor({ receivers: [{ name: 'chat', slack: { url: `${slack.url}/services/T0/B0/x` } }], route: { receiver: 'chat' } });
    await senders.get(targetKey({ receiver: 'chat', kind: 'slack' }))!.send(delivery({ kind: 'slack' }), AbortSignal.timeout(5000));
    expect(slack.calls[0]).toMatchObject({ path: '/services/T0/B0/x', body: { text: expect.stringContaining('[FIRING:1]') } });
  });
});

describe('PagerDuty receiver', () => {
  it('triggers with a stable dedup_key, summary, severity, source, custom details and links', () => {
    const event = pagerDutyEvent(delivery({ kind: 'pagerduty' }), ctx, 'R0UT1NGKEY') as any;
    expect(event).toMatchObject({
      routing_key: 'R0UT1NGKEY',
      event_action: 'trigger',
      dedup_key: createHash('sha256').update('{}/{team="payments"}:{service="checkout"}').digest('hex'),
      payload: {
        summary: '[FIRING:1] checkout error_rate and 1 more: error rate 42% (baseline 1%) over 120 calls',
        source: 'checkout',
        severity: 'critical',
        timestamp: '2026-11-25T12:00:00.000Z',
        component: 'checkout',
        class: 'error_rate',
        custom_details: { groupLabels: { service: 'checkout' }, incidents: [{ id: 'inc-1', state: 'firing' }, { id: 'inc-2', state: 'resolved' }] },
      },
      links: [{ href: `${ctx.consoleUrl}/api/incidents/inc-1` }, { href: `${ctx.consoleUrl}/api/incidents/inc-2` }],
    });
    expect(event.dedup_key).toBe(dedupKey(delivery().groupKey));
  });

  it('acknowledges and resolves on the same dedup_key', () => {
    const key = dedupKey(delivery().groupKey);
    expect(pagerDutyEvent(delivery({ kind: 'pagerduty', notice: 'acknowledged' }), ctx, 'K')).toEqual({ routing_key: 'K', event_action: 'acknowledge', dedup_key: key });
    expect(pagerDutyEvent(delivery({ kind: 'pagerduty', notice: 'resolved' }), ctx, 'K')).toEqual({ routing_key: 'K', event_action: 'resolve', dedup_key: key });
  });

  it('sends to the Events API v2 endpoint configured, with the routing key from the environment', async () => {
    const pagerduty = await startLoopbackReceiver(() => 202);
    servers.push(pagerduty);
    const senders = sendersFor({ receivers: [{ name: 'pd', pagerduty: { routingKeyEnv: 'PD_KEY', url: `${pagerduty.url}/v2/enqueue` } }], route: { receiver: 'pd' } }, { PD_KEY: 'abc123' });
    const status = await senders.get(targetKey({ receiver: 'pd', kind: 'pagerduty' }))!.send(delivery({ kind: 'pagerduty' }), AbortSignal.timeout(5000));
    expect(status).toBe(202);
    expect(pagerduty.calls[0]).toMatchObject({ path: '/v2/enqueue', body: { routing_key: 'abc123', event_action: 'trigger' } });
  });
});

describe('delivery over HTTP', () => {
  it('calls a 5xx or 429 retryable and another 4xx not', async () => {
    const codes = [503, 429, 400];
    const receiver = await startLoopbackReceiver((_call, i) => codes[i] ?? 200);
    servers.push(receiver);
    const outcomes = [];
    for (let i = 0; i < 3; i++) {
      const error = await postJson(receiver.url, '{}', {}, AbortSignal.timeout(5000)).catch((e: unknown) => e);
      outcomes.push(error instanceof DeliveryError ? [error.status, error.retryable] : error);
    }
    expect(outcomes).toEqual([
      [503, true],
      [429, true],
      [400, false],
    ]);
  });
});
