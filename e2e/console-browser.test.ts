// The on-call console in a real browser (Debian's Chromium driven by playwright-core) against a control
// plane on Kafka and PostgreSQL with two demo agents in their own processes: an incident appears on
// the open list as it happens (Server-Sent Events, no reload), its page plots the evidence and shows the
// timeline, it is acknowledged with the keyboard, a silence made from its labels mutes the next alert
// of that service, a remediation that asks for approval is approved on one incident and rejected on
// another, the incident's exemplar traces draw as a waterfall, the service map, a service's memory
// forecast with its prediction band and the spend draw, and axe-core finds no serious or critical
// accessibility violation. Then a console with API tokens: the page asks for the token and shows a budget's burn.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIncidentCommand } from '@hephaestus/aggregates';
import { createConsoleServer } from '@hephaestus/console';
import { listen, loadConfig, newRegistry, openDatabase } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { startControlPlane, upConfig, type ControlPlane } from '../cli/src/control-plane.ts';
import { eventually, startAgent, startWebhookReceiver, testPlaneEnv } from './support.ts';

const chromiumPath = process.env.HEPH_CHROMIUM ?? '/usr/bin/chromium';
const run = randomBytes(3).toString('hex');
/** The README's screenshots are rewritten only when asked (HEPH_UPDATE_SCREENSHOTS=1); otherwise they go to a temporary directory, so a run leaves the clone clean. */
const updateScreenshots = process.env.HEPH_UPDATE_SCREENSHOTS === '1';
let screenshots = join(import.meta.dirname, '../docs/screenshots');
const serviceA = `ui-a-${run}`;
const serviceB = `ui-b-${run}`;
const operator = 'e2e-browser';

