/**
 * Composition root of `tilecast api` (distributed mode): the same GraphQL/HTTP app as
 * `tilecast start`, but POST /v1/events validates (same intake steps: parse, Event v1,
 * token tenant, currency budget) and produces accepted events to KAFKA_TOPIC keyed by
 * tenant, answering 202 only once the broker acknowledged them (acks=all, idempotent
 * producer). Rejected items still become rows in `dead_letters`. Dedupe against the
 * event log, aggregation and window writes happen in `tilecast worker`.
 *
 * It needs KAFKA_BROKERS (where events go) and REDIS_URL (where the workers' window updates
 * and freshness ticks come from); without either it refuses to start (requireApiConfig).
 */
import { requireApiConfig, type Config } from '../config/index.ts';
import { createKafkaClient } from '../ingest/kafka/client.ts';
import { createKafkaProducer } from '../ingest/kafka/producer.ts';
import { createSchemaIdSource } from '../ingest/registry/producer-schema.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createApp, type AppOptions } from './app.ts';
import { kafkaTopicSources } from './sources.ts';

export interface ApiAppOptions {
  config: Config;
  clock?: () => number;
  logger?: Logger;
  /** Tests only (see AppOptions). */
  subscriptionHooks?: AppOptions['subscriptionHooks'];
}

export async function createApiApp(o: ApiAppOptions) {
  // Before anything connects: a configuration that cannot work is refused with what to set.
  const config = requireApiConfig(o.config);
  const kafka = config.kafka;
  const logger = o.logger ?? createLogger(config.server.logLevel);
  const client = createKafkaClient({ brokers: kafka.brokers, clientId: 'tilecast-api', logger });
  // With a schema registry, records carry the registered schema's id (wire format).
  const producer = createKafkaProducer(client, logger, { schemaId: config.schemaRegistry && createSchemaIdSource(config.schemaRegistry) });
  await client.ensureTopics([
    { topic: kafka.topic, partitions: kafka.topicPartitions },
    { topic: kafka.dlqTopic, partitions: 1 },
  ]);
  await producer.connect();

  let produced: ((n: number) => void) | null = null;
  const app = await createApp({
    ...o,
    logger,
    // Freshness follows the workers of this topic (not an earlier embedded run's intake, nor another topic's partitions).
    sources: kafkaTopicSources(kafka.topic),
    // Broker reachable and the topic there: the offsets of its partitions answer.
    readinessChecks: {
      kafka: async () => ({ ok: true, detail: `${kafka.topic}: ${(await client.highWatermarks(kafka.topic)).size} partitions` }),
    },
    deliver: async (events) => {
      await producer.sendEvents(kafka.topic, events);
      produced?.(events.length);
    },
  });
  produced = (n) => app.metrics.kafkaProduced.inc({ topic_kind: 'events' }, n);

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
