// The on-call web console: one static page (ui/index.html) with its script and style, and uPlot served
// from node_modules as published (no build step, nothing fetched from the network: the page works
// offline). The page reads the same /api the tools use, so what an engineer sees and what a script
// reads never differ.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const own = (file: string) => readFileSync(new URL(`./ui/${file}`, import.meta.url));

/** Every file the page loads, by URL: read once at start, so a missing one stops the console at once. */
const assets: Record<string, { type: string; body: Buffer }> = {
  '/assets/console.js': { type: 'text/javascript; charset=utf-8', body: own('console.js') },
  '/assets/render.js': { type: 'text/javascript; charset=utf-8', body: own('render.js') },
  '/assets/console.css': { type: 'text/css; charset=utf-8', body: own('console.css') },
  '/assets/uplot.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(uplotDir, 'uPlot.iife.min.js')) },
  '/assets/uplot.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(uplotDir, 'uPlot.min.css')) },
};
const page = own('index.html');

// Scripts only from the console itself; inline style attributes stay allowed (uPlot sizes its canvas
// with them, and the page positions its markers with them).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const registerConsoleUi = (app: FastifyInstance) => {
  // The page and its assets hold no data: served without a token; the page asks for one to call the API.
  const publicRoute = { config: { public: true } };
  for (const url of ['/', '/console']) {
    app.get(url, publicRoute, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', contentSecurityPolicy).header('cache-control', 'no-cache').send(page),
    );
  }
  for (const [url, asset] of Object.entries(assets)) {
    app.get(url, publicRoute, async (_request, reply) => reply.type(asset.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(asset.body));
  }
};
