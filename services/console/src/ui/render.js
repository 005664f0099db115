// The console's pure pieces: text, markup and the meaning of events, signals and silences, with no
// DOM and no network, so the page and the tests use the same functions.

export const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
export const pill = (v, text = v) => `<span class="pill ${esc(v)}">${esc(text)}</span>`;
export const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
/** A relative time ("3 min ago") that the page's clock keeps current (`data-ago`). */
export const when = (iso) => (iso ? `<time datetime="${esc(iso)}" data-ago title="${esc(new Date(iso).toLocaleString())}">${esc(ago(iso))}</time>` : '');
export const ago = (iso) => {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleString();
};
/** The points of closed intervals only: the open one holds part of its calls and would read as a dip. */
export const closedOnly = (points, nowMs) => points.filter((p) => Date.parse(p.time) + (p.resolutionSeconds ?? 0) * 1000 <= nowMs);
export const percent = (v) => `${(Number(v) * 100).toFixed(1)} %`;
export const number = (v) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : +v.toPrecision(3)).toString() : esc(v));
export const enc = encodeURIComponent;
export const iso = (ms) => new Date(ms).toISOString();


export const palette = ['#6cb4ff', '#f5b942', '#ff6b6b', '#3ecf8e', '#c792ea'];
export const markColours = { alert: '#c792ea', ack: '#f5b942', action: '#6cb4ff', validated: '#3ecf8e', failed: '#ff6b6b', resolved: '#3ecf8e', onset: '#ff6b6b' };

export function markLegend(lines, marks, band, format = number) {
  const items = [
    ...(band ? [`<li><span class="swatch" style="background:rgba(62,207,142,.35)"></span>normal range ${format(band.from)} – ${format(band.to)}</li>`] : []),
    ...lines.map((l) => `<li><span class="swatch" style="background:${l.colour}"></span>${esc(l.label)} ${format(l.value)}</li>`),
    ...marks.map((m) => `<li><span class="swatch" style="background:${markColours[m.kind] || '#a3acbb'}"></span>${esc(m.label)} ${clock(iso(m.time))}</li>`),
  ];
  return `<ul class="legend-marks">${items.join('')}</ul>`;
}

/** In plain words, one line per event of a timeline. */
export function describe(e) {
  const d = e.data || {};
  switch (e.type) {
    case 'alert.sent':
      return `${d.notice} notice to ${d.receiver}${d.kind ? ` (${d.kind})` : ''}, answered ${d.status}`;
    case 'alert.delivery_failed':
      return `${d.notice} notice to ${d.receiver} failed after ${d.attempts} attempts: ${d.error}`;
    case 'incident.root_cause_ranked':
      return (d.candidates || []).map((c) => `${c.service} (${Number(c.confidence).toFixed(2)})`).join(' > ') + (d.settled ? ', settled' : '');
    case 'incident.acknowledged':
      return `by ${d.by}`;
    case 'remediation.started':
      return `playbook ${d.playbookId ?? ''} on ${d.service ?? ''}${d.targetReason ? `: ${d.targetReason}` : ''}`;
    case 'remediation.approved':
    case 'remediation.rejected':
      return `by ${d.by}${d.reason ? `: ${d.reason}` : ''}`;
    case 'fix.pr_opened':
      return `${d.kind === 'revert' ? 'revert ' : ''}pull request #${d.number} ${d.url ?? ''}: ${d.title ?? ''}`;
    case 'fix.merged':
      return `pull request #${d.number} merged by ${d.by}`;
    default:
      return d.summary || d.detail || d.reason || d.error || d.name || (d.by ? `by ${d.by}` : '');
  }
}

export const asPercent = (v) => `${+(v * 100).toPrecision(3)}%`;

/**
 * How one evidence signal is drawn: its own series with its baseline, threshold and the normal band
 * between them; a burn rate as the error rate it burns, against what the objective allows.
 */
