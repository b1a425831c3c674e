/**
 * Composition root of `tilecast worker`: ClickHouse (CLICKHOUSE_URL in production, so
 * several workers share it), the Kafka consumer-group worker, and a tiny HTTP server
 * on WORKER_PORT with /metrics, /healthz and /readyz.
 *
 * Shutdown order (STYLE.md #11): stop consuming → flush windows → leave the group →
 * close Kafka clients → close HTTP → close ClickHouse.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKafkaWorker } from '../aggregate/kafka-worker.ts';
import type { Config } from '../config/index.ts';
import { createKafkaClient } from '../ingest/kafka/client.ts';
import { createKafkaProducer } from '../ingest/kafka/producer.ts';
import { createRegistryClient } from '../ingest/registry/client.ts';
import { createSchemaResolver } from '../ingest/registry/resolver.ts';
import { requireModel } from '../model/compile.ts';
import type { ModelPlan } from '../model/types.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createUpdateBus, type UpdateBus } from '../realtime/index.ts';
import { openStorage } from './storage.ts';
import { createDeadLetters } from '../storage/dead-letters.ts';
import { createEventLog } from '../storage/event-log.ts';
import { createProgressStore } from '../storage/progress-store.ts';
import { runChecks, storageChecks } from './readiness.ts';
import { createWindowStore } from '../storage/window-store.ts';
import { createMetricWindowStore } from '../storage/metric-window-store.ts';
import { prepareBackfill } from '../aggregate/backfill/background.ts';
import { createBackfillStore } from '../storage/backfill-store.ts';

export interface WorkerAppOptions {
  config: Config;
  /** The metric model (the api's must be the same); default: TILECAST_MODEL, loaded once here. */
  plan?: ModelPlan;
  clock?: () => number;
  logger?: Logger;
  /** Where window updates are published (default: Redis when REDIS_URL is set, else in-process only). */
  bus?: UpdateBus;
  /** kafkajs gave up; default: log and exit(1) so a supervisor restarts the process. */
  onFatal?: (err: Error) => void;
  /** Overrides for tests and benchmarks. */
  kafka?: { clientId?: string; maxBytesPerPartition?: number; maxBackoffMs?: number };
}

export async function createWorkerApp(o: WorkerAppOptions) {
  const { config } = o;
  if (!config.kafka) throw new Error('tilecast worker needs KAFKA_BROKERS');
  const kafka = config.kafka;
  // Before anything connects: a bad model is refused with every error in it.
  const model = o.plan ?? (await requireModel(config.model.path));
  const clock = o.clock ?? Date.now;
  const logger = o.logger ?? createLogger(config.server.logLevel);
  const metrics = createMetrics();
  const { db, plan } = await openStorage({ config, model, logger, metrics, role: 'worker' });

  const bus = o.bus ?? createUpdateBus({ redisUrl: config.redisUrl, channelPrefix: config.realtime.channelPrefix, logger, metrics });
  const client = createKafkaClient({ brokers: kafka.brokers, clientId: o.kafka?.clientId ?? 'tilecast-worker', logger });
  const producer = createKafkaProducer(client, logger);
  const registry = config.schemaRegistry;
  const framed = registry
    ? createSchemaResolver({ client: createRegistryClient({ url: registry.url }), subject: registry.subject, metricsRegistry: metrics.registry, clock })
    : undefined;
  const eventLog = createEventLog(db, plan);
  const metricStore = createMetricWindowStore(db);
  // Before any partition's aggregator writes: from now on this model's metrics are computed live.
  const backfill = await prepareBackfill({ plan, eventLog, metricStore, store: createBackfillStore(db), logger, at: clock(), redisUrl: config.redisUrl, prefix: config.realtime.channelPrefix });
  const worker = createKafkaWorker({
    plan,
    framed,
    client,
    producer,
    topic: kafka.topic,
    dlqTopic: kafka.dlqTopic,
    groupId: kafka.groupId,
    topicPartitions: kafka.topicPartitions,
    sessionTimeoutMs: kafka.sessionTimeoutMs,
    maxBytesPerPartition: o.kafka?.maxBytesPerPartition,
    maxBackoffMs: o.kafka?.maxBackoffMs,
    eventLog,
    windowStore: createWindowStore(db),
    metricStore,
    progressStore: createProgressStore(db),
    deadLetters: createDeadLetters(db),
    bus,
    metrics,
    logger,
    clock,
    allowedLatenessMs: config.aggregate.allowedLatenessMs,
    flushIntervalMs: config.aggregate.flushIntervalMs,
    currencyBudget: config.aggregate.currencyBudget,
    retentionDays: config.retention.eventsDays,
    onFatal:
      o.onFatal ??
      ((err) => {
        logger.fatal({ err: err.message }, 'kafka consumer gave up; exiting');
        process.exit(1);
      }),
  });

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = async () => {
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return res.end(await metrics.registry.metrics());
      }
      if (path === '/healthz') return json(200, { status: 'ok' });
      if (path === '/readyz') {
        // Per dependency, like the API's (src/app/readiness.ts); Kafka = every owned partition consuming.
        const partitions = worker.partitions();
        const r = await runChecks({
          ...storageChecks(db, config.storage.clickhouse.kind),
          kafka: async () => {
            const stuck = partitions.filter((p) => p.status !== 'running');
            return { ok: stuck.length === 0, detail: stuck.length ? `${stuck.map((p) => `${p.partition}: ${p.status}`).join(', ')}` : `${partitions.length} partitions consuming` };
          },
          ...(framed ? { schemaRegistry: async () => framed.status() } : {}),
        });
        return json(r.ready ? 200 : 503, { ...r, partitions });
      }
      return json(404, { error: 'not found' });
    };
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    reply().catch((err: unknown) => {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'worker http request failed');
      if (!res.headersSent) json(500, { error: 'internal error' });
    });
  });

  return {
    config,
    /** The metric model as this storage runs it (src/app/storage.ts): published formulas keep their pinned operands. */
    plan,
    metrics,
    worker,
    db,
    logger,
    /** Joins the group and listens on WORKER_PORT; resolves with the metrics URL base. */
    async start(): Promise<{ url: string; port: number }> {
      await worker.start();
      backfill.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(kafka.workerPort, config.server.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      return { url: `http://${config.server.host}:${port}`, port };
    },
    async stop(): Promise<void> {
      await backfill.stop();
      await worker.stop();
      await producer.close();
      await client.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await bus.close();
      await db.close();
    },
  };
}

export type WorkerApp = Awaited<ReturnType<typeof createWorkerApp>>;
