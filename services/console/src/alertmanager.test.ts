// Alertmanager's API v2 and /api/silences on real PostgreSQL: every endpoint and error code, and the real
// amtool (Debian's prometheus-alertmanager, via deploy/local/amtool) run against the console unchanged.
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, listen, newRegistry, openDatabase, randomId, readStream, type Database, type Sql } from '@hephaestus/platform';
import { freshDatabase, testLogger } from '@hephaestus/platform/testing';
import { fingerprint, parseFilterMatcher, registerAlertmanagerApi } from './alertmanager.ts';
import { activeSilences } from '@hephaestus/aggregates';

const root = path.resolve(import.meta.dirname, '../../..');
const hourMs = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Answer = { status: number; type: string; body: any };

/** A console with only these routes, on a fresh database, listening on a free loopback port. */
const startConsole = async (extra: { maxPostedAlerts?: number } = {}) => {
  const fresh = await freshDatabase();
  const db = await openDatabase({ url: fresh.url, dataDir: '', log: testLogger() });
  const app = createHttpServer({ log: testLogger(), registry: newRegistry(), readiness: {} });
  const consoleUrl = 'http://console.test:8080';
  registerAlertmanagerApi(app, { sql: db.sql, logger: testLogger(), consoleUrl, ...extra });
  const port = await listen(app, '127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const response = await fetch(url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return { status: response.status, type, body: text && type.includes('json') ? JSON.parse(text) : text };
  };
  const close = async () => {
    await app.close();
    await db.close();
    await fresh.drop();
  };
  return { db, url, consoleUrl, call, close };
};

const insertIncident = (sql: Sql, i: { id: string; service: string; signal: string; labels?: Record<string, string>; status?: string; summary?: string }) => {
  const openedAt = new Date(Date.now() - 60_000);
  return sql`
    INSERT INTO incidents (id, service, signal, status, severity, summary, opened_at, baseline, window_start, version, labels)
    VALUES (${i.id}, ${i.service}, ${i.signal}, ${i.status ?? 'open'}, 'critical', ${i.summary ?? `${i.signal} on ${i.service}`},
            ${openedAt}, 0.01, ${openedAt}, 1, ${sql.json(i.labels ?? {})})`;
};

const silenceBody = (matchers: object[], overrides: Record<string, unknown> = {}) => ({
  matchers,
  startsAt: iso(Date.now()),
  endsAt: iso(Date.now() + hourMs),
  createdBy: 'alice',
  comment: 'deploying',
  ...overrides,
});
const eq = (name: string, value: string) => ({ name, value, isRegex: false, isEqual: true });

