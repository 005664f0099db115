// GitHub's webhook deliveries over plain node:http: the raw body (the signature covers its exact bytes)
// handed to the fixer, its answer sent back. Mount it at any path, e.g. POST /github/webhooks.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GitHubFixer } from './fixer.ts';

/** GitHub caps webhook payloads at 25 MB. */
const maxBodyBytes = 25 * 1024 * 1024;

export const webhookRequestListener = (fixer: Pick<GitHubFixer, 'handleWebhook'>) => (req: IncomingMessage, res: ServerResponse) => {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end('POST only');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBodyBytes) {
      res.writeHead(413).end('payload too large');
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    fixer
      .handleWebhook({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      .then((r) => res.writeHead(r.status, { 'content-type': 'text/plain' }).end(r.message))
      // The fixer's handlers only read the verified payload: one that throws is not the shape its event promises.
      .catch((error: unknown) => res.writeHead(400, { 'content-type': 'text/plain' }).end(`payload not understood: ${error instanceof Error ? error.message : String(error)}`));
  });
};
