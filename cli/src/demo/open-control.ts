// The demo agent's control endpoint when no control token is configured, open as the first demo agent's
// was (e2e/support.ts and a healer without HEPH_AGENT_CONTROL_TOKEN call it so): a loopback-only front
// that forwards each call to the SDK's token-protected endpoint with that endpoint's token.
import { createServer } from 'node:http';

export type OpenControl = { url: string; close(): Promise<void> };

const maxBodyBytes = 64 * 1024;
const forwardedHeaders = ['content-type', 'idempotency-key'];

export const startOpenControl = async (target: { url: string; token: string }, port = 0): Promise<OpenControl> => {
  const origin = new URL(target.url).origin;
  const server = createServer((request, response) => {
    const reply = (status: number, detail: string) =>
      response.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', status, detail }));
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    request.on('end', () => {
      if (size > maxBodyBytes) return reply(413, `the body is over ${maxBodyBytes} bytes`);
      const headers: Record<string, string> = { authorization: `Bearer ${target.token}` };
      for (const name of forwardedHeaders) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const method = request.method ?? 'GET';
      fetch(new URL(request.url ?? '/', origin), { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks) }).then(
        async (answer) => {
          // The first demo agent answered each action it took with 202; callers written against it expect that.
          const status = method === 'POST' && answer.ok ? 202 : answer.status;
          const replayed = answer.headers.get('idempotent-replayed');
          response
            .writeHead(status, { 'content-type': answer.headers.get('content-type') ?? 'application/json', ...(replayed ? { 'idempotent-replayed': replayed } : {}) })
            .end(Buffer.from(await answer.arrayBuffer()));
        },
        (error: unknown) => reply(502, `the control endpoint did not answer: ${error instanceof Error ? error.message : String(error)}`),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/control`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
};