describe('Alertmanager API v2', () => {
  let c: Awaited<ReturnType<typeof startConsole>>;
  beforeAll(async () => {
    c = await startConsole();
  });
  afterAll(async () => {
    await c.close();
  });

  it('answers status with a ready cluster, version info, the configuration as YAML and the start time', async () => {
    const { status, body } = await c.call('GET', '/api/v2/status');
    expect(status).toBe(200);
    expect(body.cluster).toEqual({ status: 'ready', peers: [] });
    expect(Object.keys(body.versionInfo).sort()).toEqual(['branch', 'buildDate', 'buildUser', 'goVersion', 'revision', 'version']);
    expect(Object.values(body.versionInfo).every((v) => typeof v === 'string')).toBe(true);
    expect(body.config.original).toContain('receiver: hephaestus');
    expect(Date.parse(body.uptime)).toBeLessThanOrEqual(Date.now());
    expect(await c.call('GET', '/api/v2/receivers')).toMatchObject({ status: 200, body: [{ name: 'hephaestus' }] });
  });

  it('creates a silence as a silence.created event and serves it in Alertmanager\'s shape', async () => {
    const before = Date.now();
    const created = await c.call('POST', '/api/v2/silences', silenceBody([{ name: 'service', value: 'cart', isRegex: false }], { startsAt: iso(before - hourMs) }));
    expect(created.status).toBe(200);
    expect(created.body.silenceID).toMatch(uuid);
    const id = created.body.silenceID as string;

    const { status, body } = await c.call('GET', `/api/v2/silence/${id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id, matchers: [eq('service', 'cart')], createdBy: 'alice', comment: 'deploying', status: { state: 'active' } });
    // A silence cannot start in the past: Alertmanager moves its start to now.
    expect(Date.parse(body.startsAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.updatedAt)).toBeGreaterThanOrEqual(before);

    const events = await readStream(c.db.sql, `silence-${id}`);
    expect(events.map((e) => e.type)).toEqual(['silence.created']);
    expect(events[0]!.data).toMatchObject({ silenceId: id, createdBy: 'alice', endsAt: body.endsAt });
    expect((await activeSilences(c.db.sql, Date.now())).map((s) => s.id)).toContain(id);
  });

  it('expires an active silence with DELETE: a silence.expired event, its end moved to now, and DELETE again changes nothing', async () => {
    const id = (await c.call('POST', '/api/v2/silences', silenceBody([eq('service', 'expire-me')]))).body.silenceID;
    const deleted = await c.call('DELETE', `/api/v2/silence/${id}`);
    expect(deleted).toMatchObject({ status: 200, body: '' });
    const { body } = await c.call('GET', `/api/v2/silence/${id}`);
    expect(body.status.state).toBe('expired');
    expect(Date.parse(body.endsAt)).toBeLessThanOrEqual(Date.now());
    expect((await activeSilences(c.db.sql, Date.now())).map((s) => s.id)).not.toContain(id);

    expect((await c.call('DELETE', `/api/v2/silence/${id}`)).status).toBe(200);
    expect((await readStream(c.db.sql, `silence-${id}`)).map((e) => e.type)).toEqual(['silence.created', 'silence.expired']);
  });

  it('holds a future silence as pending, outside the active ones, and expiring it ends it where it starts', async () => {
    const startsAt = iso(Date.now() + hourMs);
    const id = (await c.call('POST', '/api/v2/silences', silenceBody([eq('service', 'later')], { startsAt, endsAt: iso(Date.now() + 2 * hourMs) }))).body.silenceID;
    expect((await c.call('GET', `/api/v2/silence/${id}`)).body).toMatchObject({ startsAt, status: { state: 'pending' } });
    expect((await activeSilences(c.db.sql, Date.now())).map((s) => s.id)).not.toContain(id);
    await c.call('DELETE', `/api/v2/silence/${id}`);
    const { body } = await c.call('GET', `/api/v2/silence/${id}`);
    expect(body.status.state).toBe('expired');
    expect(body.startsAt).toBe(body.endsAt);
  });

  it('updates a silence posted with its id by expiring it and creating a new one', async () => {
    const old = (await c.call('POST', '/api/v2/silences', silenceBody([eq('service', 'update-me')]))).body.silenceID;
    const updated = await c.call('POST', '/api/v2/silences', silenceBody([eq('service', 'update-me')], { id: old, endsAt: iso(Date.now() + 3 * hourMs), comment: 'longer' }));
    expect(updated.status).toBe(200);
    const fresh = updated.body.silenceID;
    expect(fresh).toMatch(uuid);
    expect(fresh).not.toBe(old);
    expect((await c.call('GET', `/api/v2/silence/${old}`)).body.status.state).toBe('expired');
    expect((await c.call('GET', `/api/v2/silence/${fresh}`)).body).toMatchObject({ comment: 'longer', status: { state: 'active' } });
    expect((await readStream(c.db.sql, `silence-${old}`)).at(-1)).toMatchObject({ type: 'silence.expired', data: { silenceId: old, by: 'alice' } });
  });

  it('refuses to update an unknown silence with 404 and the message Alertmanager sends', async () => {
    const answer = await c.call('POST', '/api/v2/silences', silenceBody([eq('service', 'x')], { id: randomId() }));
    expect(answer).toMatchObject({ status: 404, body: 'silence not found' });
    expect(answer.type).toContain('application/json');
  });

  it.each([
    [422, 'no matchers', silenceBody([]), { code: 612, message: 'matchers in body should have at least 1 items' }],
    [422, 'a matcher without isRegex', silenceBody([{ name: 'service', value: 'x' }]), { code: 602, message: 'matchers.0.isRegex in body is required' }],
    [422, 'no createdBy', { ...silenceBody([eq('service', 'x')]), createdBy: undefined }, { code: 602, message: 'createdBy in body is required' }],
    [400, 'a start after the end', silenceBody([eq('service', 'x')], { startsAt: iso(Date.now() + 2 * hourMs) }), 'Failed to create silence: start time must be before end time'],
    [400, 'an end in the past', silenceBody([eq('service', 'x')], { startsAt: iso(Date.now() - 2 * hourMs), endsAt: iso(Date.now() - hourMs) }), "Failed to create silence: end time can't be in the past"],
    [400, 'an invalid label name', silenceBody([eq('ser-vice', 'x')]), 'silence invalid: invalid label matcher 0: invalid label name "ser-vice"'],
    [400, 'only matchers matching the empty string', silenceBody([eq('service', ''), { name: 'team', value: '.*', isRegex: true }]), 'silence invalid: at least one matcher must not match the empty string'],
    [400, 'an empty createdBy', silenceBody([eq('service', 'x')], { createdBy: '' }), 'silence invalid: createdBy must not be empty'],
  ])('answers %i to a silence with %s', async (status, _name, body, answer) => {
    expect(await c.call('POST', '/api/v2/silences', body)).toMatchObject({ status, body: answer });
  });

  it('refuses a regex that does not compile, a body that is not JSON and a malformed time with 400', async () => {
    const regex = await c.call('POST', '/api/v2/silences', silenceBody([{ name: 'service', value: '(', isRegex: true }]));
    expect(regex.status).toBe(400);
    expect(regex.body).toMatch(/^silence invalid: invalid label matcher 0: invalid regular expression "\(": error parsing regexp/);
    expect(await c.call('POST', '/api/v2/silences', 'not json')).toMatchObject({ status: 400, body: { code: 400 } });
    const time = await c.call('POST', '/api/v2/silences', silenceBody([eq('service', 'x')], { startsAt: 'yesterday' }));
    expect(time).toMatchObject({ status: 400, body: { code: 400 } });
    expect(time.body.message).toContain('startsAt');
  });

  it('refuses a regex RE2 refuses (backreference, lookahead) with 400 and RE2\'s reason', async () => {
    for (const value of ['(a)\\1', '(?=a)a']) {
      const answer = await c.call('POST', '/api/v2/silences', silenceBody([{ name: 'service', value, isRegex: true }]));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatch(/^silence invalid: invalid label matcher 0: invalid regular expression .*: error parsing regexp: /);
    }
  });

  // No stopwatch: against 50 a's a backtracking engine would try 2⁵⁰ paths and fail on the timeout.
  it('matches a catastrophic-backtracking silence regex in linear time: the alert list answers at once', { timeout: 60_000 }, async () => {
    const created = await c.call('POST', '/api/v2/silences', silenceBody([{ name: 'alertname', value: '(a+)+b', isRegex: true }]));
    expect(created.status).toBe(200);
    expect((await c.call('POST', '/api/v2/alerts', [{ labels: { alertname: 'a'.repeat(50) } }])).status).toBe(200);
    const alerts = await c.call('GET', '/api/v2/alerts?filter=alertname%3D~%22(a%2B)%2Bb%22');
    expect(alerts.status).toBe(200);
    expect((await c.call('GET', '/api/v2/alerts')).body).toEqual([expect.objectContaining({ status: expect.objectContaining({ state: 'active' }) })]);
    await c.call('DELETE', `/api/v2/silence/${created.body.silenceID}`);
  });

  it('answers 404 for an unknown silence id and 422 for an id that is not a uuid', async () => {
    const unknown = randomId();
    expect((await c.call('GET', `/api/v2/silence/${unknown}`)).status).toBe(404);
    expect(await c.call('DELETE', `/api/v2/silence/${unknown}`)).toMatchObject({ status: 404, body: 'silence not found' });
    const notUuid = { status: 422, body: { code: 601, message: 'silenceID in path must be of type uuid: "not-a-uuid"' } };
    expect(await c.call('GET', '/api/v2/silence/not-a-uuid')).toMatchObject(notUuid);
    expect(await c.call('DELETE', '/api/v2/silence/not-a-uuid')).toMatchObject(notUuid);
  });

  it('lists silences active first (next to end first), then pending, then expired, and filters by matchers they contain', async () => {
    const post = async (body: object) => (await c.call('POST', '/api/v2/silences', body)).body.silenceID as string;
    const m = [eq('team', 'order'), { name: 'env', value: 'prod.*', isRegex: true, isEqual: true }];
    const late = await post(silenceBody(m, { endsAt: iso(Date.now() + 2 * hourMs) }));
    const soon = await post(silenceBody(m, { endsAt: iso(Date.now() + hourMs) }));
    const pending = await post(silenceBody(m, { startsAt: iso(Date.now() + hourMs), endsAt: iso(Date.now() + 2 * hourMs) }));
    const expired = await post(silenceBody(m));
    await c.call('DELETE', `/api/v2/silence/${expired}`);
    await post(silenceBody([eq('team', 'other')]));

    const listed = await c.call('GET', `/api/v2/silences?filter=${encodeURIComponent('team="order"')}&filter=${encodeURIComponent('env=~prod.*')}`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((s: { id: string }) => s.id)).toEqual([soon, late, pending, expired]);
    // The filter compares matchers, not labels: `env=prod` is not one of these silences' matchers.
    expect((await c.call('GET', `/api/v2/silences?filter=team%3Dorder&filter=env%3Dprod`)).body).toEqual([]);
    const withoutExpired = await c.call('GET', '/api/v2/silences?filter=team%3Dorder&expired=false&pending=false');
    expect(withoutExpired.body.map((s: { id: string }) => s.id)).toEqual([soon, late]);
    const all = await c.call('GET', '/api/v2/silences');
    expect(all.body.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses a filter that does not parse with 400', async () => {
    expect(await c.call('GET', '/api/v2/silences?filter=service')).toMatchObject({ status: 400, body: 'bad matcher format: service' });
    const regex = await c.call('GET', `/api/v2/silences?filter=${encodeURIComponent('service=~"("')}`);
    expect(regex.status).toBe(400);
    expect(regex.body).toMatch(/^error parsing regexp/);
    expect((await c.call('GET', `/api/v2/alerts?filter=${encodeURIComponent('a="b')}`)).body).toBe('matcher value contains unescaped double quote: "b');
  });

  it('parses filters as Alertmanager does: quotes, escapes, spaces and the four operators', () => {
    expect(parseFilterMatcher('service="check\\"out"')).toEqual({ ok: true, value: { name: 'service', value: 'check"out', isRegex: false, isEqual: true } });
    expect(parseFilterMatcher(' env !~ "dev|test" ')).toEqual({ ok: true, value: { name: 'env', value: 'dev|test', isRegex: true, isEqual: false } });
    expect(parseFilterMatcher('a!=b\\nc')).toEqual({ ok: true, value: { name: 'a', value: 'b\nc', isRegex: false, isEqual: false } });
    expect(parseFilterMatcher('service==')).toEqual({ ok: true, value: { name: 'service', value: '=', isRegex: false, isEqual: true } });
    expect(parseFilterMatcher('9lives=x').ok).toBe(false);
  });

  // No stopwatch: with 200,000 inner spaces a backtracking parse (4·10¹⁰ steps) would fail on the timeout.
  it('parses a filter far longer than a URL may be in linear time (no backtracking on inner spaces)', { timeout: 30_000 }, () => {
    const value = `x${' '.repeat(200_000)}x`;
    expect(parseFilterMatcher(`a=${value}   `)).toEqual({ ok: true, value: { name: 'a', value, isRegex: false, isEqual: true } });
  });

  it('computes the fingerprints Alertmanager computes for the same labels', () => {
    // Read from a real Alertmanager 0.25 for these label sets.
    expect(fingerprint({ alertname: 'HighLatency', service: 'checkout' })).toBe('6d0181b725a54201');
    expect(fingerprint({ service: 'cart', alertname: 'Other' })).toBe('a2c5ca1ad5578a2b');
  });

  describe('alerts', () => {
    beforeAll(async () => {
      await insertIncident(c.db.sql, { id: 'inc-labelled', service: 'payments', signal: 'error_rate', summary: 'payments failing', labels: { alertname: 'ErrorRateHigh', service: 'payments', severity: 'critical', team: 'money' } });
      await insertIncident(c.db.sql, { id: 'inc-bare', service: 'search', signal: 'latency_p95' });
      await insertIncident(c.db.sql, { id: 'inc-resolved', service: 'payments', signal: 'latency_p95', status: 'resolved' });
    });

    it('lists the open incidents as gettable alerts, falling back to the columns for labels', async () => {
      const { status, body } = await c.call('GET', '/api/v2/alerts?filter=service%3D~%22payments%7Csearch%22');
      expect(status).toBe(200);
      expect(body).toHaveLength(2);
      const labelled = body.find((a: { labels: Record<string, string> }) => a.labels.team === 'money');
      expect(labelled).toEqual({
        labels: { alertname: 'ErrorRateHigh', service: 'payments', severity: 'critical', team: 'money' },
        annotations: { summary: 'payments failing' },
        startsAt: expect.any(String),
        endsAt: '0001-01-01T00:00:00.000Z',
        updatedAt: expect.any(String),
        generatorURL: `${c.consoleUrl}/api/incidents/inc-labelled`,
        fingerprint: fingerprint(labelled.labels),
        status: { state: 'active', silencedBy: [], inhibitedBy: [] },
        receivers: [{ name: 'hephaestus' }],
      });
      const bare = body.find((a: { labels: Record<string, string> }) => a.labels.service === 'search');
      expect(bare.labels).toEqual({ alertname: 'latency_p95', service: 'search', signal: 'latency_p95', severity: 'critical' });
      // Alertmanager sorts by fingerprint.
      expect(body.map((a: { fingerprint: string }) => a.fingerprint)).toEqual(body.map((a: { fingerprint: string }) => a.fingerprint).sort());
    });

    it('marks a silenced alert suppressed, hides it with silenced=false, and shows only it with active=false', async () => {
      const id = (await c.call('POST', '/api/v2/silences', silenceBody([eq('team', 'money')]))).body.silenceID;
      const filter = `filter=${encodeURIComponent('service=~"payments|search"')}`;
      const all = (await c.call('GET', `/api/v2/alerts?${filter}`)).body;
      expect(all.find((a: { labels: Record<string, string> }) => a.labels.team === 'money').status).toEqual({ state: 'suppressed', silencedBy: [id], inhibitedBy: [] });
      const notSilenced = (await c.call('GET', `/api/v2/alerts?${filter}&silenced=false`)).body;
      expect(notSilenced.map((a: { labels: Record<string, string> }) => a.labels.service)).toEqual(['search']);
      const suppressedOnly = (await c.call('GET', `/api/v2/alerts?${filter}&active=false`)).body;
      expect(suppressedOnly.map((a: { labels: Record<string, string> }) => a.labels.team)).toEqual(['money']);
      await c.call('DELETE', `/api/v2/silence/${id}`);
    });

    it('filters by receiver regex and refuses a receiver regex that does not compile', async () => {
      expect((await c.call('GET', '/api/v2/alerts?receiver=nobody')).body).toEqual([]);
      expect((await c.call('GET', '/api/v2/alerts?receiver=heph.*')).body.length).toBeGreaterThanOrEqual(2);
      expect((await c.call('GET', '/api/v2/alerts?receiver=')).body.length).toBeGreaterThanOrEqual(2);
      const bad = await c.call('GET', '/api/v2/alerts?receiver=%28');
      expect(bad.status).toBe(400);
      expect(bad.body).toMatch(/^failed to parse receiver param: error parsing regexp/);
    });

    it('accepts posted alerts and lists them until they end, without the empty labels', async () => {
      const now = Date.now();
      const posted = await c.call('POST', '/api/v2/alerts', [
        { labels: { alertname: 'HighLatency', service: 'checkout', empty: '' }, annotations: { summary: 'slow' }, generatorURL: 'http://prometheus/graph' },
        { labels: { alertname: 'Other', service: 'cart' }, startsAt: iso(now - hourMs), endsAt: iso(now + hourMs) },
        { labels: { alertname: 'Gone', service: 'cart' }, startsAt: iso(now - hourMs), endsAt: iso(now - 1000) },
      ]);
      expect(posted).toMatchObject({ status: 200, body: '' });
      const { body } = await c.call('GET', '/api/v2/alerts?filter=service%3D~%22checkout%7Ccart%22');
      expect(body.map((a: { fingerprint: string }) => a.fingerprint)).toEqual(['6d0181b725a54201', 'a2c5ca1ad5578a2b']);
      expect(body[0]).toMatchObject({ labels: { alertname: 'HighLatency', service: 'checkout' }, annotations: { summary: 'slow' }, generatorURL: 'http://prometheus/graph', status: { state: 'active' } });
      // Without an end, an alert resolves after Alertmanager's resolve_timeout unless it is sent again.
      expect(Date.parse(body[0].endsAt) - Date.parse(body[0].startsAt)).toBe(5 * 60_000);
      expect(body[1]).toMatchObject({ startsAt: iso(now - hourMs), endsAt: iso(now + hourMs) });
      expect(body[1].generatorURL).toBeUndefined();
    });

    it('keeps posted alerts in PostgreSQL: another console on the same database lists them', async () => {
      await c.call('POST', '/api/v2/alerts', [{ labels: { alertname: 'Shared', service: 'search' }, annotations: { summary: 'from prometheus' } }]);
      const other = createHttpServer({ log: testLogger(), registry: newRegistry(), readiness: {} });
      registerAlertmanagerApi(other, { sql: c.db.sql, logger: testLogger(), consoleUrl: c.consoleUrl });
      const port = await listen(other, '127.0.0.1', 0);
      try {
        const listed = (await (await fetch(`http://127.0.0.1:${port}/api/v2/alerts?filter=alertname%3DShared`)).json()) as Array<Record<string, unknown>>;
        expect(listed).toEqual([expect.objectContaining({ labels: { alertname: 'Shared', service: 'search' }, annotations: { summary: 'from prometheus' } })]);
      } finally {
        await other.close();
      }
    });

    it('stores a request\'s alerts together, up to the cap of firing alerts: one sent again is no new one', async () => {
      const capped = await startConsole({ maxPostedAlerts: 3 });
      try {
        const alert = (name: string, summary = name) => ({ labels: { alertname: name }, annotations: { summary } });
        // The same alert twice in one request is one alert, the later one.
        expect(await capped.call('POST', '/api/v2/alerts', [alert('A', 'first'), alert('B'), alert('A', 'second')])).toMatchObject({ status: 200 });
        // A again (firing: no new one), C (the third), D (past the cap): A and C kept, D refused and said so.
        const over = await capped.call('POST', '/api/v2/alerts', [alert('A', 'third'), alert('C'), alert('D')]);
        expect(over).toMatchObject({ status: 500, body: 'more than 3 posted alerts are firing: 1 of this request\'s refused, 2 kept' });
        const listed = (await capped.call('GET', '/api/v2/alerts')).body as Array<{ labels: { alertname: string }; annotations: { summary: string } }>;
        expect(listed.map((a) => `${a.labels.alertname}:${a.annotations.summary}`).sort()).toEqual(['A:third', 'B:B', 'C:C']);
        // An alert that ended frees its place.
        await capped.call('POST', '/api/v2/alerts', [{ ...alert('B'), endsAt: iso(Date.now() - 1000) }]);
        expect(await capped.call('POST', '/api/v2/alerts', [alert('D')])).toMatchObject({ status: 200 });
      } finally {
        await capped.close();
      }
    });

    it('keeps the first start of an alert sent again while it fires', async () => {
      const now = Date.now();
      await c.call('POST', '/api/v2/alerts', [{ labels: { alertname: 'Repeat' }, startsAt: iso(now - hourMs) }]);
      await c.call('POST', '/api/v2/alerts', [{ labels: { alertname: 'Repeat' }, startsAt: iso(now), annotations: { summary: 'again' } }]);
      const [alert] = (await c.call('GET', '/api/v2/alerts?filter=alertname%3DRepeat')).body;
      expect(alert).toMatchObject({ startsAt: iso(now - hourMs), annotations: { summary: 'again' } });
    });

    it.each([
      [400, 'no labels', [{ labels: {} }], 'at least one label pair required'],
      [400, 'an invalid label name', [{ labels: { 'bad-name': 'x' } }], 'invalid label set: invalid name "bad-name"'],
      [400, 'an invalid annotation name', [{ labels: { a: 'b' }, annotations: { 'bad-name': 'x' } }], 'invalid annotations: invalid name "bad-name"'],
      [400, 'an end before its start', [{ labels: { a: 'b' }, startsAt: iso(Date.now()), endsAt: iso(Date.now() - hourMs) }], 'start time must be before end time'],
      [422, 'labels missing', [{ annotations: {} }], { code: 602, message: '0.labels in body is required' }],
      [422, 'a generatorURL that is not a URI', [{ labels: { a: 'b' }, generatorURL: 'not a url' }], { code: 601, message: '0.generatorURL in body must be of type uri: "not a url"' }],
      [400, 'an object instead of a list', {}, { code: 400 }],
      [400, 'a number as label value', [{ labels: { a: 1 } }], { code: 400 }],
    ])('answers %i to posted alerts with %s', async (status, _name, body, answer) => {
      expect(await c.call('POST', '/api/v2/alerts', body)).toMatchObject({ status, body: answer });
    });

    it('keeps the valid alerts of a batch that also holds invalid ones, and says what it refused', async () => {
      const answer = await c.call('POST', '/api/v2/alerts', [{ labels: { alertname: 'Kept' } }, { labels: {} }, { labels: { 'x-y': '1' } }]);
      expect(answer).toMatchObject({ status: 400, body: 'at least one label pair required; invalid label set: invalid name "x-y"' });
      expect((await c.call('GET', '/api/v2/alerts?filter=alertname%3DKept')).body).toHaveLength(1);
    });
  });
});

