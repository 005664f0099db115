// The web console page: served at / without a token (the API behind it keeps its own), with a strict
// content-security policy, and wired to the API routes that exist.
import { describe, expect, it } from 'vitest';
import { newRegistry } from '@hephaestus/platform';
import { testLogger } from '@hephaestus/platform/testing';
import type { Sql } from '@hephaestus/platform';
import { createConsoleServer } from './console.ts';
import { openApiDocument } from './openapi.ts';

const app = createConsoleServer({ sql: undefined as unknown as Sql, logger: testLogger(), registry: newRegistry(), tokens: [{ name: 'alice', token: 'secret' }] });

describe('web console', () => {
  it('serves the page at / and /console without a token while /api still asks for one', async () => {
    for (const url of ['/', '/console']) {
      const page = await app.inject(url);
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      // Scripts come only from the console itself: no inline script, nothing from elsewhere.
      expect(page.headers['content-security-policy']).toContain("script-src 'self';");
      expect(page.body).toContain('<title>Hephaestus</title>');
      expect(page.body).not.toMatch(/<script>|<script [^>]*src="(?!\/assets\/)/);
    }
    expect((await app.inject('/api/incidents')).statusCode).toBe(401);
  });

  it('serves every asset the page loads, uPlot included, from the console itself without a token', async () => {
    const page = (await app.inject('/')).body;
    const linked = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    // …and the modules the script imports, by their URL relative to it.
    const script = (await app.inject('/assets/console.js')).body;
    const imported = [...script.matchAll(/^import .* from '\.\/([^']+)';$/gm)].map((m) => `/assets/${m[1]}`);
    const assets = [...linked, ...imported];
    expect(assets.sort()).toEqual(['/assets/console.css', '/assets/console.js', '/assets/render.js', '/assets/uplot.css', '/assets/uplot.js']);
    for (const url of assets) {
      const asset = await app.inject(url);
      expect(asset.statusCode, url).toBe(200);
      expect(asset.headers['content-type']).toContain(url.endsWith('.js') ? 'text/javascript' : 'text/css');
      expect(asset.headers['x-content-type-options']).toBe('nosniff');
    }
    // The published uPlot build, as npm ships it (no build step here).
    expect((await app.inject('/assets/uplot.js')).body).toContain('uPlot');
  });

  it('only calls API paths the OpenAPI description documents', async () => {
    const script = (await app.inject('/assets/console.js')).body;
    // Alertmanager's API v2 (/api/v2/…) is described by Alertmanager's own OpenAPI document, not ours.
    const called = [...script.matchAll(/(?:api|post|fetch)\([`'](\/api\/[a-z0-9/]+)/g)].map((m) => m[1]!.replace(/\/$/, '')).filter((p) => !p.startsWith('/api/v2/'));
    expect(called).toEqual(expect.arrayContaining(['/api/incidents', '/api/events/stream', '/api/remediations', '/api/topology', '/api/services']));
    const documented = Object.keys(openApiDocument.paths).map((p) => p.replace(/\{[^}]+\}/g, ''));
    const undocumented = called.filter((path) => !documented.some((d) => d.replace(/\/$/, '').startsWith(path) || path.startsWith(d.replace(/\/$/, ''))));
    expect(undocumented).toEqual([]);
  });
});

describe('GitHub webhook route', () => {
  it('hands the exact bytes of the delivery to the fixer, without a bearer token, and answers with its status', async () => {
    const seen: Array<{ body: string; event: unknown }> = [];
    const withHook = createConsoleServer({
      sql: undefined as unknown as Sql,
      logger: testLogger(),
      registry: newRegistry(),
      tokens: [{ name: 'alice', token: 'secret' }],
      githubWebhooks: async (request) => {
        seen.push({ body: request.body, event: request.headers['x-github-event'] });
        return request.headers['x-hub-signature-256'] === 'sha256=good' ? { status: 202, message: 'accepted' } : { status: 401, message: 'bad signature' };
      },
    });
    // Key order and spacing matter to the HMAC: a parsed-and-reserialized body would not verify.
    const body = '{ "action":"completed",  "check_run": {"id": 1} }';
    const good = await withHook.inject({ method: 'POST', url: '/github/webhooks', payload: body, headers: { 'content-type': 'application/json', 'x-github-event': 'check_run', 'x-hub-signature-256': 'sha256=good' } });
    expect(good.statusCode).toBe(202);
    const bad = await withHook.inject({ method: 'POST', url: '/github/webhooks', payload: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=bad' } });
    expect(bad.statusCode).toBe(401);
    expect(seen[0]).toEqual({ body, event: 'check_run' });
    // JSON bodies elsewhere are still parsed as JSON.
    expect((await withHook.inject({ method: 'POST', url: '/api/incidents/x/ack', payload: { by: 'me' }, headers: { authorization: 'Bearer secret' } })).statusCode).not.toBe(415);
    await withHook.close();
  });
});
