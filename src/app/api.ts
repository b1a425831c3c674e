/**
 * Composition root of `tilecast api` (distributed mode): the same GraphQL/HTTP app as
 * `tilecast start`, with another ingest back end: POST /v1/events runs the same
 * pipeline (src/ingest/pipeline/: validate, key, token tenant, too old, dedupe, budget)
 * and its sink produces the counted events to KAFKA_TOPIC keyed by tenant, answering
 * 202 only once the broker acknowledged them (acks=all, idempotent producer). Rejected
 * items still become rows in `dead_letters`. This process is not the only writer of a
 * tenant's events, so its dedupe asks the event log (and remembers what it sent);
 * `tilecast worker` judges every event again by the same rule, then logs, aggregates
 * and writes windows.
 *
 * It needs KAFKA_BROKERS (where events go) and REDIS_URL (where the workers' window updates
 * and freshness ticks come from); without either it refuses to start (requireApiConfig).
 */
import { requireApiConfig, type Config } from '../config/index.ts';
import { createKafkaClient } from '../ingest/kafka/client.ts';
import { createKafkaProducer } from '../ingest/kafka/producer.ts';
import { createSchemaIdSource } from '../ingest/registry/producer-schema.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createKafkaSink } from '../ingest/sinks.ts';
import { requireModel } from '../model/compile.ts';
import { eventsJsonSchemaText } from '../model/json-schema.ts';
import type { ModelPlan } from '../model/types.ts';
import type { HttpRef } from '../ingest/intake.ts';
import { createApp, type AppOptions, type IngestBackend } from './app.ts';
import { kafkaTopicSources } from './sources.ts';

export interface ApiAppOptions {
  config: Config;
  /** The metric model (the workers' must be the same); default: TILECAST_MODEL, loaded once here. */
  plan?: ModelPlan;
  clock?: () => number;
  logger?: Logger;
  /** Tests only (see AppOptions). */
  subscriptionHooks?: AppOptions['subscriptionHooks'];
}

export async function createApiApp(o: ApiAppOptions) {
  // Before anything connects: a configuration that cannot work is refused with what to set.
  const config = requireApiConfig(o.config);
  const kafka = config.kafka;
  const plan = o.plan ?? (await requireModel(config.model.path));
  const logger = o.logger ?? createLogger(config.server.logLevel);
  const client = createKafkaClient({ brokers: kafka.brokers, clientId: 'tilecast-api', logger });
  // With a schema registry, records carry the registered schema's id (wire format).
  const producer = createKafkaProducer(client, logger, { schemaId: config.schemaRegistry && createSchemaIdSource({ ...config.schemaRegistry, schema: eventsJsonSchemaText(plan) }) });
  await client.ensureTopics([
    { topic: kafka.topic, partitions: kafka.topicPartitions },
    { topic: kafka.dlqTopic, partitions: 1 },
  ]);
  await producer.connect();

  const app = await createApp({
    ...o,
    plan,
    logger,
    role: 'api',
    // Freshness follows the workers of this topic (not an earlier embedded run's intake, nor another topic's partitions).
    sources: kafkaTopicSources(kafka.topic),
    // Broker reachable and the topic there: the offsets of its partitions answer.
    readinessChecks: {
      kafka: async () => ({ ok: true, detail: `${kafka.topic}: ${(await client.highWatermarks(kafka.topic)).size} partitions` }),
    },
    ingest: async ({ metrics }): Promise<IngestBackend> => ({
      sink: createKafkaSink<HttpRef>({
        send: async (events) => {
          await producer.sendEvents(kafka.topic, events);
          metrics.kafkaProduced.inc({ topic_kind: 'events' }, events.length);
        },
      }),
      soleWriter: false,
      aggregator: null,
      start: () => {},
      stop: async () => {},
      ready: async () => ({ ok: true, detail: 'events go to Kafka; tilecast worker aggregates' }),
    }),
  });

  return {
    ...app,
    /** Graceful: the app first (no more requests, sockets closed), then the producer. */
    async stop(): Promise<void> {
      await app.stop();
      await producer.close();
      await client.close();
    },
  };
}

export type ApiApp = Awaited<ReturnType<typeof createApiApp>>;
