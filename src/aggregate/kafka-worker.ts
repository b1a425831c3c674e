/**
 * `tilecast worker`: a Kafka consumer-group member that owns some partitions of
 * KAFKA_TOPIC and, per partition, runs the pipeline of kafka-partition.ts.
 *
 * Per owned partition, a small state machine, every step serialised by a per-partition
 * lock (batches, flushes and recovery never interleave):
 *
 *   assigned ─► recovering (paused) ─► running ─► backoff (paused) ─► recovering …
 *
 * - recovering: rebuild windows from the event log, continue at max(log, committed
 *   offset) via `seek`, resume fetching.
 * - running: batches go through the pipeline; every FLUSH_INTERVAL_MS changed windows
 *   and progress are written, then the offset is committed (advisory).
 * - backoff: any storage/DLQ failure or timeout pauses the partition (nothing more is
 *   fetched, so memory stays bounded), drops its state and retries recovery with
 *   exponential backoff; the partition resumes by itself once storage answers.
 *
 * Revoked partitions are dropped without writing: everything consumed is already in
 * the event log and the next owner rebuilds from it. Flushes only run while the
 * consumer says this member still owns the partition (see consumer.ts).
 */
import type { KafkaClient } from '../ingest/kafka/client.ts';
import { createPartitionConsumer, isRebalanceError, type AssignmentChange, type ConsumedBatch } from '../ingest/kafka/consumer.ts';
import type { KafkaProducer } from '../ingest/kafka/producer.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { DeadLetters } from '../storage/dead-letters.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { ProgressStore } from '../storage/progress-store.ts';
import type { WindowStore } from '../storage/window-store.ts';
import { createAggregator } from './aggregator.ts';
import { createPartitionPipeline, PartitionStepError, type PartitionPipeline } from './kafka-partition.ts';

export interface KafkaWorkerDeps {
  client: KafkaClient;
  producer: KafkaProducer;
  topic: string;
  dlqTopic: string;
  groupId: string;
  eventLog: EventLog;
  windowStore: WindowStore;
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
}

type Status = 'recovering' | 'running' | 'backoff';

interface Owned {
  partition: number;
  status: Status;
  pipeline: PartitionPipeline | null;
  lock: Promise<unknown>;
  failures: number;
  timer: NodeJS.Timeout | null;
  revoked: boolean;
}

