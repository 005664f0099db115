// Realistic agent spans for the benchmarks: 10 attributes and one event each, 512 to a request.
import { randomBytes } from 'node:crypto';

export const agentSpans = (count: number, service = 'bench-agent') => {
  const traceId = randomBytes(16).toString('hex');
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: service } },
            { key: 'service.version', value: { stringValue: '1.4.2' } },
            { key: 'host.name', value: { stringValue: 'agent-host-7' } },
          ],
        },
        scopeSpans: [
          {
            scope: { name: '@hephaestus/agent', version: '0.1.0' },
            spans: Array.from({ length: count }, (_, i) => ({
              traceId,
              spanId: randomBytes(8).toString('hex'),
              parentSpanId: i === 0 ? '' : randomBytes(8).toString('hex'),
              name: i % 3 === 0 ? 'chat gpt-4o-mini' : i % 3 === 1 ? 'tool search_docs' : 'POST /v1/plan',
              kind: i % 3 === 2 ? 2 : 3,
              startTimeUnixNano: (start + BigInt(i) * 1000n).toString(),
              endTimeUnixNano: (start + BigInt(i) * 1000n + 250_000_000n).toString(),
              attributes: [
                { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
                { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
                { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
                { key: 'gen_ai.response.model', value: { stringValue: 'gpt-4o-mini-2024-07-18' } },
                { key: 'gen_ai.usage.input_tokens', value: { intValue: String(300 + i) } },
                { key: 'gen_ai.usage.output_tokens', value: { intValue: String(80 + (i % 50)) } },
                { key: 'gen_ai.request.temperature', value: { doubleValue: 0.2 } },
                { key: 'http.request.method', value: { stringValue: 'POST' } },
                { key: 'server.address', value: { stringValue: 'api.openai.com' } },
                { key: 'heph.cache.hit', value: { boolValue: i % 4 === 0 } },
              ],
              events: [{ name: 'gen_ai.choice', timeUnixNano: (start + BigInt(i) * 1000n + 200_000_000n).toString(), attributes: [{ key: 'finish_reason', value: { stringValue: 'stop' } }] }],
              status: { code: i % 50 === 0 ? 2 : 1 },
            })),
          },
        ],
      },
    ],
  };
};
