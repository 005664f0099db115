// The on-call console's script: a hash router over views of the console API, kept current by the
// event stream (Server-Sent Events from the event store) instead of a refresh timer; charts by uPlot.
import { closedOnly, esc, pill, clock, when, ago, percent, number, enc, iso, palette, markColours, markLegend, describe, asPercent, plotOf, marksOf, silencesMatching, severities, serviceMap, waterfall, forecastColumns, gaugeFormat } from './render.js';

const main = document.getElementById('view');
/** The current view's root: a fresh element per view, so a view's listeners and late answers die with it. */
let view = main;
const liveBadge = document.getElementById('live');
const who = document.getElementById('who');

who.value = localStorage.getItem('heph.user') || 'on-call';
who.addEventListener('change', () => localStorage.setItem('heph.user', who.value.trim() || 'on-call'));
const actor = () => who.value.trim() || 'on-call';

// ---- The API: a bearer token when the console has HEPH_CONSOLE_TOKENS, asked for on a 401.

class NeedsToken extends Error {}
const authHeaders = () => {
  const token = localStorage.getItem('heph.token');
  return token ? { authorization: `Bearer ${token}` } : {};
};
async function api(path, init = {}) {
  const headers = { ...(init.body ? { 'content-type': 'application/json' } : {}), ...authHeaders() };
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) throw new NeedsToken('this console needs an API token');
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || body.message || `${response.status} ${response.statusText}`);
  return body;
}
const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body) });

function askForToken() {
  view.innerHTML = `<h1 tabindex="-1">API token needed</h1>
    <p>This console's API is protected (<span class="mono">HEPH_CONSOLE_TOKENS</span>). The token stays in this browser.</p>
    <form id="token-form" class="stack"><label>API token <input type="password" name="token" required autocomplete="current-password"></label>
    <div><button class="primary">Save</button></div></form>`;
  view.querySelector('#token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    localStorage.setItem('heph.token', new FormData(event.target).get('token'));
    connectLive();
    render();
  });
  view.querySelector('input').focus();
}

// ---- Live: Server-Sent Events read with fetch (EventSource cannot send the bearer token).

