// The correlator's checkpoint on PostgreSQL: an analyzer that starts (or takes over) resumes the
// dependency graph and the error signatures, so a known error is not new again and a new one is seen
// at once, without the surge tracker's warm-up; and the exemplar traces ranking and incidents draw on.

import { useFreshDatabase } from '@hephaestus/platform/testing';
import { describe, expect, it } from 'vitest';
import { sid, span } from '../domain/correlation/test-spans.ts';
import { createCorrelator, resumeCorrelator, type Correlator } from './correlator.ts';

const resolutionSeconds = 10;
const bucketMs = resolutionSeconds * 1000;
const t0 = Date.UTC(2026, 11, 3, 9);

/** `count` failing server spans of `service` with `message` in bucket `b`, each under a client span of `caller`. */
const failures = (correlator: Correlator, b: number, count: number, message: string, service = 'coder', caller = 'planner') => {
  for (let i = 0; i < count; i++) {
    const at = t0 + b * bucketMs + 100 * i;
    const n = b * 1000 + 2 * i;
    correlator.observe(span({ service: caller, spanId: sid(n), kind: 'client', startTimeMs: at, durationMs: 20 }));
    correlator.observe(span({ service, spanId: sid(n + 1), parentSpanId: sid(n), kind: 'server', startTimeMs: at + 1, durationMs: 10, status: 'error', statusMessage: message }));
  }
};

describe('correlator checkpoint', () => {
  const db = useFreshDatabase();

  it('resumes the graph and the signatures: a known error is not new again, a new one is seen at once', async () => {
    const { sql } = db;
    // 35 intervals of a steady error on coder, called by planner: past the surge tracker's 30-interval warm-up.
    const before = createCorrelator({ resolutionSeconds });
    for (let b = 0; b < 35; b++) {
      failures(before, b, 3, `timeout after ${2900 + b} ms calling 10.0.0.${b % 9}`);
      before.closeSignatureBuckets(t0 + (b + 1) * bucketMs);
    }
    const known = before.topSignature('coder', t0);
    expect(known?.template).toBe('timeout after <DURATION> calling <IP>');
    await before.checkpoint(sql);

    const resumed = await resumeCorrelator(sql, resolutionSeconds);
    const fresh = createCorrelator({ resolutionSeconds });
    expect(resumed.topology.downstreamOf('planner')).toEqual(['coder']);
    expect(fresh.topology.downstreamOf('planner')).toEqual([]);
    expect(resumed.topSignature('coder', t0)).toEqual(known);
    expect(resumed.templateOf('coder', known!.id)).toBe(known!.template);

    // The next interval: the known error as usual, and a new one six times. The resumed correlator calls
    // the new one new, and only it; a fresh one is still in its warm-up and calls nothing.
    for (const c of [resumed, fresh]) {
      failures(c, 35, 3, 'timeout after 2950 ms calling 10.0.0.4');
      failures(c, 35, 6, 'TypeError: Cannot read properties of undefined (reading plan)');
    }
    const seen = resumed.closeSignatureBuckets(t0 + 36 * bucketMs);
    expect(seen.map((s) => [s.service, s.kind, resumed.templateOf(s.service, s.signatureId)])).toEqual([['coder', 'new', 'TypeError: Cannot read properties of undefined (reading plan)']]);
    expect(fresh.closeSignatureBuckets(t0 + 36 * bucketMs)).toEqual([]);
  });

  it('resumes the exemplar traces: a named failing trace for root-cause ranking, and the recent sample for a new incident', async () => {
    const { sql } = db;
    const before = createCorrelator({ resolutionSeconds });
    const trace = (n: number) => n.toString(16).padStart(32, '0');
    const request = (i: number, at: number, failing = false) => {
      before.observe(span({ traceId: trace(i), service: 'planner', spanId: sid(2 * i), kind: 'server', startTimeMs: at, durationMs: 30 + i }));
      before.observe(span({ traceId: trace(i), service: 'coder', spanId: sid(2 * i + 1), parentSpanId: sid(2 * i), kind: 'server', startTimeMs: at + 1, durationMs: 20, ...(failing ? { status: 'error' as const, statusMessage: 'out of memory' } : {}) }));
    };
    // A request ten minutes ago, then ten 5 s apart: planner calls coder; the fourth fails in coder.
    request(100, t0);
    for (let i = 0; i < 10; i++) request(i, t0 + 10 * 60_000 + i * 5_000, i === 3);
    const recent = { fromMs: t0 + 10 * 60_000, toMs: t0 + 11 * 60_000, limit: 5 };
    const wanted = before.exemplars('coder', { ...recent, traceIds: [trace(3)] }).map((e) => [e.traceId, e.reason, e.spans.length]);
    expect(wanted[0]).toEqual([trace(3), 'failing', 2]);
    expect(before.exemplars('planner', { fromMs: t0, toMs: t0 + 60_000, limit: 5 }).map((e) => e.traceId)).toEqual([trace(100)]);
    await before.checkpoint(sql);

    const infos: string[] = [];
    const logger = { warn: () => {}, info: (_: unknown, message: string) => infos.push(message) } as unknown as Parameters<typeof resumeCorrelator>[2];
    const resumed = await resumeCorrelator(sql, resolutionSeconds, logger);
    expect(resumed.traces([trace(3)]).map((spans) => spans.map((s) => `${s.service} ${s.status}`))).toEqual([['planner unset', 'coder error']]);
    expect(resumed.exemplars('coder', { ...recent, traceIds: [trace(3)] }).map((e) => [e.traceId, e.reason, e.spans.length])).toEqual(wanted);
    // The sample of ten minutes ago is not kept: only the last two minutes of each service’s.
    expect(resumed.exemplars('planner', { fromMs: t0, toMs: t0 + 60_000, limit: 5 })).toEqual([]);
    expect(infos).toEqual([expect.stringMatching(/, \d+ exemplar traces$/)]);
    expect(Number(/, (\d+) exemplar traces$/.exec(infos[0]!)![1])).toBeGreaterThanOrEqual(wanted.length);
    expect(createCorrelator({ resolutionSeconds }).traces([trace(3)])).toEqual([]);
  });

  it('starts afresh, and says why, from a checkpoint it cannot read', async () => {
    const { sql } = db;
    await sql`UPDATE correlator_checkpoints SET state = ${Buffer.from('not a checkpoint')} WHERE resolution_seconds = ${resolutionSeconds}`;
    const warnings: string[] = [];
    const logger = { warn: (_: unknown, message: string) => warnings.push(message), info: () => {} } as unknown as Parameters<typeof resumeCorrelator>[2];
    const resumed = await resumeCorrelator(sql, resolutionSeconds, logger);
    expect(resumed.topology.downstreamOf('planner')).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^correlator checkpoint not resumed \(unreadable: .*\): the dependency graph and error signatures are learned again$/)]);
    // Another resolution has a checkpoint of its own.
    expect((await resumeCorrelator(sql, 5)).topology.downstreamOf('planner')).toEqual([]);
  });
});
