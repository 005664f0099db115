// Wires ingest: onto the parts `heph up` shares, or as its own process (`heph ingest`).
import { listen, runtimeReadiness, startServiceProcess, type Logger, type ServiceParts } from '@hephaestus/platform';
import type { IngestConfig } from './config.ts';
import { createIngestServer } from './ingest.ts';

export const wireIngest = async (config: IngestConfig, { runtime, registry, logger }: ServiceParts) => {
  const server = createIngestServer({
    log: runtime.log,
    logger,
    registry,
    readiness: runtimeReadiness(runtime),
    tokens: config.HEPH_INGEST_TOKENS,
    maxBodyBytes: config.HEPH_INGEST_MAX_BODY_BYTES,
    writeTimeoutMs: config.HEPH_INGEST_WRITE_TIMEOUT_SECONDS * 1000,
    bodyTimeoutMs: config.HEPH_INGEST_BODY_TIMEOUT_SECONDS * 1000,
    maxInFlightBytes: config.HEPH_INGEST_MAX_IN_FLIGHT_BYTES,
    maxRecordBytes: config.HEPH_INGEST_MAX_RECORD_BYTES,
    limits: { maxAttributeValueLength: config.HEPH_INGEST_MAX_ATTRIBUTE_VALUE_LENGTH, maxAttributeCount: config.HEPH_INGEST_MAX_ATTRIBUTES },
  });
  const port = await listen(server, config.HEPH_INGEST_HOST, config.HEPH_INGEST_PORT);
  return {
    url: `http://${config.HEPH_INGEST_HOST}:${port}`,
    stop: async () => {
      await server.close();
    },
  };
};

/** `heph ingest`: it only writes to the log, so it runs no event publisher. */
export const startIngestProcess = (config: IngestConfig, logger: Logger) =>
  startServiceProcess({ service: 'ingest', config, logger, publishes: false, wire: (parts) => wireIngest(config, parts) });