let liveAbort;
async function connectLive() {
  liveAbort?.abort();
  const abort = (liveAbort = new AbortController());
  let backoffMs = 500;
  while (!abort.signal.aborted) {
    try {
      const response = await fetch('/api/events/stream', { headers: authHeaders(), signal: abort.signal });
      if (response.status === 401) return setLive(false, 'live updates need a token');
      if (!response.ok || !response.body) throw new Error(`${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (type === 'ready') {
            backoffMs = 500;
            setLive(true);
            // Whatever happened while disconnected: read the view again.
            current?.refresh();
          }
          if (type === 'event' && data) current?.onEvent?.(JSON.parse(data));
        }
      }
    } catch (error) {
      if (abort.signal.aborted) return;
    }
    setLive(false, 'reconnecting…');
    // A pause before reconnecting, growing while the console is away (not a refresh timer).
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
    backoffMs = Math.min(backoffMs * 2, 10_000);
  }
}
function setLive(on, text) {
  liveBadge.textContent = on ? 'live' : text;
  liveBadge.classList.toggle('on', on);
  document.documentElement.dataset.live = String(on);
}

/**
 * Redraws `container` (a live update replaces its rows) and gives the focus back to the link the user was
 * on, found again by its address: a keyboard user on a row keeps their place while the list refreshes.
 */
const redrawKeepingFocus = (container, html) => {
  const focused = container.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
  container.innerHTML = html;
  if (focused) [...container.querySelectorAll('a[href]')].find((a) => a.getAttribute('href') === focused)?.focus();
};

/** Runs `fn` once after a burst of calls settles, so ten events make one reload. */
const debounce = (fn, ms = 150) => {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
};

// ---- Charts (uPlot)

const axis = (label, format) => ({
  label,
  stroke: '#a3acbb',
  grid: { stroke: '#2a2f3a', width: 1 },
  ticks: { stroke: '#2a2f3a', width: 1 },
  ...(format ? { values: (_u, values) => values.map(format) } : {}),
});

/**
 * A time chart in `container`: `series` [{ label, points: [{time, value}] }], optional horizontal
 * `lines` [{ value, label, colour, dash }] and a `band` {from, to} (the baseline's normal range),
 * vertical `marks` [{ time, label, kind }], a fixed x range; and a text alternative for screen readers.
 */
function timeChart(container, { title, series, lines = [], band, marks = [], fromMs, toMs, format, unit = '' }) {
  series = series.map((s) => ({ ...s, points: closedOnly(s.points, Date.now()) }));
  container.replaceChildren();
  container.setAttribute('role', 'img');
  const last = series.map((s) => `${s.label} ${s.points.length ? `${number(s.points.at(-1).value)}${unit}` : 'no data'}`).join(', ');
  container.setAttribute('aria-label', `${title}: ${last}${lines.map((l) => `; ${l.label} ${number(l.value)}${unit}`).join('')}${marks.map((m) => `; ${m.label} at ${clock(iso(m.time))}`).join('')}`);
  if (!window.uPlot) {
    container.textContent = 'The chart library did not load.';
    return;
  }
  if (series.every((s) => s.points.length === 0)) {
    container.innerHTML = `<p class="dim">No data for ${esc(title)} in this window.</p>`;
    return;
  }
  const tables = series.map((s) => [s.points.map((p) => Date.parse(p.time) / 1000), s.points.map((p) => p.value)]);
  const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
  const draw = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    if (band) {
      const top = u.valToPos(band.to, 'y', true);
      const bottom = u.valToPos(band.from, 'y', true);
      ctx.fillStyle = 'rgba(62, 207, 142, 0.10)';
      ctx.fillRect(bbox.left, Math.min(top, bottom), bbox.width, Math.abs(bottom - top));
    }
    for (const line of lines) {
      const y = u.valToPos(line.value, 'y', true);
      ctx.strokeStyle = line.colour;
      ctx.setLineDash(line.dash ? [6, 4] : []);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
    }
    for (const mark of marks) {
      const x = u.valToPos(mark.time / 1000, 'x', true);
      ctx.strokeStyle = markColours[mark.kind] || '#a3acbb';
      ctx.setLineDash(mark.kind === 'onset' ? [3, 3] : []);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  };
  const values = data.slice(1).flat().filter((v) => v !== null && v !== undefined);
  const extremes = [...values, ...lines.map((l) => l.value), ...(band ? [band.from, band.to] : [])];
  const yMax = Math.max(...extremes, 0);
  const yMin = Math.min(...extremes, 0);
  const width = Math.max(container.clientWidth || 600, 280);
  new uPlot(
    {
      width,
      height: 200,
      scales: {
        x: { time: true, ...(fromMs !== undefined ? { range: () => [fromMs / 1000, toMs / 1000] } : {}) },
        y: { range: () => [yMin, yMax === yMin ? yMin + 1 : yMax + (yMax - yMin) * 0.08] },
      },
      axes: [axis(), axis(undefined, format)],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: s.colour || palette[i % palette.length], width: 1.8, spanGaps: false, value: (_u, v) => (v === null || v === undefined ? '–' : `${format ? format(v) : number(v)}${unit}`) }))],
      hooks: { draw: [draw] },
      legend: { live: true },
    },
    data,
    container,
  );
}

/**
 * A gauge's forecast: its points, the line ahead with its prediction band (a uPlot band between the
 * upper and lower edges), the limit and now; the same in words for screen readers.
 */
function forecastChart(container, f) {
  const format = gaugeFormat(f.signal);
  container.replaceChildren();
  container.setAttribute('role', 'img');
  const last = f.points.at(-1);
  const end = f.forecast.at(-1);
  const reach = f.reachesLimitAt ? `reaches the limit at ${clock(f.reachesLimitAt)}` : 'does not reach the limit within the forecast';
  container.setAttribute(
    'aria-label',
    end
      ? `${f.signal}: ${format(last.value)} now, limit ${format(f.limit)}; forecast ${format(end.value)} at ${clock(end.time)}, ${Math.round(f.confidence * 100)} % prediction band ${format(end.lower)} to ${format(end.upper)}; ${reach}`
      : `${f.signal}: ${format(last.value)} now, limit ${format(f.limit)}; too few points to forecast yet`,
  );
  if (!window.uPlot) {
    container.textContent = 'The chart library did not load.';
    return;
  }
  if (!end) {
    container.innerHTML = `<p class="dim">Too few points of ${esc(f.signal)} to forecast yet.</p>`;
    return;
  }
  const data = forecastColumns(f);
  const values = data.slice(1).flat().filter((v) => v !== null);
  // The limit is drawn when the band comes within reach of it; a limit far above would flatten the course.
  const showLimit = Math.max(...values) >= f.limit * 0.5;
  const yMax = Math.max(...values, showLimit ? f.limit : -Infinity);
  const yMin = Math.min(...values);
  const pad = (yMax - yMin) * 0.08 || 1;
  const nowMs = Date.parse(last.time);
  const draw = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.lineWidth = 1.5;
    if (showLimit) {
      const y = u.valToPos(f.limit, 'y', true);
      ctx.strokeStyle = '#ff6b6b';
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
    }
    const x = u.valToPos(nowMs / 1000, 'x', true);
    ctx.strokeStyle = '#a3acbb';
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.restore();
  };
  const value = (_u, v) => (v === null || v === undefined ? '–' : format(v));
  const edge = { stroke: 'rgba(199, 146, 234, 0.55)', width: 1, points: { show: false }, value };
  new uPlot(
    {
      width: Math.max(container.clientWidth || 600, 280),
      height: 220,
      scales: { x: { time: true }, y: { range: () => [Math.max(0, yMin - pad), yMax + pad] } },
      // Room for the widest label ("1.07 GB").
      axes: [axis(), { ...axis(undefined, format), size: 76 }],
      series: [
        {},
        { label: f.signal, stroke: '#6cb4ff', width: 1.8, spanGaps: false, value },
        { label: 'forecast', stroke: '#c792ea', width: 1.8, dash: [6, 4], points: { show: false }, value },
        { label: `upper (${Math.round(f.confidence * 100)} %)`, ...edge },
        { label: `lower (${Math.round(f.confidence * 100)} %)`, ...edge },
      ],
      bands: [{ series: [3, 4], fill: 'rgba(199, 146, 234, 0.18)' }],
      hooks: { draw: [draw] },
      legend: { live: true },
    },
    data,
    container,
  );
}

// ---- Views. Each mounts into `view` and returns { refresh, onEvent? }.

const pages = {
  incidents(view, _id, query) {
    const filters = { status: query.get('status') || 'open', severity: query.get('severity') || '', service: query.get('service') || '', q: query.get('q') || '' };
    view.innerHTML = `<h1 tabindex="-1">Incidents</h1>
      <form class="filters" role="search" aria-label="Filter incidents" id="filters">
        <label>Status <select name="status">${['open', 'resolved', 'all'].map((s) => `<option ${s === filters.status ? 'selected' : ''}>${s}</option>`).join('')}</select></label>
        <label>Severity <select name="severity"><option value="">any</option>${severities.map((s) => `<option ${s === filters.severity ? 'selected' : ''}>${s}</option>`).join('')}</select></label>
        <label>Service <select name="service"><option value="">any</option></select></label>
        <label>Search <input type="search" name="q" value="${esc(filters.q)}" placeholder="summary, service, signal, id" aria-keyshortcuts="/"></label>
      </form>
      <p class="dim" id="count" role="status" aria-live="polite"></p>
      <table><caption class="sr-only">Incidents, newest first</caption>
        <thead><tr><th scope="col">Severity</th><th scope="col">Service</th><th scope="col">Signal</th><th scope="col">Summary</th><th scope="col">Status</th><th scope="col">Opened</th></tr></thead>
        <tbody id="rows"></tbody></table>`;
    const form = view.querySelector('#filters');
    let incidents = [];
    /** Incidents whose remediation waits for a human: the list says so, it is the on-call's move. */
    let awaiting = new Set();
    const show = () => {
      const q = filters.q.toLowerCase();
      const shown = incidents.filter(
        (i) => (!filters.severity || i.severity === filters.severity) && (!filters.service || i.service === filters.service) && (!q || [i.summary, i.service, i.signal, i.id].some((t) => String(t).toLowerCase().includes(q))),
      );
      const services = [...new Set(incidents.map((i) => i.service).concat(filters.service ? [filters.service] : []))].sort();
      form.service.innerHTML = `<option value="">any</option>${services.map((s) => `<option ${s === filters.service ? 'selected' : ''}>${esc(s)}</option>`).join('')}`;
      view.querySelector('#count').textContent = `${shown.length} of ${incidents.length} ${filters.status === 'all' ? '' : filters.status} incidents`;
      redrawKeepingFocus(
        view.querySelector('#rows'),
        shown
          .map(
            (i) => `<tr data-incident="${esc(i.id)}"><td>${pill(i.severity)}</td><td>${esc(i.service)}</td><td class="mono">${esc(i.signal)}</td>
        <td><a href="#/incidents/${enc(i.id)}">${esc(i.summary)}</a></td>
        <td>${pill(i.status)}${i.acknowledgedBy ? ` ${pill('acknowledged', `acked by ${i.acknowledgedBy}`)}` : ''}${i.mitigatedAt && i.status === 'open' ? ` ${pill('mitigated')}` : ''}${awaiting.has(i.id) ? ` ${pill('awaiting_approval', 'needs approval')}` : ''}</td><td>${when(i.openedAt)}</td></tr>`,
          )
          .join('') || `<tr><td colspan="6" class="dim">${incidents.length ? 'No incident matches these filters.' : filters.status === 'open' ? 'No open incidents. All quiet.' : 'No incidents.'}</td></tr>`,
      );
    };
    const refresh = async () => {
      const [list, waiting] = await Promise.all([
        api(`/api/incidents${filters.status === 'all' ? '' : `?status=${filters.status}`}`),
        api('/api/remediations?status=awaiting_approval'),
      ]);
      incidents = list.incidents;
      awaiting = new Set(waiting.remediations.map((r) => r.incidentId));
      show();
    };
    form.addEventListener('input', (event) => {
      filters[event.target.name] = event.target.value;
      // The filters live in the address, so a filtered list can be shared or bookmarked.
      const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
      history.replaceState(null, '', `#/incidents?${params}`);
      if (event.target.name === 'status') refresh().catch(showError);
      else show();
    });
    form.addEventListener('submit', (event) => event.preventDefault());
    const later = debounce(() => refresh().catch(showError));
    return { refresh, onEvent: (e) => /^(incident|alert|remediation)\./.test(e.type) && later() };
  },

  'incidents/:id'(view, id) {
    view.innerHTML = `<div id="head"></div>
      <p class="notice" id="notice" role="status" aria-live="polite"></p>
      <section class="card" aria-labelledby="rem-title"><h2 id="rem-title">Remediation</h2><div id="remediation"></div></section>
      <section class="card" aria-labelledby="ev-title"><h2 id="ev-title">Evidence around the onset</h2><div id="charts"></div></section>
      <section class="card" aria-labelledby="tr-title"><h2 id="tr-title">Exemplar traces</h2><div id="traces"></div></section>
      <div class="row">
        <section class="card map" aria-labelledby="rc-title"><h2 id="rc-title">Root-cause candidates</h2><div id="candidates"></div><div id="involved"></div></section>
        <section class="card" aria-labelledby="sig-title"><h2 id="sig-title">Signals</h2><div id="signals"></div></section>
      </div>
      <section class="card" aria-labelledby="tl-title"><h2 id="tl-title">Timeline</h2><ol class="timeline" id="timeline"></ol></section>
      <section class="card" aria-labelledby="si-title"><h2 id="si-title">Silence</h2><div id="muted"></div>
        <details id="silence"><summary>Silence notifications like this one…</summary><div id="silence-form"></div></details></section>`;
    const notice = view.querySelector('#notice');
    const say = (text, isError = false) => {
      notice.textContent = text;
      notice.classList.toggle('error', isError);
    };
    let incident;
    let remediation;
    let silenceFormFor = '';
    const act = async (label, request) => {
      try {
        say(`${label}…`);
        const message = await request();
        say(typeof message === 'string' ? message : `${label}: done.`);
      } catch (error) {
        if (error instanceof NeedsToken) return askForToken();
        say(`${label} failed: ${error.message}`, true);
      }
      await refresh().catch(showError);
    };

    const renderHead = (i) => {
      const acked = i.acknowledgedBy ? ` · acknowledged by ${esc(i.acknowledgedBy)} ${when(i.acknowledgedAt)}` : '';
      view.querySelector('#head').innerHTML = `<h1 tabindex="-1">${pill(i.severity)} ${esc(i.summary)}</h1>
        <p class="dim"><a href="#/services/${enc(i.service)}">${esc(i.service)}</a> · <span class="mono">${esc(i.signal)}</span> · ${pill(i.status)}
          · opened ${clock(i.openedAt)}${acked}${i.mitigatedAt ? ` · mitigated ${clock(i.mitigatedAt)}` : ''}${i.resolvedAt ? ` · resolved ${clock(i.resolvedAt)}` : ''}</p>
        ${i.pagedBecause ? `<p>Paged because: ${esc(i.pagedBecause)}</p>` : ''}
        <div class="actions">${
          i.status === 'open'
            ? `${i.acknowledgedBy ? '' : '<button class="primary" data-act="ack">Acknowledge</button>'} <button data-act="resolve">Resolve</button>`
            : ''
        }</div>`;
    };

    const renderRemediation = (r) => {
      const box = view.querySelector('#remediation');
      if (!r) {
        box.innerHTML = `<p class="dim">${incident.status === 'open' ? 'The healer has not acted on this incident.' : 'No remediation.'}</p>`;
        return;
      }
      const steps = r.plan ? r.plan.steps.map((s) => `${esc(s.name)} <span class="mono dim">${esc(s.action)}</span>`).join('; ') : '';
      box.innerHTML = `<p>${pill(r.status)} playbook <a href="#/remediations/${enc(r.id)}">${esc(r.playbookId)}</a> on ${esc(r.service)}${steps ? ` — ${steps}` : ''}</p>
        ${r.plan?.target?.reason ? `<p class="dim">Why: ${esc(r.plan.target.reason)}</p>` : ''}
        ${r.refusal ? `<p class="error">Refused: ${esc(r.refusal)}</p>` : ''}
        ${r.failure ? `<p class="error">${esc(r.failure)}</p>` : ''}
        ${r.verification?.detail ? `<p>${esc(r.verification.detail)}</p>` : ''}
        ${r.status === 'awaiting_approval' ? `<p>The healer waits for a human before it acts.</p><div class="actions"><button class="primary" data-decide="approve">Approve</button> <button class="danger" data-decide="reject">Reject</button></div>` : ''}`;
    };

    const renderCharts = async (i) => {
      const box = view.querySelector('#charts');
      const openedMs = Date.parse(i.openedAt);
      const onsetMs = Math.min(openedMs, ...i.evidence.map((e) => Date.parse(e.onsetAt)).filter(Number.isFinite));
      const toMs = i.resolvedAt ? Math.min(Date.parse(i.resolvedAt) + 2 * 60_000, Date.now()) : Date.now();
      // As much time before the onset as after it (2 to 30 minutes): the baseline, then the fault.
      const fromMs = onsetMs - Math.min(30 * 60_000, Math.max(2 * 60_000, toMs - onsetMs));
      const charts = [];
      for (const e of i.evidence) {
        const plot = plotOf(e);
        const existing = charts.findIndex((c) => c.service === e.service && c.signal === plot.signal);
        // A signal judged on its own series wins over one drawn from another's (a burn rate's error rate).
        if (existing >= 0) {
          if (plot.signal === e.signal && charts[existing].evidence.signal !== e.signal) charts[existing] = { service: e.service, evidence: e, ...plot };
          continue;
        }
        if (charts.length < 4) charts.push({ service: e.service, evidence: e, ...plot });
      }
      const series = await Promise.all(
        charts.map((c) => api(`/api/services/${enc(c.service)}/series?signal=${enc(c.signal)}&from=${iso(fromMs)}&to=${iso(toMs + 60_000)}`).catch(() => ({ points: [] }))),
      );
      const marks = marksOf(i.timeline);
      box.innerHTML = charts.map((c, n) => `<figure style="margin:0 0 1rem"><figcaption><b>${esc(c.signal)}</b> on ${esc(c.service)} <span class="dim">${esc(c.caption)}</span></figcaption><div class="chart" id="chart-${n}"></div><div id="legend-${n}"></div></figure>`).join('');
      charts.forEach((c, n) => {
        const onset = Date.parse(c.evidence.onsetAt);
        const chartMarks = [...(Number.isFinite(onset) ? [{ time: onset, kind: 'onset', label: 'onset' }] : []), ...marks];
        timeChart(view.querySelector(`#chart-${n}`), { title: `${c.signal} on ${c.service}`, series: [{ label: c.signal, points: series[n].points || [], colour: '#6cb4ff' }], lines: c.lines, band: c.band, marks: chartMarks, fromMs, toMs, format: c.format });
        view.querySelector(`#legend-${n}`).innerHTML = markLegend(c.lines, chartMarks, c.band, c.format);
      });
    };

    const renderCandidates = (i, topology) => {
      const candidates = i.rootCauseCandidates || [];
      view.querySelector('#candidates').innerHTML = candidates.length
        ? `<ol>${candidates.map((c) => `<li><b><a href="#/services/${enc(c.service)}">${esc(c.service)}</a></b> <span class="bar" style="width:${Math.round(Number(c.confidence) * 80)}px"></span> confidence ${Number(c.confidence).toFixed(2)}
            <ul class="dim">${(c.evidence || []).map((line) => `<li>${esc(line)}</li>`).join('')}</ul></li>`).join('')}</ol>
           ${i.remediationChoice ? `<p class="dim">The healer acted because: ${esc(i.remediationChoice)}</p>` : ''}`
        : '<p class="dim">Not ranked yet.</p>';
      // The services involved and the calls between them, the likeliest root cause in red.
      const involved = [...new Set([...candidates.map((c) => c.service), ...i.evidence.map((e) => e.service)])].sort();
      const edges = topology.edges.filter((e) => involved.includes(e.caller) && involved.includes(e.callee));
      const rankOf = new Map(candidates.map((c, n) => [c.service, n]));
      view.querySelector('#involved').innerHTML = involved.length > 1
        ? serviceMap(involved, edges, (n) => {
            const rank = rankOf.get(n);
            const confidence = rank === undefined ? '' : ` (${Number(candidates[rank].confidence).toFixed(2)})`;
            return rank === 0 ? { tone: 'critical', text: `likeliest root cause${confidence}` } : rank !== undefined ? { tone: 'warning', text: `candidate ${rank + 1}${confidence}` } : { tone: 'info', text: 'affected' };
          }, { id: 'involved', label: 'Services involved' })
        : '';
      view.querySelector('#signals').innerHTML = `<table><thead><tr><th scope="col">Service</th><th scope="col">Signal</th><th scope="col">Value</th><th scope="col">Baseline</th><th scope="col">Onset</th></tr></thead><tbody>
        ${i.evidence.map((e) => `<tr><td>${esc(e.service)}</td><td class="mono">${esc(e.signal)}<div class="dim">${esc(e.reason ?? e.explanation?.evidence ?? '')}</div></td><td>${number(e.value)}</td><td>${number(e.baseline)}</td><td>${clock(e.onsetAt)}</td></tr>`).join('')}</tbody></table>
        ${i.exemplarTraceIds.length ? `<p class="dim">Exemplar traces: <span class="mono">${i.exemplarTraceIds.slice(0, 5).map(esc).join(', ')}</span></p>` : ''}`;
    };

    // The traces the analyzer kept with the incident; rows the engineer opened stay open across refreshes.
    let tracesShown = '';
    const renderTraces = (traces) => {
      const box = view.querySelector('#traces');
      const key = traces.map((t) => `${t.traceId}:${t.spans.length}`).join(',');
      if (key === tracesShown) return;
      tracesShown = key;
      box.innerHTML = traces.length
        ? `<p class="dim">A few whole traces of the services involved, kept when their signal joined the incident: failing ones, the slowest, and a normal one to compare. Open a span for its attributes.</p>
           ${traces.map((t, n) => waterfall(t, { open: n === 0 })).join('')}`
        : '<p class="dim">No exemplar traces kept for this incident (its services sent no spans around the onset).</p>';
    };

    const renderTimeline = (i) => {
      view.querySelector('#timeline').innerHTML = i.timeline
        .map((e) => `<li><time datetime="${esc(e.occurredAt)}" class="dim">${clock(e.occurredAt)}</time><span class="mono">${esc(e.type)}</span><span>${esc(describe(e))}</span></li>`)
        .join('');
    };

    const renderSilence = (i, silences) => {
      const muting = silencesMatching(i.labels || {}, silences);
      view.querySelector('#muted').innerHTML = muting.length
        ? muting.map((s) => `<p>${pill('muted')} Notifications muted by silence <span class="mono">${esc(s.id.slice(0, 8))}</span> (${s.matchers.map((m) => `${esc(m.name)}=${esc(m.value)}`).join(', ')}) until ${new Date(s.endsAt).toLocaleString()}, by ${esc(s.createdBy)}: ${esc(s.comment)}</p>`).join('')
        : '<p class="dim">No silence mutes this incident.</p>';
      if (silenceFormFor === i.id) return;
      silenceFormFor = i.id;
      const labels = Object.entries(i.labels || {});
      view.querySelector('#silence-form').innerHTML = `<form id="silence-create" class="stack">
        <fieldset><legend>Match alerts with these labels</legend>${labels
          .map(([name, value], n) => `<label><input type="checkbox" name="label" value="${n}" ${name === 'service' || name === 'alertname' ? 'checked' : ''}> <span class="mono">${esc(name)}="${esc(value)}"</span></label>`)
          .join('')}</fieldset>
        <label>For <select name="hours"><option value="1">1 hour</option><option value="2" selected>2 hours</option><option value="4">4 hours</option><option value="24">1 day</option></select></label>
        <label>Comment <input name="comment" required placeholder="why, e.g. deploying a fix"></label>
        <div><button class="primary">Create silence</button></div></form>`;
      view.querySelector('#silence-create').addEventListener('submit', (event) => {
        event.preventDefault();
        const form = new FormData(event.target);
        const chosen = form.getAll('label').map((n) => labels[Number(n)]);
        if (chosen.length === 0) return say('Choose at least one label to match.', true);
        const now = Date.now();
        const silence = {
          matchers: chosen.map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
          startsAt: iso(now),
          endsAt: iso(now + Number(form.get('hours')) * 3_600_000),
          createdBy: actor(),
          comment: String(form.get('comment')),
        };
        act('Silence', async () => {
          const { silenceID } = await post('/api/v2/silences', silence);
          view.querySelector('#silence').open = false;
          return `Silence ${silenceID.slice(0, 8)} created: ${silence.matchers.map((m) => `${m.name}=${m.value}`).join(', ')}.`;
        });
      });
    };

    const refresh = async () => {
      const [i, { remediations }, silences, topology, { traces }] = await Promise.all([
        api(`/api/incidents/${enc(id)}`),
        api(`/api/remediations?incident=${enc(id)}`),
        api('/api/v2/silences').catch(() => []),
        api('/api/topology').catch(() => ({ edges: [] })),
        api(`/api/incidents/${enc(id)}/traces`).catch(() => ({ traces: [] })),
      ]);
      incident = i;
      remediation = remediations[0] ? await api(`/api/remediations/${enc(remediations[0].id)}`) : undefined;
      const focused = document.activeElement?.dataset?.act || document.activeElement?.dataset?.decide;
      renderHead(i);
      renderRemediation(remediation);
      renderCandidates(i, topology);
      renderTimeline(i);
      renderTraces(traces);
      renderSilence(i, silences);
      // A button that re-rendered keeps the keyboard where it was, or the heading takes it: at once, in
      // the same task as the render, so a key pressed while the charts draw still reaches the button.
      if (focused) (view.querySelector(`[data-act="${focused}"],[data-decide="${focused}"]`) || view.querySelector('h1')).focus();
      await renderCharts(i);
    };

    view.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-act],button[data-decide]');
      if (!button) return;
      const by = actor();
      if (button.dataset.act === 'ack') act('Acknowledge', () => post(`/api/incidents/${enc(id)}/ack`, { by }));
      if (button.dataset.act === 'resolve') act('Resolve', () => post(`/api/incidents/${enc(id)}/resolve`, { by }));
      if (button.dataset.decide) {
        const decision = button.dataset.decide;
        act(decision === 'approve' ? 'Approve' : 'Reject', () => post(`/api/remediations/${enc(remediation.id)}/${decision}`, { by, reason: `${decision === 'approve' ? 'approved' : 'rejected'} in the console by ${by}` }));
      }
    });
    const later = debounce(() => refresh().catch(showError));
    return {
      refresh,
      // A fix pull request names its incident only when it opens: any fix event may be this incident's.
      onEvent: (e) => (e.incidentId === id || e.streamId.endsWith(id) || e.type.startsWith('silence.') || e.type.startsWith('fix.')) && later(),
    };
  },

  services(view) {
    view.innerHTML = `<h1 tabindex="-1">Services</h1>
      <section class="card map" aria-labelledby="map-title"><h2 id="map-title">Service map <span class="dim">(calls and error rate per edge over the learned topology; red: open incident, amber: errors above 5 %)</span></h2><div id="map"></div></section>
      <table><caption class="sr-only">Services</caption><thead><tr><th scope="col">Service</th><th scope="col">Health</th><th scope="col">Calls (5 min)</th><th scope="col">Error rate (5 min)</th><th scope="col">Open incidents</th><th scope="col">Last seen</th></tr></thead><tbody id="rows"></tbody></table>`;
    const refresh = async () => {
      const [{ services }, topology] = await Promise.all([api('/api/services'), api('/api/topology')]);
      const byName = new Map(services.map((s) => [s.name, s]));
      const names = [...new Set([...services.map((s) => s.name), ...topology.services])].sort();
      const health = (name) => {
        const s = byName.get(name);
        if (s?.openIncidents) return 'critical';
        if (s && s.errorRateLast5m > 0.05) return 'warning';
        return s ? 'ok' : 'info';
      };
      const words = { critical: 'incident open', warning: 'errors', ok: 'healthy', info: 'seen in calls only' };
      view.querySelector('#map').innerHTML = serviceMap(names, topology.edges, (n) => ({ tone: health(n), text: words[health(n)] }));
      redrawKeepingFocus(
        view.querySelector('#rows'),
        names
          .map((name) => {
            const s = byName.get(name);
            return `<tr><td><a href="#/services/${enc(name)}">${esc(name)}</a></td><td>${pill(health(name), words[health(name)])}</td><td>${s ? s.callsLast5m : ''}</td><td>${s ? percent(s.errorRateLast5m) : ''}</td><td>${s?.openIncidents || ''}</td><td>${s ? when(s.lastSeen) : ''}</td></tr>`;
          })
          .join('') || '<tr><td colspan="6" class="dim">No telemetry yet: point an agent at ingest (:4318).</td></tr>',
      );
    };
    const later = debounce(() => refresh().catch(showError), 1000);
    return { refresh, onEvent: (e) => e.type.startsWith('incident.') && later() };
  },

  'services/:id'(view, name, query) {
    const minutes = Number(query.get('minutes')) || 30;
    view.innerHTML = `<h1 tabindex="-1">${esc(name)}</h1>
      <form class="filters" id="window" aria-label="Time window"><label>Window <select name="minutes">${[15, 30, 60, 360, 1440].map((m) => `<option value="${m}" ${m === minutes ? 'selected' : ''}>last ${m < 60 ? `${m} min` : `${m / 60} h`}</option>`).join('')}</select></label></form>
      <div class="row">${['latency', 'errors', 'throughput', 'tokens', 'cost'].map((k) => `<section class="card" aria-labelledby="t-${k}"><h2 id="t-${k}"></h2><div class="chart" id="c-${k}"></div></section>`).join('')}</div>
      <section class="card" aria-labelledby="op-title"><h2 id="op-title">Latency per operation</h2><div id="operations"></div></section>
      <section class="card" aria-labelledby="fc-title"><h2 id="fc-title">Forecasts</h2><div id="forecasts"></div></section>
      <section class="card" aria-labelledby="inc-title"><h2 id="inc-title">Incidents</h2><div id="incidents"></div></section>`;
    view.querySelector('#window').addEventListener('input', (event) => {
      location.hash = `#/services/${enc(name)}?minutes=${event.target.value}`;
    });
    const refresh = async () => {
      const toMs = Date.now();
      const fromMs = toMs - minutes * 60_000;
      const series = (signal) => api(`/api/services/${enc(name)}/series?signal=${enc(signal)}&from=${iso(fromMs)}&to=${iso(toMs)}`).then((r) => r.points).catch(() => []);
      const horizonMinutes = Math.max(15, Math.min(minutes / 2, 720));
      const [p50, p95, p99, errorRate, calls, input, output, cost, { incidents }, { forecasts }, { operations }] = await Promise.all([
        series('latency.p50_ms'), series('latency.p95_ms'), series('latency.p99_ms'), series('error_rate'), series('calls'),
        series('gen_ai.input_tokens'), series('gen_ai.output_tokens'), series('gen_ai.cost_usd'), api('/api/incidents'),
        api(`/api/services/${enc(name)}/forecasts?from=${iso(fromMs)}&to=${iso(toMs)}&horizonMinutes=${horizonMinutes}`).catch(() => ({ forecasts: [] })),
        api(`/api/services/${enc(name)}/operations?from=${iso(fromMs)}&to=${iso(toMs)}`).catch(() => ({ operations: [] })),
      ]);
      // The busiest five operations drawn; every one listed.
      const drawn = operations.slice(0, 5);
      const opPoints = await Promise.all(
        drawn.map((o) => api(`/api/services/${enc(name)}/series?signal=latency.mean_ms&operation=${enc(o.operation)}&from=${iso(fromMs)}&to=${iso(toMs)}`).then((r) => r.points).catch(() => [])),
      );
      const perSecond = (points) => points.map((p) => ({ ...p, value: p.value / (p.resolutionSeconds || 1) }));
      const charts = {
        latency: { title: 'Latency (ms)', series: [{ label: 'p50', points: p50 }, { label: 'p95', points: p95 }, { label: 'p99', points: p99 }], unit: ' ms' },
        errors: { title: 'Error rate', series: [{ label: 'error rate', points: errorRate, colour: '#ff6b6b' }], format: (v) => `${(v * 100).toFixed(0)}%` },
        throughput: { title: 'Throughput (calls/s)', series: [{ label: 'calls/s', points: perSecond(calls) }], unit: '/s' },
        tokens: { title: 'LLM tokens per interval', series: [{ label: 'input', points: input }, { label: 'output', points: output }] },
        cost: { title: 'LLM cost (USD per interval)', series: [{ label: 'cost', points: cost, colour: '#c792ea' }], format: (v) => `$${+v.toPrecision(2)}` },
      };
      for (const [key, chart] of Object.entries(charts)) {
        view.querySelector(`#t-${key}`).textContent = chart.title;
        // The x axis fits the data: a service seen for two minutes fills the chart, not a sliver of it.
        timeChart(view.querySelector(`#c-${key}`), chart);
      }
      const ops = view.querySelector('#operations');
      ops.innerHTML = operations.length
        ? `<p class="dim">The mean latency of the service's calls per span name, each judged on its own by the detectors (in intervals with at least 5 calls).</p>
           <div class="chart" id="c-operations"></div>
           <table id="op-table"><caption class="sr-only">Operations of ${esc(name)}</caption><thead><tr><th scope="col">Operation</th><th scope="col">Calls</th><th scope="col">Mean</th><th scope="col">Worst interval</th></tr></thead>
           <tbody>${operations.map((o) => `<tr><td class="mono">${esc(o.operation)}</td><td>${o.calls}</td><td>${o.meanMs.toFixed(0)} ms</td><td>${o.worstMs.toFixed(0)} ms</td></tr>`).join('')}</tbody></table>`
        : '<p class="dim">No operation of this service has latency of its own yet (the span names of its calls; the analyzer keeps the first 20).</p>';
      if (drawn.length) timeChart(view.querySelector('#c-operations'), { title: 'Latency per operation (mean ms)', series: drawn.map((o, n) => ({ label: o.operation, points: opPoints[n] })), unit: ' ms' });
      const box = view.querySelector('#forecasts');
      box.innerHTML = forecasts.length
        ? `<p class="dim">Each gauge with a limit: a least-squares line over its last 15 minutes (since the last restart), ${horizonMinutes} minutes ahead, with the band a new point falls in 95 times in 100.</p>
           ${forecasts.map((f, n) => `<figure style="margin:0 0 1rem"><figcaption><b>${esc(f.signal)}</b> <span class="dim">limit ${esc(gaugeFormat(f.signal)(f.limit))}${f.reachesLimitAt ? ` · the line reaches it at ${clock(f.reachesLimitAt)}` : ''}</span></figcaption><div class="chart" id="forecast-${n}"></div></figure>`).join('')}`
        : '<p class="dim">No gauge of this service has a limit to forecast against (<span class="mono">heph.limit.&lt;signal&gt;</span> resource attributes or <span class="mono">HEPH_LIMITS</span>).</p>';
      forecasts.forEach((f, n) => forecastChart(view.querySelector(`#forecast-${n}`), f));
      const own = incidents.filter((i) => i.service === name).slice(0, 20);
      view.querySelector('#incidents').innerHTML = own.length
        ? `<ul>${own.map((i) => `<li>${pill(i.status)} <a href="#/incidents/${enc(i.id)}">${esc(i.summary)}</a> <span class="dim">${when(i.openedAt)}</span></li>`).join('')}</ul>`
        : '<p class="dim">No incidents.</p>';
    };
    const later = debounce(() => refresh().catch(showError), 1000);
    return { refresh, onEvent: (e) => e.type.startsWith('incident.') && later() };
  },

  spend(view, _id, query) {
    const minutes = Number(query.get('minutes')) || 60;
    view.innerHTML = `<h1 tabindex="-1">LLM spend</h1>
      <form class="filters" id="window" aria-label="Time window"><label>Window <select name="minutes">${[60, 360, 1440].map((m) => `<option value="${m}" ${m === minutes ? 'selected' : ''}>last ${m / 60} h</option>`).join('')}</select></label></form>
      <p id="total"></p>
      <div class="row"><section class="card" aria-labelledby="by-service"><h2 id="by-service">Per service (USD per interval)</h2><div class="chart" id="spend-services"></div></section>
      <section class="card" aria-labelledby="by-model"><h2 id="by-model">Per service and model (USD per interval)</h2><div class="chart" id="spend-models"></div></section></div>
      <section class="card" aria-labelledby="budgets-title"><h2 id="budgets-title">Budgets</h2><div id="budgets"></div></section>
      <table><caption class="sr-only">Spend per service and model</caption><thead><tr><th scope="col">Service</th><th scope="col">Model</th><th scope="col">Spent (USD)</th><th scope="col">Share</th></tr></thead><tbody id="rows"></tbody></table>`;
    view.querySelector('#window').addEventListener('input', (event) => {
      location.hash = `#/spend?minutes=${event.target.value}`;
    });
    const money = (v) => `$${v < 1 ? v.toFixed(4) : v.toFixed(2)}`;
    const refresh = async () => {
      const toMs = Date.now();
      const fromMs = toMs - minutes * 60_000;
      const spend = await api(`/api/spend?from=${iso(fromMs)}&to=${iso(toMs)}`);
      const asPoints = (points) => points.map((p) => ({ time: p.time, resolutionSeconds: p.resolutionSeconds, value: p.costUsd }));
      view.querySelector('#total').textContent = `${money(spend.totalUsd)} spent on LLM calls in the last ${minutes / 60} h by ${spend.services.length} services.`;
      const format = (v) => `$${+v.toPrecision(2)}`;
      timeChart(view.querySelector('#spend-services'), { title: 'LLM cost per service', series: spend.services.slice(0, 5).map((s) => ({ label: s.service, points: asPoints(s.points) })), format });
      timeChart(view.querySelector('#spend-models'), { title: 'LLM cost per service and model', series: spend.models.slice(0, 5).map((m) => ({ label: `${m.service} · ${m.model}`, points: asPoints(m.points) })), format });
      view.querySelector('#budgets').innerHTML = spend.budgets.length
        ? `<table><thead><tr><th scope="col">Services</th><th scope="col">Period</th><th scope="col">Spent</th><th scope="col">Last hour</th><th scope="col">Forecast at the end</th><th scope="col">Runs out</th></tr></thead><tbody>${spend.budgets
            .map((b) => {
              const used = Math.min(1, b.spentUsd / b.limitUsd);
              const tone = b.runsOutAt ? 'critical' : b.forecastUsd > b.limitUsd * 0.8 ? 'warning' : 'ok';
              return `<tr><td class="mono">${esc(b.service)}</td><td>${b.period === 'daily' ? 'day' : 'month'} (UTC)</td>
                <td><meter min="0" max="${b.limitUsd}" value="${Math.min(b.spentUsd, b.limitUsd)}" aria-label="${esc(b.service)}: ${percent(used)} of the budget spent"></meter> ${money(b.spentUsd)} of ${money(b.limitUsd)}</td>
                <td>${money(b.lastHourUsd)}/h</td><td>${money(b.forecastUsd)}</td>
                <td>${b.runsOutAt ? pill(tone, `at ${new Date(b.runsOutAt).toLocaleString()}`) : pill(tone, `lasts until ${new Date(b.periodEndsAt).toLocaleString()}`)}</td></tr>`;
            })
            .join('')}</tbody></table>`
        : '<p class="dim">No budgets given to the console (<span class="mono">budgets</span> in the costs file).</p>';
      view.querySelector('#rows').innerHTML =
        spend.models.map((m) => `<tr><td><a href="#/services/${enc(m.service)}">${esc(m.service)}</a></td><td class="mono">${esc(m.model)}</td><td>${money(m.costUsd)}</td><td>${spend.totalUsd > 0 ? percent(m.costUsd / spend.totalUsd) : ''}</td></tr>`).join('') ||
        '<tr><td colspan="4" class="dim">No LLM calls reported (gen_ai.cost_usd) in this window.</td></tr>';
    };
    return { refresh };
  },

  remediations(view) {
    view.innerHTML = `<h1 tabindex="-1">Remediations</h1><table><caption class="sr-only">Remediations, newest first</caption><thead><tr><th scope="col">Status</th><th scope="col">Playbook</th><th scope="col">Service</th><th scope="col">Incident</th><th scope="col">Started</th></tr></thead><tbody id="rows"></tbody></table>`;
    const refresh = async () => {
      const { remediations } = await api('/api/remediations');
      redrawKeepingFocus(
        view.querySelector('#rows'),
        remediations.map((r) => `<tr><td>${pill(r.status)}</td><td><a href="#/remediations/${enc(r.id)}">${esc(r.playbookId)}</a></td><td>${esc(r.service)}</td><td><a class="mono" href="#/incidents/${enc(r.incidentId)}">${esc(r.incidentId.slice(0, 8))}</a></td><td>${when(r.startedAt)}</td></tr>`).join('') ||
          '<tr><td colspan="5" class="dim">The healer has not acted yet.</td></tr>',
      );
    };
    const later = debounce(() => refresh().catch(showError));
    return { refresh, onEvent: (e) => e.type.startsWith('remediation.') && later() };
  },

  'remediations/:id'(view, id) {
    view.innerHTML = '<div id="body"></div>';
    const refresh = async () => {
      const r = await api(`/api/remediations/${enc(id)}`);
      view.querySelector('#body').innerHTML = `<h1 tabindex="-1">${pill(r.status)} ${esc(r.playbookId)} on ${esc(r.service)}</h1>
        <p>For incident <a href="#/incidents/${enc(r.incidentId)}">${esc(r.incidentId)}</a>${r.status === 'awaiting_approval' ? ' — approve or reject it there.' : ''}</p>
        <section class="card"><h2>Steps</h2><table><thead><tr><th scope="col">#</th><th scope="col">Step</th><th scope="col">Result</th></tr></thead><tbody>${(r.steps || []).map((s, n) => `<tr><td>${n + 1}</td><td>${esc(s.name)} <span class="dim mono">${esc(s.action ?? '')}</span></td><td>${pill(s.status ?? '')} ${esc(s.detail ?? s.error ?? '')}</td></tr>`).join('') || '<tr><td colspan="3" class="dim">No step ran.</td></tr>'}</tbody></table></section>
        <section class="card"><h2>Timeline</h2><ol class="timeline">${(r.timeline || []).map((e) => `<li><time class="dim" datetime="${esc(e.occurredAt)}">${clock(e.occurredAt)}</time><span class="mono">${esc(e.type)}</span><span>${esc(describe(e))}</span></li>`).join('')}</ol></section>`;
    };
    const later = debounce(() => refresh().catch(showError));
    return { refresh, onEvent: (e) => e.streamId.endsWith(id) || e.type.startsWith('remediation.') ? later() : undefined };
  },

  playbooks(view) {
    view.innerHTML = '<h1 tabindex="-1">Playbooks</h1><div id="body"></div>';
    const refresh = async () => {
      const { playbooks, errors = [] } = await api('/api/playbooks');
      view.querySelector('#body').innerHTML = `${errors.map((e) => `<p class="error">${esc(e.file)}:${esc(e.line)}: ${esc(e.reason)}</p>`).join('')}
        <table><thead><tr><th scope="col">Playbook</th><th scope="col">Matches</th><th scope="col">Steps</th><th scope="col">Verify</th></tr></thead><tbody>${playbooks.map((p) => `<tr><td><b>${esc(p.id)}</b>${p.dryRun ? ` ${pill('dry_run', 'dry run')}` : ''}${p.approval?.required ? ` ${pill('awaiting_approval', 'needs approval')}` : ''}<div class="dim">${esc(p.description)}</div></td>
          <td class="mono">${esc(p.match.service)} · ${esc(p.match.signal)}</td><td>${p.steps.map((s) => `${esc(s.name)} <span class="dim mono">${esc(s.action)}</span>`).join('<br>')}</td>
          <td class="mono">${esc(p.verify.signal)} ${p.verify.max !== undefined ? `≤ ${esc(p.verify.max)}` : `< baseline × ${esc(p.verify.baselineFactor)}`} for ${esc(p.verify.windowSeconds)} s</td></tr>`).join('')}</tbody></table>`;
    };
    return { refresh };
  },

  silences(view) {
    view.innerHTML = `<h1 tabindex="-1">Silences</h1><p class="dim">Alertmanager-compatible: <span class="mono">amtool --alertmanager.url=${esc(location.origin)} silence add …</span>, or “Silence” on an incident's page.</p>
      <p class="notice" id="notice" role="status" aria-live="polite"></p>
      <table><caption class="sr-only">Silences</caption><thead><tr><th scope="col">State</th><th scope="col">Matchers</th><th scope="col">Until</th><th scope="col">By</th><th scope="col">Comment</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody id="rows"></tbody></table>`;
    const refresh = async () => {
      const silences = await api('/api/v2/silences');
      view.querySelector('#rows').innerHTML =
        silences.map((s) => `<tr><td>${pill(s.status.state === 'active' ? 'muted' : s.status.state, s.status.state)}</td><td class="mono">${s.matchers.map((m) => `${esc(m.name)}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}${esc(m.value)}`).join(', ')}</td><td>${new Date(s.endsAt).toLocaleString()}</td><td>${esc(s.createdBy)}</td><td>${esc(s.comment)}</td>
          <td>${s.status.state === 'expired' ? '' : `<button data-expire="${esc(s.id)}">Expire</button>`}</td></tr>`).join('') || '<tr><td colspan="6" class="dim">No silences.</td></tr>';
    };
    view.addEventListener('click', async (event) => {
      const id = event.target.closest('button[data-expire]')?.dataset.expire;
      if (!id) return;
      try {
        await api(`/api/v2/silence/${enc(id)}`, { method: 'DELETE' });
        view.querySelector('#notice').textContent = `Silence ${id.slice(0, 8)} expired.`;
      } catch (error) {
        view.querySelector('#notice').textContent = `Expiring failed: ${error.message}`;
      }
      refresh().catch(showError);
    });
    const later = debounce(() => refresh().catch(showError));
    return { refresh, onEvent: (e) => e.type.startsWith('silence.') && later() };
  },
};

