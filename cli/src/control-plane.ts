// `heph up`: ingest, analyzer, healer, console and the event publisher in one process, on Kafka and
// PostgreSQL when configured, otherwise on embedded PGlite and the Postgres-backed log. Each service is
// wired by its own main.ts; `heph ingest | analyzer | healer | console` run the same wiring apart.
import { analyzerConfig, wireAnalyzer } from '@hephaestus/analyzer';
import { consoleConfig, wireConsole } from '@hephaestus/console';
import { healerConfig, wireHealer } from '@hephaestus/healer';
import { ingestConfig, wireIngest } from '@hephaestus/ingest';
import { newRegistry, openRuntime, startEventPublisher, type Logger, type Runtime, type ServiceParts } from '@hephaestus/platform';
import { z } from 'zod';

export const upConfig = ingestConfig.extend(analyzerConfig.shape).extend(healerConfig.shape).extend(consoleConfig.shape);
export type UpConfig = z.infer<typeof upConfig>;

export type ControlPlane = {
  runtime: Runtime;
  ingestUrl: string;
  consoleUrl: string;
  stop: () => Promise<void>;
};

export const startControlPlane = async (config: UpConfig, logger: Logger): Promise<ControlPlane> => {
  const runtime = await openRuntime(config, logger, 'heph');
  // One runtime and one metrics registry for all four services.
  const registry = newRegistry();
  const parts = (name: string): ServiceParts => ({ runtime, registry, logger: logger.child({ name }) });
  const stops: Array<() => Promise<unknown>> = [];
  let healer: Awaited<ReturnType<typeof wireHealer>> | undefined;
  try {
    const ingest = await wireIngest(config, parts('ingest'));
    stops.push(ingest.stop);
    // The healer first: its playbooks and GitHub's webhook route are the console's to serve.
    healer = await wireHealer(config, parts('healer'));
    const console_ = await wireConsole(config, parts('console'), healer);
    stops.push(console_.stop);
    const publisher = startEventPublisher(runtime.db, runtime.log, logger.child({ name: 'publisher' }));
    stops.push(publisher.stop);
    const analyzer = await wireAnalyzer(config, parts('analyzer'), console_.url);
    stops.push(analyzer.stop, healer.stop);

    logger.info({ ingest: ingest.url, console: console_.url, database: runtime.db.kind, log: runtime.log.kind }, 'control plane up');
    return {
      runtime,
      ingestUrl: ingest.url,
      consoleUrl: console_.url,
      stop: async () => {
        // Stop taking telemetry first, then the consumers, then the connections.
        for (const stop of stops) await stop();
        await runtime.close();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    // Nothing after the healer's stop joins the list can fail: stop it here when it is not listed yet.
    await healer?.stop().catch(() => {});
    await runtime.close();
    throw error;
  }
};