export function plotOf(e) {
  const x = e.explanation || {};
  if (e.signal.startsWith('burn_rate.') && typeof x.baseline === 'number') {
    const lines = [{ value: x.baseline, label: 'objective allows', colour: '#3ecf8e', dash: true }];
    if (typeof x.threshold === 'number') lines.push({ value: x.baseline * x.threshold, label: `pages at ${x.threshold}× burn`, colour: '#ff6b6b', dash: true });
    return { signal: 'error_rate', caption: `drawn for ${e.signal} (${x.detector ?? ''})`, lines, band: { from: 0, to: x.baseline }, format: asPercent };
  }
  const baseline = typeof e.baseline === 'number' ? e.baseline : x.baseline;
  const lines = [
    ...(typeof baseline === 'number' ? [{ value: baseline, label: 'baseline', colour: '#3ecf8e', dash: true }] : []),
    ...(typeof x.threshold === 'number' ? [{ value: x.threshold, label: 'threshold', colour: '#ff6b6b', dash: true }] : []),
  ];
  const band = lines.length === 2 ? { from: Math.min(baseline, x.threshold), to: Math.max(baseline, x.threshold) } : undefined;
  return { signal: e.signal, caption: x.detector ?? '', lines, band, format: /rate|ratio/.test(e.signal) ? asPercent : undefined };
}

/** Which moments of an incident's timeline are drawn on its evidence charts. */
export function marksOf(timeline) {
  const kinds = {
    'alert.sent': (d) => (d.notice === 'firing' ? ['alert', `paged (${d.receiver})`] : undefined),
    'incident.acknowledged': (d) => ['ack', `acknowledged by ${d.by}`],
    'remediation.approved': (d) => ['action', `approved by ${d.by}`],
    'remediation.step_succeeded': (d) => ['action', `${d.name || 'step'} done`],
    'remediation.step_failed': (d) => ['failed', `${d.name || 'step'} failed`],
    'remediation.validated': () => ['validated', 'validated'],
    'remediation.rolled_back': () => ['failed', 'rolled back'],
    'fix.pr_opened': (d) => ['action', `PR #${d.number} opened`],
    'fix.merged': (d) => ['action', `PR #${d.number} merged`],
    'incident.resolved': () => ['resolved', 'resolved'],
  };
  return timeline.flatMap((e) => {
    const mark = kinds[e.type]?.(e.data || {});
    return mark ? [{ time: Date.parse(e.occurredAt), kind: mark[0], label: mark[1] }] : [];
  });
}

/** Whether an active silence matches these labels (Alertmanager's matching: regexes anchored). */
export function silencesMatching(labels, silences) {
  const matches = (m) => {
    const value = labels[m.name] ?? '';
    let hit;
    try {
      hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(value) : value === m.value;
    } catch {
      hit = false;
    }
    return m.isEqual === false ? !hit : hit;
  };
  return silences.filter((s) => s.status.state === 'active' && s.matchers.every(matches));
}

export const severities = ['critical', 'warning', 'info'];

/**
 * A service graph: services in columns by call depth (callers left), edges with calls and error rate;
 * `nodeOf(name)` gives each node's tone (its colour) and the words that say the same.
 */
