// Test helpers: real HTTP receivers on loopback that record every call, and a port that refuses.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceivedCall = { path: string; headers: Record<string, string | string[] | undefined>; raw: string; body: any };

/** Answers `status(call, n)` for its n-th request (200 by default), after `delayMs`, and records the calls it accepted. */
export const startLoopbackReceiver = async (status: (call: ReceivedCall, n: number) => number = () => 200, options: { delayMs?: number } = {}) => {
  const calls: ReceivedCall[] = [];
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const call = { path: request.url ?? '/', headers: request.headers, raw, body: raw ? JSON.parse(raw) : undefined };
      const code = status(call, requests++);
      if (code < 300) calls.push(call);
      const answer = () => response.writeHead(code, { 'content-type': 'application/json' }).end(code === 202 ? '{"status":"success","message":"Event processed"}' : '{}');
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** The calls answered with success. */
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

/** A loopback URL whose port was just freed: connections are refused. */
export const refusingUrl = async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/refused`;
};