describe('/api/silences', () => {
  let c: Awaited<ReturnType<typeof startConsole>>;
  beforeAll(async () => {
    c = await startConsole();
  });
  afterAll(async () => {
    await c.close();
  });

  it('creates, lists, gets and expires silences in the same JSON as API v2', async () => {
    const created = await c.call('POST', '/api/silences', silenceBody([eq('service', 'billing')]));
    expect(created.status).toBe(200);
    const id = created.body.silenceID;
    expect(id).toMatch(uuid);
    const silence = (await c.call('GET', `/api/silences/${id}`)).body;
    expect(silence).toMatchObject({ id, matchers: [eq('service', 'billing')], createdBy: 'alice', status: { state: 'active' } });
    expect((await c.call('GET', `/api/v2/silence/${id}`)).body).toEqual(silence);
    expect((await c.call('GET', '/api/silences')).body).toEqual([silence]);

    const expired = await c.call('DELETE', `/api/silences/${id}`);
    expect(expired).toMatchObject({ status: 200, body: { id, status: { state: 'expired' } } });
    expect((await c.call('GET', '/api/silences?expired=false')).body).toEqual([]);
  });

  it('answers errors as application/problem+json: 400 for a refused body, 404 for an unknown id', async () => {
    const refused = await c.call('POST', '/api/silences', silenceBody([]));
    expect(refused.type).toContain('application/problem+json');
    expect(refused.body).toEqual({ type: 'about:blank', title: 'Bad Request', status: 400, detail: 'matchers in body should have at least 1 items' });
    const past = await c.call('POST', '/api/silences', silenceBody([eq('service', 'x')], { startsAt: iso(Date.now() - 2 * hourMs), endsAt: iso(Date.now() - hourMs) }));
    expect(past).toMatchObject({ status: 400, body: { status: 400, detail: "Failed to create silence: end time can't be in the past" } });
    const notJson = await c.call('POST', '/api/silences', '{');
    expect(notJson).toMatchObject({ status: 400, type: expect.stringContaining('application/problem+json'), body: { status: 400 } });
    const unknown = randomId();
    for (const method of ['GET', 'DELETE']) {
      const answer = await c.call(method, `/api/silences/${unknown}`);
      expect(answer).toMatchObject({ status: 404, body: { title: 'Not Found', status: 404, detail: `no silence ${unknown}` } });
      expect(answer.type).toContain('application/problem+json');
    }
    expect((await c.call('POST', '/api/silences', silenceBody([eq('service', 'x')], { id: unknown }))).status).toBe(404);
    expect((await c.call('GET', '/api/silences?filter=nope')).body).toMatchObject({ status: 400, detail: 'bad matcher format: nope' });
  });
});