export function serviceMap(names, edges, nodeOf, { id = 'map', label = 'Service map' } = {}) {
  if (names.length === 0) return '<p class="dim">No services seen yet.</p>';
  const depth = new Map(names.map((n) => [n, 0]));
  // Longest path from a caller, bounded so a cycle cannot loop forever.
  for (let pass = 0; pass < names.length; pass++) {
    for (const e of edges) if (e.caller !== e.callee && depth.get(e.callee) < depth.get(e.caller) + 1 && depth.get(e.caller) < names.length) depth.set(e.callee, depth.get(e.caller) + 1);
  }
  const columns = [];
  for (const n of names) (columns[depth.get(n)] ||= []).push(n);
  const boxW = 170, boxH = 46, gapX = 150, gapY = 34;
  const position = new Map();
  columns.forEach((column, x) => column.forEach((n, y) => position.set(n, { x: 20 + x * (boxW + gapX), y: 20 + y * (boxH + gapY) })));
  const width = 40 + columns.length * (boxW + gapX) - gapX;
  const height = 40 + Math.max(...columns.map((c) => c.length)) * (boxH + gapY) - gapY;
  const colours = { critical: '#ff6b6b', warning: '#f5b942', ok: '#3ecf8e', info: '#6cb4ff' };
  const lines = edges.map((e) => {
    const a = position.get(e.caller);
    const b = position.get(e.callee);
    if (!a || !b) return '';
    const x1 = a.x + boxW, y1 = a.y + boxH / 2, x2 = b.x, y2 = b.y + boxH / 2;
    const bad = e.errorRate > 0.05;
    return `<g><line x1="${x1}" y1="${y1}" x2="${x2 - 4}" y2="${y2}" stroke="${bad ? '#ff6b6b' : '#6c7689'}" stroke-width="${1 + Math.min(4, Math.log10(e.calls + 1))}" marker-end="url(#${id}-arrow)"/>
      <text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 9}" text-anchor="middle" font-size="11" fill="${bad ? '#ff6b6b' : '#a3acbb'}">${e.calls} calls · ${percent(e.errorRate)}</text></g>`;
  });
  const nodes = names.map((n) => {
    const { x, y } = position.get(n);
    const { tone, text } = nodeOf(n);
    return `<a href="#/services/${enc(n)}" aria-label="${esc(n)}: ${esc(text)}"><rect x="${x}" y="${y}" width="${boxW}" height="${boxH}" rx="8" fill="#171a21" stroke="${colours[tone]}" stroke-width="2"/>
      <text x="${x + 12}" y="${y + 19}" font-size="13" font-weight="600">${esc(n.length > 22 ? `${n.slice(0, 21)}…` : n)}</text>
      <text x="${x + 12}" y="${y + 36}" font-size="11" fill="${colours[tone]}" style="fill:${colours[tone]}">${esc(text)}</text></a>`;
  });
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" role="group" aria-label="${esc(label)}: ${names.length} services, ${edges.length} dependencies">
    <defs><marker id="${id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6c7689"/></marker></defs>
    ${lines.join('')}${nodes.join('')}</svg>
    ${edges.length ? '' : '<p class="dim">No calls between services seen yet (edges come from spans whose parent is in another service).</p>'}`;
}

/** A duration in words a waterfall can fit: 850 µs, 12.5 ms, 1.24 s. */
export const millis = (ms) => (ms < 1 ? `${Math.round(ms * 1000)} µs` : ms < 1000 ? `${+ms.toPrecision(3)} ms` : `${+(ms / 1000).toPrecision(3)} s`);

/**
 * A trace's spans in waterfall order: each parent followed by its children, by start time, with its
 * depth. A span whose parent the trace lacks (not sampled, or still on its way) starts a tree of its own.
 */
export function spanTree(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map();
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : '';
    children.set(parent, [...(children.get(parent) || []), s]);
  }
  const out = [];
  const seen = new Set();
  const visit = (parent, depth) => {
    for (const s of (children.get(parent) || []).sort((a, b) => a.startTimeMs - b.startTimeMs)) {
      if (seen.has(s.spanId)) continue;
      seen.add(s.spanId);
      out.push({ ...s, depth });
      visit(s.spanId, depth + 1);
    }
  };
  visit('', 0);
  return out;
}

const traceReasons = { failing: 'Failing trace', slow: 'Slow trace', normal: 'Normal trace, for comparison' };

/**
 * An exemplar trace as a waterfall: one row per span (indented under its parent, its bar on the trace's
 * time axis, red when it failed, its service and duration in words); each row opens to its attributes.
 */
export function waterfall(trace, { open = false } = {}) {
  const total = Math.max(trace.durationMs, 0.001);
  const rows = spanTree(trace.spans);
  const services = [...new Set(rows.map((s) => s.service))];
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span style="left:${f * 100}%">${esc(millis(f * trace.durationMs))}</span>`).join('');
  const row = (s) => {
    const offset = s.startTimeMs - trace.startTimeMs;
    const failed = s.status === 'error';
    const attributes = Object.entries(s.attributes || {});
    return `<li class="${failed ? 'span span-error' : 'span'}"><details><summary>
        <span class="span-name" style="padding-left:${Math.min(s.depth, 12) * 0.9}rem">${esc(s.name)}</span>
        <span class="span-service">${esc(s.service)}</span>
        <span class="span-track" aria-hidden="true"><span class="span-bar" style="left:${((offset / total) * 100).toFixed(2)}%;width:${Math.max(0.4, (s.durationMs / total) * 100).toFixed(2)}%"></span></span>
        <span class="span-time"><span class="sr-only">starts at +${esc(millis(offset))}, lasts </span>${esc(millis(s.durationMs))}${failed ? ` ${pill('failed', 'error')}` : ''}</span>
      </summary>
      <dl class="span-attributes"><dt>span</dt><dd class="mono">${esc(s.spanId)} (${esc(s.kind)})${s.parentSpanId ? `, child of ${esc(s.parentSpanId)}` : ''}</dd>
        <dt>starts</dt><dd>+${esc(millis(offset))}</dd>
        ${s.statusMessage ? `<dt>status</dt><dd>${esc(s.status)}: ${esc(s.statusMessage)}</dd>` : ''}
        ${attributes.map(([k, v]) => `<dt class="mono">${esc(k)}</dt><dd class="mono">${esc(v)}</dd>`).join('')}</dl></details></li>`;
  };
  return `<details class="trace"${open ? ' open' : ''}><summary>${pill(trace.reason === 'failing' ? 'failed' : trace.reason === 'slow' ? 'warning' : 'ok', trace.reason)} ${esc(traceReasons[trace.reason] || 'Trace')} <span class="mono">${esc(trace.traceId)}</span>
      · ${esc(millis(trace.durationMs))} · ${rows.length} spans · ${services.map(esc).join(', ')}</summary>
    <div class="waterfall-axis" aria-hidden="true"><span></span><span></span><span class="ticks">${ticks}</span><span></span></div>
    <ol class="waterfall" aria-label="Spans of trace ${esc(trace.traceId.slice(0, 8))}, parents before their children">${rows.map(row).join('')}</ol></details>`;
}