const launch = async (cleanups: Array<() => Promise<unknown>>) => {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y --no-install-recommends chromium (or set HEPH_CHROMIUM)`);
  const profile = await mkdtemp(join(tmpdir(), 'heph-chromium-'));
  cleanups.push(() => rm(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  // The browser goes first: its open connections would hold the console's close.
  cleanups.push(() => context.close());
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
};

/** What axe-core finds serious or critical on the page as it stands, one line each. */
const seriousViolations = async (page: Page): Promise<string[]> => {
  // Evaluated through the DevTools protocol: the page's content-security policy stays as it is.
  await page.evaluate(await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
  return page.evaluate(async () => {
    type Result = { violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> };
    const result = await (window as unknown as { axe: { run: (context: Document, options: object) => Promise<Result> } }).axe.run(document, { resultTypes: ['violations'] });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
  });
};

const playbook = `id: restart-after-approval
description: restart an agent whose error rate bursts, once a human approved
target: incident
match: { service: "ui-*", signal: error_rate }
approval: { required: true, timeoutSeconds: 600 }
steps: [{ name: restart the agent, action: agent.restart, timeoutSeconds: 5 }]
verify: { signal: error_rate, windowSeconds: 4, max: 0.05 }
`;

type Incident = { id: string; service: string; status: string; acknowledgedBy: string | null; labels: Record<string, string> };

describe('the console in a real browser', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  let plane: ControlPlane;
  let context: BrowserContext;
  let page: Page;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let agentA: Awaited<ReturnType<typeof startAgent>>;
  let agentB: Awaited<ReturnType<typeof startAgent>>;
  const pageErrors: string[] = [];

  const api = async <T = any>(path: string): Promise<T> => (await fetch(`${plane.consoleUrl}${path}`)).json() as Promise<T>;
  const incidentsOf = async (service: string) => (await api<{ incidents: Incident[] }>(`/api/incidents?service=${service}`)).incidents;
  const timelineText = () => page.locator('#timeline').innerText();

  beforeAll(async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const dir = await mkdtemp(join(tmpdir(), 'heph-browser-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'approve.yaml'), playbook);
    webhook = await startWebhookReceiver();
    cleanups.push(webhook.close);
    plane = await startControlPlane(loadConfig(upConfig, { ...testPlaneEnv(db.url, dir, `browser-${run}`), HEPH_ALERT_WEBHOOK_URL: webhook.url }), testLogger());
    cleanups.push(() => plane.stop());
    agentA = await startAgent({ service: serviceA, ingestUrl: plane.ingestUrl });
    cleanups.push(agentA.stop);
    agentB = await startAgent({ service: serviceB, ingestUrl: plane.ingestUrl });
    cleanups.push(agentB.stop);

    ({ context, page } = await launch(cleanups));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    if (updateScreenshots) await mkdir(screenshots, { recursive: true });
    else {
      screenshots = await mkdtemp(join(tmpdir(), 'heph-screenshots-'));
      const made = screenshots;
      cleanups.push(() => rm(made, { recursive: true, force: true }));
    }

    // Healthy traffic first, so the detectors have a baseline.
    for (const service of [serviceA, serviceB]) {
      await eventually(`healthy traffic of ${service} in the rollups`, async () => {
        const [row] = await plane.runtime.db.sql`SELECT sum(calls)::int AS calls FROM rollups WHERE service = ${service}`;
        return (row?.calls ?? 0) >= 150 || undefined;
      });
    }
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => console.error(error));
  });

  let incidentA: Incident;

  it('shows the incident on the open list as it opens, without a reload', async () => {
    await page.goto(`${plane.consoleUrl}/#/incidents`);
    await page.waitForFunction(() => document.documentElement.dataset.live === 'true');
    await page.getByText('No open incidents. All quiet.').waitFor();
    // Survives only if the page is never reloaded.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    await agentA.injectFault();
    const row = page.locator('tr', { hasText: serviceA });
    await row.waitFor({ timeout: 90_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    incidentA = (await incidentsOf(serviceA))[0]!;
    expect(incidentA).toMatchObject({ service: serviceA, status: 'open' });
    expect(await row.getByRole('link').getAttribute('href')).toBe(`#/incidents/${encodeURIComponent(incidentA.id)}`);

    // The filters narrow the list in place: by service, then a search that matches nothing.
    await page.getByLabel('Service').selectOption(serviceA);
    await page.getByText(/^1 of \d+ open incidents$/).waitFor();
    await page.getByLabel('Search').fill('no such words');
    await page.getByText('No incident matches these filters.').waitFor();
    expect(page.url()).toContain(`service=${serviceA}`);
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Service').selectOption('');
    await page.screenshot({ path: join(screenshots, 'incidents.png') });
  });

  it('opens the incident with the keyboard and acknowledges it from its page', async () => {
    // Tab order: the skip link first, then the navigation, then on to the incident's link.
    await page.reload();
    await page.waitForFunction(() => document.documentElement.dataset.live === 'true');
    await page.locator('tr', { hasText: serviceA }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const target = `#/incidents/${encodeURIComponent(incidentA.id)}`;
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate((href) => document.activeElement?.getAttribute('href') === href, target);
    }
    expect(reached).toBe(true);
    // A live update redraws the rows (here the search filter's input event, as an incident event does):
    // the link keeps the focus, so the keyboard user's place survives the refresh.
    await page.evaluate(() => {
      for (const row of document.querySelectorAll('#rows tr')) (row as HTMLElement).dataset.drawn = 'before';
      document.querySelector('input[name="q"]')!.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(() => document.querySelector('#rows tr')?.getAttribute('data-drawn') === null);
    expect(await page.evaluate((href) => document.activeElement?.getAttribute('href') === href, target)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/${target}`);
    // The new view's heading takes the focus, so a screen reader announces where the user landed.
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');

    await page.getByLabel('Acting as').fill(operator);
    await page.getByLabel('Acting as').press('Tab');
    const ack = page.getByRole('button', { name: 'Acknowledge' });
    await ack.waitFor();
    await ack.focus();
    await page.keyboard.press('Enter');
    await page.locator('#head').getByText(`acknowledged by ${operator}`).waitFor();
    expect((await api<Incident>(`/api/incidents/${incidentA.id}`)).acknowledgedBy).toBe(operator);
  });

  it('plots the evidence around the onset with its baseline and shows the timeline', async () => {
    await page.locator('#charts .uplot canvas').first().waitFor();
    const chart = page.locator('#charts [role="img"]').first();
    expect(await chart.getAttribute('aria-label')).toMatch(/baseline|objective allows/);
    await page.locator('#charts').getByText(/^onset /).first().waitFor();
    expect(await timelineText()).toContain('incident.opened');
    await page.locator('#timeline').getByText('incident.acknowledged').waitFor();
    await page.locator('#timeline').getByText('alert.sent').waitFor({ timeout: 60_000 });
  });

  it('draws the exemplar traces kept with the incident as a waterfall, each span opening with the keyboard', async () => {
    type Traces = { traces: Array<{ traceId: string; reason: string; spans: Array<{ service: string; status: string }> }> };
    const waterfall = page.locator('#traces ol.waterfall').first();
    await waterfall.waitFor();
    // Signals still joining the incident may keep more traces (8 at most): the page follows, on their events.
    const { traces } = await eventually('the page to draw every trace kept with the incident', async () => {
      const kept = await api<Traces>(`/api/incidents/${incidentA.id}/traces`);
      return (await page.locator('#traces details.trace').count()) === kept.traces.length ? kept : undefined;
    });
    // The fault's failing requests first, whole: the agent's server span and the calls inside it.
    expect(traces[0]).toMatchObject({ reason: 'failing' });
    expect(traces[0]!.spans.length).toBeGreaterThan(1);
    expect(traces[0]!.spans.some((s) => s.status === 'error')).toBe(true);
    expect(await waterfall.locator('li.span').count()).toBe(traces[0]!.spans.length);
    await waterfall.locator('li.span-error').first().getByText('error', { exact: true }).waitFor();
    expect(await waterfall.locator('li.span .span-service').first().innerText()).toBe(serviceA);
    const first = waterfall.locator('li.span summary').first();
    await first.focus();
    await page.keyboard.press('Enter');
    await waterfall.locator('li.span details[open] dl.span-attributes').first().getByText('http.route').waitFor();
  });

  let silenceId = '';

  it('creates a silence from the incident labels', async () => {
    await page.getByText('Silence notifications like this one…').click();
    const form = page.locator('#silence-create');
    // Only the service: the next alert of this service, whatever its signal, is muted.
    for (const box of await form.getByRole('checkbox').all()) {
      const label = (await box.locator('xpath=..').innerText()).trim();
      if (label.startsWith('service=')) await box.check();
      else await box.uncheck();
    }
    await form.getByLabel('Comment').fill('restarting it by hand');
    await form.getByRole('button', { name: 'Create silence' }).click();
    await page.getByText(new RegExp(`Silence [0-9a-f]{8} created: service=${serviceA}\\.`)).waitFor();
    await page.getByText(/Notifications muted by silence/).waitFor();
    const silences = await api<Array<{ id: string; matchers: unknown; createdBy: string; comment: string; status: { state: string } }>>('/api/v2/silences');
    const made = silences.find((s) => s.comment === 'restarting it by hand');
    expect(made).toMatchObject({ createdBy: operator, status: { state: 'active' }, matchers: [{ name: 'service', value: serviceA, isRegex: false, isEqual: true }] });
    silenceId = made!.id;
  });

  it('approves the remediation that waits for it and follows it to validation and resolution', async () => {
    const approve = page.getByRole('button', { name: 'Approve' });
    // The healer's request for approval arrives on the open page through the event stream.
    await approve.waitFor({ timeout: 90_000 });
    await approve.click();
    await page.locator('#timeline').getByText('remediation.approved').waitFor();
    await eventually('the healer to restart agent A', () => agentA.lines.some((l) => l.includes('restart requested by the healer')) || undefined, 60_000);
    await page.locator('#timeline').getByText('remediation.validated').waitFor({ timeout: 90_000 });
    await page.locator('#head .pill.resolved').waitFor({ timeout: 90_000 });
    expect(await timelineText()).toMatch(/remediation\.approved\s+by e2e-browser/);
    // The approval and validation are marked on the evidence chart's legend.
    await page.locator('#charts').getByText(/^validated /).first().waitFor();
    await page.screenshot({ path: join(screenshots, 'incident.png'), fullPage: true });
  });

  it('mutes the next alert of the silenced service while another service still pages', async () => {
    expect(webhook.calls.filter((c) => c.body.status === 'firing' && c.body.incident.id === incidentA.id)).toHaveLength(1);
    // The fault recurs soon after the resolution: the incident reopens (and would page again), live on its page.
    await agentA.injectFault();
    await page.locator('#timeline').getByText('incident.reopened').waitFor({ timeout: 90_000 }).catch(async (error: Error) => {
      // What the policy did instead, for whoever reads a failure.
      const state = { incidents: await api('/api/incidents'), a: agentA.lines.slice(-5) };
      throw new Error(`${error.message}: ${JSON.stringify(state).slice(0, 4000)}`);
    });
    await page.locator('#head .pill.open').waitFor();
    await page.getByText(new RegExp(`Notifications muted by silence ${silenceId.slice(0, 8)}`)).waitFor();
    // Service B pages only after A reopened: the dispatcher's pass that sends B's page has seen A's
    // recurrence too and, with the same routing, would have paged for it first.
    // Another fault than A's (another error signature), so the incident policy keeps it apart from A's.
    const injected = await fetch(`${agentB.controlUrl}/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'provider-outage' }) });
    expect(injected.status).toBe(202);
    await eventually('the page for service B', () => webhook.calls.find((c) => c.body.status === 'firing' && c.body.incident.service === serviceB), 90_000).catch(async (error) => {
      const state = { incidents: await api('/api/incidents'), webhook: webhook.calls.map((c) => [c.body.status, c.body.incident?.service]), b: agentB.lines.slice(-5) };
      throw new Error(`${error.message}: ${JSON.stringify(state).slice(0, 4000)}`);
    });
    // Muted since the silence: neither A's resolution nor its recurrence was notified.
    expect(webhook.calls.filter((c) => c.body.incident?.id === incidentA.id).map((c) => c.body.status)).toEqual(['firing']);
  });

  it('rejects a remediation from the incident page', async () => {
    // The open list says which incident waits for a human, and leads to it.
    await page.goto(`${plane.consoleUrl}/#/incidents`);
    const row = page.locator('tr', { hasText: serviceB });
    await row.getByText('needs approval').waitFor({ timeout: 90_000 });
    await row.getByRole('link').click();
    const [incidentB] = await incidentsOf(serviceB);
    await page.waitForURL(`**/#/incidents/${encodeURIComponent(incidentB!.id)}`);
    const reject = page.getByRole('button', { name: 'Reject' });
    await reject.waitFor({ timeout: 90_000 });
    await reject.click();
    await page.locator('#timeline').getByText('remediation.rejected').waitFor();
    await page.locator('#remediation .pill.rejected').waitFor();
    const [remediation] = (await api<{ remediations: Array<{ status: string }> }>(`/api/remediations?incident=${incidentB!.id}`)).remediations;
    expect(remediation?.status).toBe('rejected');
    expect(agentB.lines.some((l) => l.includes('restart requested by the healer'))).toBe(false);
  });

  it('draws the service map with each service coloured by its health', async () => {
    await page.getByRole('link', { name: 'Services', exact: true }).click();
    const map = page.getByRole('group', { name: /^Service map/ });
    await map.waitFor();
    // B has an open incident (its remediation was rejected): red, and said in words too.
    await map.getByRole('link', { name: `${serviceB}: incident open` }).waitFor();
    await map.getByRole('link', { name: new RegExp(`^${serviceA}: `) }).waitFor();
    await map.getByRole('link', { name: new RegExp(`^${serviceA}: `) }).click();
    await page.locator('#c-latency .uplot canvas').waitFor();
    await page.locator('#c-throughput .uplot canvas').waitFor();
    // The demo agent's calls are POST /work: their latency is drawn and listed as an operation.
    await page.locator('#c-operations .uplot canvas').waitFor();
    const row = page.locator('#op-table tbody tr', { hasText: 'POST /work' });
    await row.waitFor();
    expect(await row.innerText()).toMatch(/^POST \/work\s+\d+\s+\d+ ms\s+\d+ ms$/);
  });

  it("forecasts a service's memory towards the limit it reports, with the prediction band drawn", async () => {
    // B was never restarted: its memory's course since it started is one stretch to fit.
    await page.goto(`${plane.consoleUrl}/#/services/${serviceB}`);
    const chart = page.locator('#forecasts [role="img"]').first();
    await chart.locator('.uplot canvas').waitFor();
    expect(await chart.getAttribute('aria-label')).toMatch(/^process\.memory\.usage: .* now, limit .*; forecast .* at .*, 95 % prediction band .* to .*; /);
    // The band is a uPlot band between the upper and lower edges, both in the legend.
    await chart.locator('.u-legend').getByText('upper (95 %)').waitFor();
    await chart.locator('.u-legend').getByText('lower (95 %)').waitFor();
    await page.locator('#forecasts').locator('..').screenshot({ path: join(screenshots, 'forecast.png') });
    const { forecasts } = await api<{ forecasts: Array<{ signal: string; forecast: Array<{ value: number; lower: number; upper: number }> }> }>(`/api/services/${serviceB}/forecasts`);
    const memory = forecasts.find((f) => f.signal === 'process.memory.usage')!;
    expect(memory.forecast.length).toBeGreaterThan(1);
    expect(memory.forecast.every((f) => f.lower <= f.value && f.value <= f.upper)).toBe(true);
  });

  it('shows what each agent spent on each model', async () => {
    await page.getByRole('link', { name: 'Spend', exact: true }).click();
    const rows = page.locator('#rows tr');
    await rows.filter({ hasText: serviceA }).first().waitFor();
    await rows.filter({ hasText: serviceB }).first().waitFor();
    expect(await rows.filter({ hasText: serviceA }).first().locator('td').nth(2).innerText()).toMatch(/^\$\d/);
    await page.locator('#spend-services .uplot canvas').waitFor();
  });

  it('finds no serious or critical accessibility violation with axe-core, and no error on the pages', async () => {
    const [incidentB] = await incidentsOf(serviceB);
    const views = ['#/incidents', `#/incidents/${encodeURIComponent(incidentA.id)}`, `#/incidents/${encodeURIComponent(incidentB!.id)}`, '#/services', `#/services/${serviceA}`, '#/spend', '#/remediations', '#/playbooks', '#/silences'];
    const found: string[] = [];
    for (const view of views) {
      await page.goto(`${plane.consoleUrl}/${view}`);
      await page.waitForFunction(() => document.documentElement.dataset.live === 'true' && document.querySelector('#view h1') !== null);
      const violations = await seriousViolations(page);
      found.push(...violations.map((v) => `${view}: ${v}`));
    }
    expect(found).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe('the console with API tokens, in a real browser', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => console.error(error));
  });

  it('asks for the token once, then lists incidents live and records who acts by the token', async () => {
    const fresh = await freshDatabase();
    cleanups.push(fresh.drop);
    const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
    cleanups.push(() => db.close());
    const app = createConsoleServer({
      sql: db.sql, logger: testLogger(), registry: newRegistry(), tokens: [{ name: 'alice', token: 's3cret' }],
      budgets: [{ service: 'checkout', period: 'daily', limitUsd: 5 }],
    });
    const url = `http://127.0.0.1:${await listen(app, '127.0.0.1', 0)}`;
    cleanups.push(() => app.close());
    const { page } = await launch(cleanups);

    await page.goto(`${url}/#/incidents`);
    await page.getByRole('heading', { name: 'API token needed' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('token');
    await page.getByLabel('API token').fill('wrong');
    await page.getByRole('button', { name: 'Save' }).click();
    // A wrong token is refused and asked for again, not kept silently.
    await page.getByRole('heading', { name: 'API token needed' }).waitFor();
    await page.getByLabel('API token').fill('s3cret');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('No open incidents. All quiet.').waitFor();
    await page.waitForFunction(() => document.documentElement.dataset.live === 'true');

    await handleIncidentCommand(db.sql, {
      type: 'OpenIncident', at: new Date().toISOString(), incidentId: 'token-1', service: 'checkout', signal: 'error_rate', severity: 'critical', summary: 'checkout error rate 40 %',
      value: 0.4, baseline: 0.01, calls: 100, errors: 40, windowStart: new Date().toISOString(), traceIds: [],
    });
    await page.getByRole('link', { name: 'checkout error rate 40 %' }).click();
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    // With tokens, who acts is the token's name, whatever "Acting as" says.
    await page.locator('#head').getByText('acknowledged by alice').waitFor();

    // A budget the console was given: its burn, and that it lasts the day at no spend.
    await page.getByRole('link', { name: 'Spend', exact: true }).click();
    const budget = page.locator('#budgets tr', { hasText: 'checkout' });
    await budget.waitFor();
    expect(await budget.innerText()).toMatch(/\$0\.0000 of \$5\.00[\s\S]*lasts until/);
    expect(await budget.locator('meter').getAttribute('aria-label')).toBe('checkout: 0.0 % of the budget spent');
    expect(await seriousViolations(page)).toEqual([]);
  });
});
