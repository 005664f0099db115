// The analyzer pipeline: consume → rollup → detect → decide → append, then notify.
import { deterministicId, type ConsumedRecord, type Log, type Logger, type Sql } from '@hephaestus/platform';
import { decodeTracesProtobuf, toSpanRecords, topics, type SpanRecord } from '@hephaestus/schemas';
import { Counter, Gauge, type Registry } from 'prom-client';
import { appliedOffset, mergeRollups, readBuckets, storeAppliedOffset } from './adapters/rollup-store.ts';
import { handleIncidentCommand, openIncidents } from './adapters/incident-store.ts';
import { startWebhookNotifier } from './adapters/webhook-notifier.ts';
import { defaultErrorRateSettings, detectErrorRate, quietStreak, type ErrorRateSettings } from './domain/error-rate-detector.ts';
import { rollupSpans } from './domain/rollup.ts';

export type AnalyzerOptions = {
  sql: Sql;
  log: Log;
  logger: Logger;
  registry: Registry;
  resolutionSeconds: number;
  graceSeconds: number;
  webhookUrl?: string;
  consoleUrl: string;
  settings?: ErrorRateSettings;
  consumerGroupPrefix: string;
  now?: () => number;
};

export const startAnalyzer = async (options: AnalyzerOptions) => {
  const { sql, logger } = options;
  const now = options.now ?? Date.now;
  const settings = options.settings ?? defaultErrorRateSettings;
  const consumerName = `${options.consumerGroupPrefix}-analyzer`;
  const metrics = {
    spans: new Counter({ name: 'heph_analyzer_spans_total', help: 'Spans consumed from otel.spans.', registers: [options.registry] }),
    deadletters: new Counter({ name: 'heph_analyzer_deadletters_total', help: 'Messages the analyzer could not decode, sent to heph.deadletter.', registers: [options.registry] }),
    openIncidents: new Gauge({ name: 'heph_analyzer_open_incidents', help: 'Incidents currently open.', registers: [options.registry] }),
  };

  // consume: decode every message of the batch; what cannot be decoded goes to the dead letter topic.
  const decode = async (records: ConsumedRecord[]): Promise<SpanRecord[]> => {
    const spans: SpanRecord[] = [];
    const dead: { record: ConsumedRecord; reason: string }[] = [];
    for (const record of records) {
      const decoded = decodeTracesProtobuf(record.value);
      if (decoded.ok) spans.push(...toSpanRecords(decoded.value));
      else dead.push({ record, reason: decoded.error.message });
    }
    if (dead.length > 0) {
      await options.log.send(
        topics.deadletter,
        dead.map(({ record, reason }) => ({
          key: record.key,
          value: record.value,
          headers: { ...record.headers, 'heph-reason': reason, 'heph-source': `${record.topic}/${record.partition}/${record.offset}` },
        })),
      );
      metrics.deadletters.inc(dead.length);
      logger.warn({ count: dead.length, reason: dead[0]!.reason }, 'undecodable telemetry sent to dead letter topic');
    }
    return spans;
  };

  // rollup: the batch's effects and the offset they reach commit together.
  const consume = async ({ topic, partition, records }: { topic: string; partition: number; records: ConsumedRecord[] }) => {
    await sql.begin(async (tx) => {
      const from = await appliedOffset(tx, consumerName, topic, partition);
      const fresh = records.filter((r) => r.offset >= from);
      if (fresh.length === 0) return;
      const spans = await decode(fresh);
      await mergeRollups(tx, options.resolutionSeconds, rollupSpans(spans, options.resolutionSeconds));
      await storeAppliedOffset(tx, consumerName, topic, partition, fresh.at(-1)!.offset + 1n);
      metrics.spans.inc(spans.length);
    });
  };

  // detect → decide → append: judge each service's latest closed bucket.
  const detect = async () => {
    const resolutionMs = options.resolutionSeconds * 1000;
    const closedBefore = Math.floor((now() - options.graceSeconds * 1000) / resolutionMs) * resolutionMs;
    const currentStart = closedBefore - resolutionMs;
    const from = closedBefore - (settings.baselineBuckets + 1) * resolutionMs;
    const [series, open] = await Promise.all([readBuckets(sql, options.resolutionSeconds, from, closedBefore), openIncidents(sql)]);
    metrics.openIncidents.set(open.length);
    const openByService = new Map(open.filter((i) => i.signal === 'error_rate').map((i) => [i.service, i]));
    for (const [service, buckets] of series) {
      const incident = openByService.get(service);
      if (incident) {
        const since = buckets.filter((b) => b.startMs > incident.windowStart.getTime());
        const streak = quietStreak(since, incident.baseline, settings);
        if (streak >= settings.quietBuckets) {
          const last = since.at(-1)!;
          const events = await handleIncidentCommand(sql, {
            type: 'ResolveIncident',
            at: new Date(closedBefore).toISOString(),
            incidentId: incident.id,
            service,
            signal: 'error_rate',
            reason: `error rate back to normal for ${streak} intervals of ${options.resolutionSeconds} s`,
            value: last.calls > 0 ? last.errors / last.calls : 0,
          });
          if (events.length > 0) logger.info({ incidentId: incident.id, service }, `incident resolved: ${service} error rate back to normal`);
        }
        continue;
      }
      const current = buckets.find((b) => b.startMs === currentStart);
      if (!current) continue;
      const verdict = detectErrorRate(current, buckets.filter((b) => b.startMs < currentStart), settings);
      if (!verdict.anomalous) continue;
      const incidentId = deterministicId(service, 'error_rate', currentStart);
      const events = await handleIncidentCommand(sql, {
        type: 'OpenIncident',
        at: new Date(closedBefore).toISOString(),
        incidentId,
        service,
        signal: 'error_rate',
        severity: 'critical',
        summary: verdict.explanation,
        value: verdict.value,
        baseline: verdict.baseline,
        calls: verdict.calls,
        errors: verdict.errors,
        windowStart: new Date(currentStart).toISOString(),
        controlUrl: buckets.findLast((b) => b.controlUrl)?.controlUrl ?? undefined,
      });
      if (events.length > 0) logger.info({ incidentId, service, score: verdict.score }, `incident opened: ${service} ${verdict.explanation}`);
    }
  };

  const subscription = await options.log.subscribe({ groupId: consumerName, topics: [topics.spans], handle: consume });
  const notifier = startWebhookNotifier(sql, logger, { webhookUrl: options.webhookUrl, consoleUrl: options.consoleUrl });
  let stopped = false;
  const detectLoop = (async () => {
    while (!stopped) {
      try {
        await detect();
      } catch (error) {
        logger.error({ err: error }, 'detection pass failed');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  logger.info({ resolutionSeconds: options.resolutionSeconds }, 'analyzer consuming otel.spans');

  return {
    stop: async () => {
      stopped = true;
      await subscription.stop();
      await detectLoop;
      await notifier.stop();
    },
  };
};
