// The ingest process the benchmark drives: one receiver on Kafka (acks all), reporting its own CPU
// time and peak RSS over IPC so the load generator's work is not counted.
import { createKafkaLog, createLogger, listen, newRegistry } from '@hephaestus/platform';
import { createIngestServer } from '@hephaestus/ingest';

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',');
const logger = createLogger({ level: 'warn' });
const log = createKafkaLog({ brokers, clientId: 'bench-ingest' }, logger);
await log.ensureTopics();
const app = createIngestServer({
  log,
  logger,
  registry: newRegistry(),
  tokens: ['bench'],
  maxBodyBytes: 16 * 1024 * 1024,
  writeTimeoutMs: 10_000,
  maxInFlightBytes: Number(process.env.MAX_IN_FLIGHT_BYTES ?? 16 * 1024 * 1024),
});
const port = await listen(app, '127.0.0.1', 0);

let peakRss = process.memoryUsage.rss();
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50).unref();
let cpuStart = process.cpuUsage();

process.on('message', (message: { type: string }) => {
  if (message.type === 'reset') {
    cpuStart = process.cpuUsage();
    peakRss = process.memoryUsage.rss();
    process.send!({ type: 'reset' });
  } else if (message.type === 'stats') {
    const cpu = process.cpuUsage(cpuStart);
    process.send!({ type: 'stats', cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: peakRss });
  } else if (message.type === 'stop') {
    void app.close().then(() => log.close()).then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port });
