// For the demo's tests: a loopback OTLP/HTTP receiver that decodes what the agents export (protobuf)
// into the normalized records the analyzer reads.
import { once } from 'node:events';
import { createServer } from 'node:http';
import {
  decodeLogsProtobuf,
  decodeMetricsProtobuf,
  decodeTracesProtobuf,
  toLogRecords,
  toMetricPoints,
  toSpanRecords,
  type LogRecordNormalized,
  type MetricPoint,
  type SpanRecord,
} from '@hephaestus/schemas';

const decoded = <T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
};

export const startSink = async () => {
  const spans: SpanRecord[] = [];
  const metrics: MetricPoint[] = [];
  const logs: LogRecordNormalized[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (request.url === '/v1/traces') spans.push(...toSpanRecords(decoded(decodeTracesProtobuf(body))));
      if (request.url === '/v1/metrics') metrics.push(...toMetricPoints(decoded(decodeMetricsProtobuf(body))));
      if (request.url === '/v1/logs') logs.push(...toLogRecords(decoded(decodeLogsProtobuf(body))));
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    spans,
    metrics,
    logs,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
