// An incident's exemplar traces on real PostgreSQL: stored span by span and read back as traces, at most
// `maxTracesPerIncident` per incident however many signals join it, nothing stored twice, and pruned.
import { describe, expect, it } from 'vitest';
import { readIncidentTraces } from '@hephaestus/aggregates';
import { useFreshDatabase } from '@hephaestus/platform/testing';
import type { Exemplar } from '../domain/correlation/exemplars.ts';
import { sid, span } from '../domain/correlation/test-spans.ts';
import { maxTracesPerIncident, pruneIncidentTraces, storeIncidentTraces } from './incident-traces.ts';

const trace = (n: number) => n.toString(16).padStart(32, '0');

/** A two-span trace: web's request (`durationMs`) and its call to db, which fails when `failing`. */
const exemplar = (n: number, reason: Exemplar['reason'], durationMs = 40): Exemplar => ({
  traceId: trace(n),
  reason,
  spans: [
    span({ service: 'db', traceId: trace(n), spanId: sid(n * 10 + 1), parentSpanId: sid(n * 10), kind: 'server', startTimeMs: 1_011, durationMs: 20, status: reason === 'failing' ? 'error' : 'unset', statusMessage: reason === 'failing' ? 'deadlock\u0000' : undefined }),
    span({ service: 'web', traceId: trace(n), spanId: sid(n * 10), kind: 'server', startTimeMs: 1_000, durationMs, attributes: { 'http.route': '/work', 'gen_ai.prompt': 'kept out' } }),
  ],
});

describe('incident traces', () => {
  const db = useFreshDatabase();

  it('stores exemplars span by span and reads them back as traces, failing first, then the slowest', async () => {
    expect(await storeIncidentTraces(db.sql, 'inc-1', [exemplar(1, 'normal'), exemplar(2, 'slow', 90), exemplar(3, 'failing')], 5_000)).toBe(3);
    const traces = await readIncidentTraces(db.sql, 'inc-1');
    expect(traces.map((t) => [t.traceId, t.reason, t.durationMs])).toEqual([[trace(3), 'failing', 40], [trace(2), 'slow', 90], [trace(1), 'normal', 40]]);
    expect(traces[0]!.startTimeMs).toBe(1_000);
    expect(traces[0]!.spans).toEqual([
      { traceId: trace(3), spanId: sid(30), service: 'web', name: 'server web', kind: 'server', startTimeMs: 1_000, durationMs: 40, status: 'unset', attributes: { 'http.route': '/work' } },
      { traceId: trace(3), spanId: sid(31), parentSpanId: sid(30), service: 'db', name: 'server db', kind: 'server', startTimeMs: 1_011, durationMs: 20, status: 'error', statusMessage: 'deadlock\uFFFD', attributes: {} },
    ]);
    expect(await readIncidentTraces(db.sql, 'nothing')).toEqual([]);
  });

  it(`keeps at most ${maxTracesPerIncident} traces per incident and stores none twice`, async () => {
    const all = Array.from({ length: 12 }, (_, n) => exemplar(100 + n, 'slow'));
    expect(await storeIncidentTraces(db.sql, 'inc-2', all.slice(0, 3), 5_000)).toBe(3);
    // A replay of the same signal, then a signal with more traces joining: only the new ones, up to the bound.
    expect(await storeIncidentTraces(db.sql, 'inc-2', all.slice(0, 3), 5_000)).toBe(0);
    expect(await storeIncidentTraces(db.sql, 'inc-2', all, 6_000)).toBe(maxTracesPerIncident - 3);
    expect(await readIncidentTraces(db.sql, 'inc-2')).toHaveLength(maxTracesPerIncident);
  });

  it('prunes the traces stored before a moment', async () => {
    await pruneIncidentTraces(db.sql, 5_500);
    expect(await readIncidentTraces(db.sql, 'inc-1')).toEqual([]);
    expect(await readIncidentTraces(db.sql, 'inc-2')).toHaveLength(maxTracesPerIncident - 3);
  });
});
