/**
 * The one wrapper around kafkajs (ENVIRONMENT.md: kafkajs is in maintenance mode, so it
 * stays behind this folder and can be swapped). Owns the client, its logging bridge and
 * the few admin calls the app needs; producer.ts and consumer.ts build on `kafka`.
 * Nothing outside src/ingest/kafka imports kafkajs or its types.
 */
import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from '../../observability/logger.ts';

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
  /** TCP connect timeout per broker. Default 3 s. */
  connectionTimeoutMs?: number;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
}

/** kafkajs log levels → pino methods; kafkajs only logs at WARN and above unless the app logs at debug. */
function bridge(logger: Logger) {
  const log = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log: { message, timestamp: _t, logger: _l, ...extra } }: LogEntry) => {
      const fields = { namespace, ...extra };
      // Expected: producer.ts bounds retries on purpose and replaces a failed producer.
      if (message.startsWith('Limiting retries for the idempotent producer')) log.debug(fields, message);
      else if (level === logLevel.ERROR) log.error(fields, message);
      else if (level === logLevel.WARN) log.warn(fields, message);
      else if (level === logLevel.INFO) log.info(fields, message);
      else log.debug(fields, message);
    };
}

export function createKafkaClient(o: KafkaClientOptions) {
  const kafka = new Kafka({
    clientId: o.clientId,
    brokers: [...o.brokers],
    connectionTimeout: o.connectionTimeoutMs ?? 3_000,
    logLevel: o.logger.isLevelEnabled('debug') ? logLevel.INFO : logLevel.WARN,
    logCreator: bridge(o.logger),
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
  });
  let admin: Admin | null = null;
  let adminConnecting: Promise<Admin> | null = null;

  /** One lazily connected admin client, shared by the calls below. */
  function getAdmin(): Promise<Admin> {
    if (admin) return Promise.resolve(admin);
    adminConnecting ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      admin = a;
      return a;
    })().finally(() => {
      adminConnecting = null;
    });
    return adminConnecting;
  }

  return {
    /** The raw kafkajs client, for the sibling modules of this folder only. */
    kafka,

    /** Creates the topics that do not exist yet (leaders elected before it resolves). */
    async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
      const a = await getAdmin();
      const existing = new Set(await a.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return;
      await a.createTopics({ waitForLeaders: true, topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.partitions })) });
    },

    /** Log-end offset (high watermark) per partition of a topic. */
    async highWatermarks(topic: string): Promise<Map<number, number>> {
      const a = await getAdmin();
      const rows = await a.fetchTopicOffsets(topic);
      return new Map(rows.map((r) => [r.partition, Number(r.high)]));
    },

    /** Offsets a consumer group committed per partition (absent = never committed). */
    async committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
      const a = await getAdmin();
      const [entry] = await a.fetchOffsets({ groupId, topics: [topic] });
      const out = new Map<number, number>();
      for (const p of entry?.partitions ?? []) if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset));
      return out;
    },

    async close(): Promise<void> {
      const a = admin ?? (adminConnecting ? await adminConnecting.catch(() => null) : null);
      admin = null;
      await a?.disconnect();
    },
  };
}

export type KafkaClient = ReturnType<typeof createKafkaClient>;
