// The on-call web console: one static page (ui/index.html) served at `/`, reading the same /api the
// tools use, so what an engineer sees and what a script reads never differ.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';

const page = readFileSync(new URL('./ui/index.html', import.meta.url));

export const registerConsoleUi = (app: FastifyInstance) => {
  const serve = async (_request: unknown, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'").send(page);
  // The page holds no data: it is served without a token, and asks for one to call the API.
  app.get('/', { config: { public: true } }, serve);
  app.get('/console', { config: { public: true } }, serve);
};