// ---- Router

let current;
function showError(error) {
  if (error instanceof NeedsToken) return askForToken();
  const box = view.querySelector('#notice') || view;
  if (box === view) view.innerHTML = `<h1 tabindex="-1">Something went wrong</h1><p class="error" role="alert">${esc(error.message)}</p>`;
  else {
    box.textContent = error.message;
    box.classList.add('error');
  }
}

async function render(moveFocus = false) {
  const [path, query] = (location.hash.slice(2) || 'incidents').split('?');
  const parts = path.split('/');
  const key = parts.length > 1 && parts[1] ? `${parts[0]}/:id` : parts[0];
  const mount = pages[key] || pages.incidents;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === parts[0]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view = document.createElement('div');
  main.replaceChildren(view);
  try {
    current = mount(view, decodeURIComponent(parts[1] || ''), new URLSearchParams(query || ''));
    await current.refresh();
    const heading = view.querySelector('h1');
    document.title = `${heading ? heading.textContent.trim() : 'Console'} · Hephaestus`;
    if (moveFocus) heading?.focus();
  } catch (error) {
    showError(error);
  }
}

document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
document.addEventListener('keydown', (event) => {
  // "/" focuses the search box, as in most consoles, unless typing already.
  if (event.key === '/' && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement?.tagName)) {
    const search = view.querySelector('input[type="search"]');
    if (search) {
      event.preventDefault();
      search.focus();
    }
  }
});
// Relative times ("3 min ago") age without anything happening: a local clock rewrites them (it asks
// the server nothing).
setInterval(() => {
  for (const t of document.querySelectorAll('time[data-ago]')) t.textContent = ago(t.getAttribute('datetime'));
}, 15_000);
window.addEventListener('hashchange', () => render(true));
render();
connectLive();
