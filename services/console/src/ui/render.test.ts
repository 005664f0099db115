// The console page's pure pieces, loaded as the browser loads them (a plain ES module, no build step):
// escaping, which silences mute an incident, how evidence is drawn, which moments are marked, the map.
import { describe, expect, it } from 'vitest';

// A module URL the compiler does not resolve: the page's script is JavaScript without declarations.
const render: Record<string, (...args: any[]) => any> = await import(new URL('./render.js', import.meta.url).href);

const silence = (matchers: Array<{ name: string; value: string; isRegex?: boolean; isEqual?: boolean }>, state = 'active') => ({
  id: '5f2a0c1e-0000-4000-8000-000000000000',
  status: { state },
  matchers: matchers.map((m) => ({ isRegex: false, isEqual: true, ...m })),
});

describe('console page pieces', () => {
  it('escapes what it puts in markup', () => {
    expect(render.esc!('<img src=x onerror="alert(1)">&\'')).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;');
    expect(render.pill!('critical" onclick="x')).not.toContain('" onclick="');
  });

  it('says which active silences mute an incident, with matchers as Alertmanager reads them', () => {
    const labels = { service: 'checkout', severity: 'critical', alertname: 'ErrorBudgetBurn' };
    const ids = (silences: unknown[]) => render.silencesMatching!(labels, silences).length;
    expect(ids([silence([{ name: 'service', value: 'checkout' }])])).toBe(1);
    expect(ids([silence([{ name: 'service', value: 'checkout' }, { name: 'severity', value: 'warning' }])])).toBe(0);
    // Regexes are anchored: "check" is not "checkout".
    expect(ids([silence([{ name: 'service', value: 'check', isRegex: true }])])).toBe(0);
    expect(ids([silence([{ name: 'service', value: 'check.*', isRegex: true }])])).toBe(1);
    expect(ids([silence([{ name: 'service', value: 'payments', isEqual: false }])])).toBe(1);
    // A label the incident lacks is the empty string.
    expect(ids([silence([{ name: 'team', value: '', isEqual: true }])])).toBe(1);
    expect(ids([silence([{ name: 'service', value: 'checkout' }], 'expired')])).toBe(0);
    expect(ids([silence([{ name: 'service', value: '(', isRegex: true }])])).toBe(0);
  });

  it("draws a signal against its baseline and threshold, and a burn rate as the error rate it burns", () => {
    const errorRate = render.plotOf!({ signal: 'error_rate', baseline: 0.01, explanation: { detector: 'binomial error-rate test', baseline: 0.01, threshold: 0.11 } });
    expect(errorRate).toMatchObject({ signal: 'error_rate', band: { from: 0.01, to: 0.11 }, lines: [{ value: 0.01, label: 'baseline' }, { value: 0.11, label: 'threshold' }] });
    expect(errorRate.format(0.115)).toBe('11.5%');
    const burn = render.plotOf!({ signal: 'burn_rate.availability', baseline: 1, explanation: { detector: 'burn_rate.fast', baseline: 0.01, threshold: 14.4 } });
    expect(burn).toMatchObject({ signal: 'error_rate', band: { from: 0, to: 0.01 }, lines: [{ value: 0.01, label: 'objective allows' }, { label: 'pages at 14.4× burn' }] });
    expect(burn.lines[1].value).toBeCloseTo(0.144);
    // A gauge judged without a threshold: its baseline alone, no band, no percentages.
    expect(render.plotOf!({ signal: 'queue.depth', baseline: 100, explanation: { detector: 'ewma' } })).toMatchObject({ signal: 'queue.depth', band: undefined, format: undefined, lines: [{ value: 100 }] });
  });

  it('marks the page, the acknowledgement, each action, the validation and the resolution on the charts', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const marks = render.marksOf!([
      { type: 'incident.opened', occurredAt: at(0), data: {} },
      { type: 'alert.sent', occurredAt: at(2), data: { notice: 'firing', receiver: 'webhook' } },
      { type: 'incident.acknowledged', occurredAt: at(3), data: { by: 'alice' } },
      { type: 'remediation.approved', occurredAt: at(4), data: { by: 'alice' } },
      { type: 'remediation.step_succeeded', occurredAt: at(5), data: { name: 'restart the agent' } },
      { type: 'remediation.validated', occurredAt: at(30), data: {} },
      { type: 'incident.resolved', occurredAt: at(40), data: {} },
      { type: 'alert.sent', occurredAt: at(41), data: { notice: 'resolved', receiver: 'webhook' } },
    ]);
    expect(marks.map((m: { kind: string; label: string }) => [m.kind, m.label])).toEqual([
      ['alert', 'paged (webhook)'],
      ['ack', 'acknowledged by alice'],
      ['action', 'approved by alice'],
      ['action', 'restart the agent done'],
      ['validated', 'validated'],
      ['resolved', 'resolved'],
    ]);
  });

  it('draws closed intervals only: the open one holds part of its calls', () => {
    const nowMs = Date.UTC(2026, 0, 1, 0, 1, 5);
    const points = [0, 10, 20].map((s) => ({ time: new Date(Date.UTC(2026, 0, 1, 0, 0, 45 + s)).toISOString(), resolutionSeconds: 10, value: s }));
    expect(render.closedOnly!(points, nowMs).map((p: { value: number }) => p.value)).toEqual([0, 10]);
  });

  it('lays the map out callers first, labels each edge, and survives a cycle', () => {
    const edges = [
      { caller: 'planner', callee: 'researcher', calls: 120, errorRate: 0.25 },
      { caller: 'researcher', callee: 'coder', calls: 80, errorRate: 0 },
      { caller: 'coder', callee: 'planner', calls: 3, errorRate: 0 },
    ];
    const svg: string = render.serviceMap!(['coder', 'planner', 'researcher', '<x>'], edges.slice(0, 2), () => ({ tone: 'ok', text: 'healthy' }));
    const x = (name: string) => Number(new RegExp(`aria-label="${name}: healthy"><rect x="(\\d+)"`).exec(svg)?.[1]);
    expect(x('planner')).toBeLessThan(x('researcher'));
    expect(x('researcher')).toBeLessThan(x('coder'));
    expect(svg).toContain('120 calls · 25.0 %');
    expect(svg).toContain('&lt;x&gt;');
    expect(svg).not.toContain('<x>');
    expect(svg).toContain('aria-label="Service map: 4 services, 2 dependencies"');
    expect(render.serviceMap!(['coder', 'planner', 'researcher'], edges, () => ({ tone: 'ok', text: 'healthy' }))).toContain('3 dependencies');
  });

  it('orders a trace as a waterfall: parents before their children by start time, a span without its parent a root', () => {
    const span = (spanId: string, parentSpanId: string | undefined, startTimeMs: number) => ({ spanId, parentSpanId, startTimeMs, durationMs: 1, service: 's', name: spanId, status: 'unset', attributes: {} });
    const rows = render.spanTree!([span('c2', 'root', 30), span('root', undefined, 0), span('g1', 'c1', 12), span('c1', 'root', 10), span('orphan', 'gone', 5)]);
    expect(rows.map((r: { spanId: string; depth: number }) => `${r.spanId}@${r.depth}`)).toEqual(['root@0', 'c1@1', 'g1@2', 'c2@1', 'orphan@0']);
  });

  it('draws a waterfall: bars on the trace time axis, failed spans in red and said in words, names escaped', () => {
    const trace = {
      traceId: '5b8efff798038103d269b633813fc60c', reason: 'failing', startTimeMs: 1000, durationMs: 200,
      spans: [
        { spanId: 'a', startTimeMs: 1000, durationMs: 200, service: 'web', name: 'GET /pay', kind: 'server', status: 'unset', attributes: { 'http.route': '/pay' } },
        { spanId: 'b', parentSpanId: 'a', startTimeMs: 1050, durationMs: 100, service: 'db', name: '<script>', kind: 'client', status: 'error', statusMessage: 'deadlock', attributes: {} },
      ],
    };
    const html: string = render.waterfall!(trace, { open: true });
    expect(html).toContain('Failing trace');
    expect(html).toContain('200 ms · 2 spans · web, db');
    expect(html).toContain('left:25.00%;width:50.00%');
    expect(html).toMatch(/<li class="span span-error">[\s\S]*&lt;script&gt;[\s\S]*starts at \+50 ms, lasts <\/span>100 ms/);
    expect(html).toContain('deadlock');
    expect(html).not.toContain('<script>');
    expect(render.millis!(0.25)).toBe('250 µs');
    expect(render.millis!(1234)).toBe('1.23 s');
  });

  it('lays a forecast out for uPlot: the points, then the line and its band from the last point on', () => {
    const t = (s: number) => new Date(s * 1000).toISOString();
    const columns = render.forecastColumns!({
      points: [{ time: t(0), value: 1 }, { time: t(10), value: 2 }],
      forecast: [{ time: t(10), value: 2, lower: 1.5, upper: 2.5 }, { time: t(20), value: 3, lower: 2, upper: 4 }],
    });
    expect(columns).toEqual([[0, 10, 20], [1, 2, null], [null, 2, 3], [null, 2.5, 4], [null, 1.5, 2]]);
    expect(render.gaugeFormat!('process.memory.usage')(1_073_741_824)).toBe('1.07 GB');
    expect(render.gaugeFormat!('queue.depth')(12)).toBe('12');
  });
});
