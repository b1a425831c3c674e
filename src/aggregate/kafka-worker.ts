/**
 * `tilecast worker`: a Kafka consumer-group member that owns some partitions of
 * KAFKA_TOPIC and, per partition, runs the pipeline of kafka-partition.ts through the
 * state machine of kafka-owned.ts (recovering → running → backoff).
 *
 * Every FLUSH_INTERVAL_MS: poll the log ends (lag, freshness of idle partitions), write
 * changed windows and progress of every running partition — together, one statement per
 * table for all of them (shared-writes.ts) — then commit their offsets
 * (advisory: the event log says where a partition continues). Flushes only run while
 * the consumer says this member still owns the partition (see consumer.ts).
 */
import type { KafkaClient } from '../ingest/kafka/client.ts';
import { createPartitionConsumer } from '../ingest/kafka/consumer.ts';
import type { KafkaProducer } from '../ingest/kafka/producer.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { DeadLetters } from '../storage/dead-letters.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { ProgressStore } from '../storage/progress-store.ts';
import type { WindowStore } from '../storage/window-store.ts';
import type { MetricWindowStore } from '../storage/metric-window-store.ts';
import type { ModelPlan } from '../model/types.ts';
import { createAggregator } from './aggregator.ts';
import { createOwnedPartitions } from './kafka-owned.ts';
import { createSharedWrites } from './shared-writes.ts';
import { createPartitionPipeline, type PartitionPipeline } from './kafka-partition.ts';
import type { FramedDecoder } from '../ingest/registry/resolver.ts';

export interface KafkaWorkerDeps {
  /** The metric model: events are validated with it, and its stored metrics aggregated into metric_windows (with `metricStore`). */
  plan: ModelPlan;
  client: KafkaClient;
  producer: KafkaProducer;
  topic: string;
  dlqTopic: string;
  groupId: string;
  eventLog: EventLog;
  windowStore: WindowStore;
  /** Where the partitions' aggregators write the model's cells; default none (only `windows`). */
  metricStore?: MetricWindowStore;
  progressStore: ProgressStore;
  deadLetters: DeadLetters;
  bus: UpdateBus;
  metrics: Metrics;
  logger: Logger;
  clock: () => number;
  allowedLatenessMs: number;
  flushIntervalMs: number;
  currencyBudget: number;
  /** RETENTION_EVENTS_DAYS (0 = keep forever). */
  retentionDays: number;
  /** Partitions of `topic` if the worker has to create it. Default 4. */
  topicPartitions?: number;
  /** Default 30 s; also bounds how long one storage step may take (a third of it, at most 10 s). */
  sessionTimeoutMs?: number;
  /** Longest pause between recovery attempts. Default 5 s. */
  maxBackoffMs?: number;
  /** Fetch size per partition (bounds memory and batch size). Default 4 MiB. */
  maxBytesPerPartition?: number;
  /** kafkajs gave up on the consumer (non-retriable): the process should exit and be restarted. */
  onFatal: (err: Error) => void;
  /** Reads schema-registry framed records (see kafka-partition.ts). */
  framed?: FramedDecoder;
}

export function createKafkaWorker(deps: KafkaWorkerDeps) {
  const { topic, metrics, logger, clock } = deps;
  const sessionTimeoutMs = deps.sessionTimeoutMs ?? 30_000;
  const stepTimeoutMs = Math.min(10_000, Math.floor(sessionTimeoutMs / 3));
  let flushTimer: NodeJS.Timeout | null = null;
  let stopping = false;
  // The partitions' flushes run together (kafka-owned.ts): their writes share statements.
  const stores = createSharedWrites({ windowStore: deps.windowStore, progressStore: deps.progressStore, ...(deps.metricStore ? { metricStore: deps.metricStore } : {}) });

  function newPipeline(partition: number): PartitionPipeline {
    return createPartitionPipeline({
      plan: deps.plan,
      topic,
      partition,
      eventLog: deps.eventLog,
      deadLetters: deps.deadLetters,
      sendToDlq: (records) => deps.producer.send(deps.dlqTopic, records),
      createAggregator: ({ source, processedThrough, caughtUp }) =>
        createAggregator({
          source,
          processedThrough,
          caughtUp,
          eventLog: deps.eventLog,
          windowStore: stores.windowStore,
          ...(stores.metricStore ? { plan: deps.plan, metricStore: stores.metricStore } : {}),
          progressStore: stores.progressStore,
          bus: deps.bus,
          clock,
          logger,
          metrics,
          allowedLatenessMs: deps.allowedLatenessMs,
          flushIntervalMs: deps.flushIntervalMs,
        }),
      currencyBudget: deps.currencyBudget,
      retentionDays: deps.retentionDays,
      metrics,
      clock,
      stepTimeoutMs,
      framed: deps.framed,
    });
  }

  const owned = createOwnedPartitions({
    topic,
    groupId: deps.groupId,
    client: deps.client,
    metrics,
    logger,
    maxBackoffMs: deps.maxBackoffMs ?? 5_000,
    newPipeline,
    consumer: () => consumer,
    stopping: () => stopping,
  });
  const consumer = createPartitionConsumer(
    deps.client,
    logger,
    { groupId: deps.groupId, topic, sessionTimeoutMs, maxBytesPerPartition: deps.maxBytesPerPartition },
    { onAssignment: owned.onAssignment, onBatch: owned.onBatch, onCrash },
  );

  function onCrash(err: Error, restart: boolean): void {
    logger.error({ err: err.message, restart }, 'kafka consumer crashed');
    if (!restart && !stopping) deps.onFatal(err);
  }

  /** Flushes every running partition this member still owns, then commits their offsets. */
  async function flushAll(): Promise<void> {
    await consumer.commit(await owned.flush());
  }

  async function pollLag(): Promise<void> {
    const at = clock();
    owned.observeLogEnds(await deps.client.highWatermarks(topic), at);
  }

  function scheduleFlush(): void {
    if (stopping) return;
    flushTimer = setTimeout(() => {
      pollLag()
        .catch((err: unknown) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'lag poll failed'))
        .then(flushAll)
        .catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'flush round failed'))
        .finally(scheduleFlush);
    }, deps.flushIntervalMs);
  }

  return {
    async start(): Promise<void> {
      await deps.client.ensureTopics([
        { topic, partitions: deps.topicPartitions ?? 4 },
        { topic: deps.dlqTopic, partitions: 1 },
      ]);
      await deps.producer.connect();
      await consumer.start();
      scheduleFlush();
    },

    /**
     * Graceful: stop fetching, let running batches finish, write what is pending while
     * the partitions are still ours, commit, then leave the group.
     */
    async stop(): Promise<void> {
      stopping = true;
      if (flushTimer) clearTimeout(flushTimer);
      consumer.pause(owned.partitions());
      await flushAll().catch(() => undefined);
      await consumer.stop();
      owned.releaseAll();
    },

    /** Partitions this worker owns and their state (for readiness and tests). */
    partitions: owned.list,
  };
}

export type KafkaWorker = ReturnType<typeof createKafkaWorker>;