describe('amtool against the console', () => {
  const exec = promisify(execFile);
  let c: Awaited<ReturnType<typeof startConsole>>;
  let amtool: string;
  // amtool runs as a child process: the server answers it from this process, so never execFileSync here.
  const run = async (...args: string[]) => (await exec(amtool, [`--alertmanager.url=${c.url}`, ...args], { env: { ...process.env, HOME: '/nonexistent' } })).stdout;

  beforeAll(async () => {
    process.env.AMTOOL ??= execFileSync(path.join(root, 'deploy/local/amtool'), { cwd: root, encoding: 'utf8' }).trim().split('\n').at(-1)!;
    amtool = process.env.AMTOOL;
    c = await startConsole();
  });
  afterAll(async () => {
    await c.close();
  });

  it('adds, queries and expires a silence', async () => {
    const id = (await run('silence', 'add', 'service=checkout', '--comment=deploying checkout', '--author=alice', '--duration=1h')).trim();
    expect(id).toMatch(uuid);

    const listed = JSON.parse(await run('silence', 'query', '-o', 'json'));
    expect(listed).toEqual([
      expect.objectContaining({ id, matchers: [eq('service', 'checkout')], createdBy: 'alice', comment: 'deploying checkout', status: { state: 'active' } }),
    ]);
    const ends = Date.parse(listed[0].endsAt) - Date.parse(listed[0].startsAt);
    expect(Math.abs(ends - hourMs)).toBeLessThan(5000);
    expect(await run('silence', 'query', 'service=checkout')).toContain(id);

    await run('silence', 'expire', id);
    expect(JSON.parse(await run('silence', 'query', '-o', 'json'))).toEqual([]);
    expect((await run('silence', 'query', '--expired', '-q')).trim()).toBe(id);
  });

  it('fails to expire an unknown silence: the 404 of current Alertmanagers, which amtool 0.25 reports as an undeclared status', async () => {
    await expect(run('silence', 'expire', randomId())).rejects.toThrow(/status 404/);
  });

  it('lists an open incident with alert query, and hides it once a silence matches it', async () => {
    await insertIncident(c.db.sql, { id: 'inc-amtool', service: 'checkout', signal: 'error_rate', summary: 'checkout errors above baseline', labels: { alertname: 'ErrorRateHigh', service: 'checkout', severity: 'critical' } });
    const alerts = JSON.parse(await run('alert', 'query', '-o', 'json'));
    expect(alerts).toEqual([
      expect.objectContaining({
        labels: { alertname: 'ErrorRateHigh', service: 'checkout', severity: 'critical' },
        annotations: { summary: 'checkout errors above baseline' },
        status: { state: 'active', silencedBy: [], inhibitedBy: [] },
      }),
    ]);
    const table = await run('alert', 'query');
    expect(table).toMatch(/ErrorRateHigh\s+\S+ \S+ UTC\s+checkout errors above baseline\s+active/);
    expect(await run('alert', 'query', 'service=checkout')).toContain('ErrorRateHigh');

    const id = (await run('silence', 'add', 'alertname=ErrorRateHigh', '--comment=known', '--author=bob', '--duration=10m')).trim();
    expect(JSON.parse(await run('alert', 'query', '-o', 'json'))).toEqual([]);
    const silenced = JSON.parse(await run('alert', 'query', '--silenced', '-o', 'json'));
    expect(silenced).toEqual([expect.objectContaining({ status: { state: 'suppressed', silencedBy: [id], inhibitedBy: [] } })]);
  });
});