export function createKafkaWorker(deps: KafkaWorkerDeps) {
  const { topic, metrics, logger, clock } = deps;
  const sessionTimeoutMs = deps.sessionTimeoutMs ?? 30_000;
  const stepTimeoutMs = Math.min(10_000, Math.floor(sessionTimeoutMs / 3));
  const maxBackoffMs = deps.maxBackoffMs ?? 5_000;
  const owned = new Map<number, Owned>();
  let flushTimer: NodeJS.Timeout | null = null;
  let stopping = false;

  const consumer = createPartitionConsumer(
    deps.client,
    logger,
    { groupId: deps.groupId, topic, sessionTimeoutMs, maxBytesPerPartition: deps.maxBytesPerPartition },
    { onAssignment, onBatch, onCrash },
  );

  /** Serialises work on one partition. */
  function exclusive<T>(o: Owned, run: () => Promise<T>): Promise<T> {
    const result = o.lock.then(run);
    o.lock = result.catch(() => undefined);
    return result;
  }

  const current = (o: Owned) => !o.revoked && owned.get(o.partition) === o;
  const pausedCount = () => [...owned.values()].filter((o) => o.status !== 'running').length;

  function newPipeline(partition: number): PartitionPipeline {
    return createPartitionPipeline({
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
          windowStore: deps.windowStore,
          progressStore: deps.progressStore,
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
    });
  }

  /** Rebuilds the partition from the log, positions the consumer and resumes it. */
  function recover(o: Owned): Promise<void> {
    return exclusive(o, async () => {
      o.timer = null;
      if (!current(o)) return;
      o.status = 'recovering';
      o.pipeline?.release();
      const pipeline = newPipeline(o.partition);
      o.pipeline = pipeline;
      try {
        const fromLog = await pipeline.recover();
        const committed = (await deps.client.committedOffsets(deps.groupId, topic)).get(o.partition) ?? 0;
        pipeline.startAt(committed);
        if (!current(o)) return;
        o.status = 'running';
        o.failures = 0;
        metrics.kafkaPausedPartitions.set(pausedCount());
        // Nothing logged or committed: kafkajs starts at the earliest retained offset.
        if (pipeline.nextOffset() > 0) consumer.seek(o.partition, pipeline.nextOffset());
        consumer.resume([o.partition]);
        logger.info({ partition: o.partition, fromLog, committed, next: pipeline.nextOffset() }, 'kafka partition ready');
      } catch (err) {
        backoff(o, err);
      }
    });
  }

  /** Called inside the partition's lock: pause, drop state, retry recovery later. */
  function backoff(o: Owned, err: unknown): void {
    const stage = err instanceof PartitionStepError ? err.stage : 'recover';
    metrics.kafkaStorageErrors.inc({ stage });
    o.failures += 1;
    o.status = 'backoff';
    consumer.pause([o.partition]);
    o.pipeline?.release();
    o.pipeline = null;
    metrics.kafkaPausedPartitions.set(pausedCount());
    if (!current(o) || stopping) return;
    const delay = Math.min(maxBackoffMs, 200 * 2 ** (o.failures - 1)) * (0.75 + Math.random() / 2);
    logger.warn({ partition: o.partition, stage, failures: o.failures, retryInMs: Math.round(delay), err: err instanceof Error ? err.message : String(err) }, 'kafka partition paused');
    o.timer = setTimeout(() => void recover(o), delay);
  }

  function onAssignment(change: AssignmentChange): void {
    for (const p of change.revoked) {
      const o = owned.get(p);
      if (!o) continue;
      owned.delete(p);
      o.revoked = true;
      if (o.timer) clearTimeout(o.timer);
      void exclusive(o, async () => {
        o.pipeline?.release();
        o.pipeline = null;
      });
      metrics.kafkaLag.remove({ partition: String(p) });
      metrics.kafkaAssignments.inc({ change: 'revoked' });
    }
    for (const p of change.assigned) {
      const o: Owned = { partition: p, status: 'recovering', pipeline: null, lock: Promise.resolve(), failures: 0, timer: null, revoked: false };
      owned.set(p, o);
      metrics.kafkaAssignments.inc({ change: 'assigned' });
      void recover(o);
    }
    metrics.kafkaPausedPartitions.set(pausedCount());
  }

  function onBatch(batch: ConsumedBatch): Promise<number | undefined> {
    const o = owned.get(batch.partition);
    if (!o) return Promise.resolve(undefined);
    return exclusive(o, async () => {
      const pipeline = o.pipeline;
      if (o.status !== 'running' || !pipeline) return undefined;
      const end = metrics.kafkaBatchDuration.startTimer();
      try {
        await pipeline.process(batch.messages, batch.highWatermark, batch.heartbeat);
        metrics.kafkaLag.set({ partition: String(o.partition) }, Math.max(0, batch.highWatermark - pipeline.nextOffset()));
        return pipeline.nextOffset();
      } catch (err) {
        // A rebalance noticed mid-batch: nothing was applied; let kafkajs rejoin.
        if (!(err instanceof PartitionStepError) && isRebalanceError(err)) throw err;
        backoff(o, err);
        return undefined;
      } finally {
        end();
      }
    });
  }

  function onCrash(err: Error, restart: boolean): void {
    logger.error({ err: err.message, restart }, 'kafka consumer crashed');
    if (!restart && !stopping) deps.onFatal(err);
  }

  /** Flushes every running partition this member still owns, then commits their offsets. */
  async function flushAll(): Promise<void> {
    const commits = new Map<number, number>();
    await Promise.all(
      [...owned.values()].map((o) =>
        exclusive(o, async () => {
          const pipeline = o.pipeline;
          if (o.status !== 'running' || !pipeline || !consumer.owns(o.partition)) return;
          try {
            await pipeline.flush();
            commits.set(o.partition, pipeline.nextOffset());
          } catch (err) {
            backoff(o, err);
          }
        }),
      ),
    );
    await consumer.commit(commits);
  }

  /** Lag per owned partition from the log end; an idle, caught-up partition stays fresh. */
  async function pollLag(): Promise<void> {
    const at = clock();
    const ends = await deps.client.highWatermarks(topic);
    for (const o of owned.values()) {
      const end = ends.get(o.partition);
      if (end === undefined) continue;
      const next = o.pipeline?.nextOffset();
      if (next === undefined) continue;
      o.pipeline!.observeLogEnd(end, at);
      metrics.kafkaLag.set({ partition: String(o.partition) }, Math.max(0, end - next));
    }
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
      consumer.pause([...owned.keys()]);
      await flushAll().catch(() => undefined);
      await consumer.stop();
      for (const o of owned.values()) {
        if (o.timer) clearTimeout(o.timer);
        o.pipeline?.release();
      }
      owned.clear();
    },

    /** Partitions this worker owns and their state (for readiness and tests). */
    partitions(): { partition: number; status: Status; next: number | null }[] {
      return [...owned.values()].map((o) => ({ partition: o.partition, status: o.status, next: o.pipeline?.nextOffset() ?? null }));
    },
  };
}

export type KafkaWorker = ReturnType<typeof createKafkaWorker>;