/** Bytes in words: 512 kB, 734 MB, 1.07 GB. */
export const bytes = (v) => (Math.abs(v) >= 1e9 ? `${+(v / 1e9).toPrecision(3)} GB` : Math.abs(v) >= 1e6 ? `${+(v / 1e6).toPrecision(3)} MB` : `${+(v / 1e3).toPrecision(3)} kB`);

/** How a gauge's values read: memory and sizes in bytes, the rest as numbers. */
export const gaugeFormat = (signal) => (/memory|bytes/.test(signal) ? bytes : number);

/**
 * A forecast as the columns uPlot draws: x (seconds), the points, the line ahead, the band's upper and
 * lower edges; the line starts at the last point so the two join.
 */
export function forecastColumns(f) {
  const times = [...new Set([...f.points.map((p) => Date.parse(p.time)), ...f.forecast.map((p) => Date.parse(p.time))])].sort((a, b) => a - b);
  const actual = new Map(f.points.map((p) => [Date.parse(p.time), p.value]));
  const ahead = new Map(f.forecast.map((p) => [Date.parse(p.time), p]));
  return [
    times.map((t) => t / 1000),
    times.map((t) => actual.get(t) ?? null),
    times.map((t) => ahead.get(t)?.value ?? null),
    times.map((t) => ahead.get(t)?.upper ?? null),
    times.map((t) => ahead.get(t)?.lower ?? null),
  ];
}
