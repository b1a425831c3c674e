/**
 * The partitions one `tilecast worker` owns, each a small state machine whose steps are
 * serialised by a per-partition lock (batches, flushes and recovery never interleave):
 *
 *   assigned ─► recovering (paused) ─► running ─► backoff (paused) ─► recovering …
 *
 * - recovering: rebuild windows from the event log, continue at max(log, committed
 *   offset) via `seek`, resume fetching.
 * - running: batches go through the partition's pipeline (kafka-partition.ts); flushes
 *   write changed windows and progress.
 * - backoff: any storage/DLQ failure or timeout pauses the partition (nothing more is
 *   fetched, so memory stays bounded), drops its state and retries recovery with
 *   exponential backoff; the partition resumes by itself once storage answers.
 *
 * Revoked partitions are dropped without writing: everything consumed is already in
 * the event log and the next owner rebuilds from it.
 */
import type { KafkaClient } from '../ingest/kafka/client.ts';
import { isRebalanceError, type AssignmentChange, type ConsumedBatch, type PartitionConsumer } from '../ingest/kafka/consumer.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { PartitionStepError, type PartitionPipeline } from './kafka-partition.ts';
import { RegistryWaitError } from '../ingest/registry/resolver.ts';

export type Status = 'recovering' | 'running' | 'backoff';

interface Owned {
  partition: number;
  status: Status;
  pipeline: PartitionPipeline | null;
  lock: Promise<unknown>;
  failures: number;
  timer: NodeJS.Timeout | null;
  revoked: boolean;
}

export interface OwnedPartitionsDeps {
  topic: string;
  groupId: string;
  client: KafkaClient;
  metrics: Metrics;
  logger: Logger;
  maxBackoffMs: number;
  newPipeline: (partition: number) => PartitionPipeline;
  /** The group consumer (created after this object: its handlers call into it). */
  consumer: () => Pick<PartitionConsumer, 'pause' | 'resume' | 'seek' | 'owns'>;
  stopping: () => boolean;
}

/** Serialises work on one partition. */
function exclusive<T>(o: Owned, run: () => Promise<T>): Promise<T> {
  const result = o.lock.then(run);
  o.lock = result.catch(() => undefined);
  return result;
}

/** One fetched batch through a running partition's pipeline; resolves with the offset to continue at. */
interface BatchOutcomes {
  backoff: (o: Owned, err: unknown) => void;
  waitForRegistry: (o: Owned, err: RegistryWaitError) => void;
}

async function runBatch(o: Owned, batch: ConsumedBatch, metrics: Metrics, on: BatchOutcomes): Promise<number | undefined> {
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
    if (err instanceof RegistryWaitError) on.waitForRegistry(o, err);
    else on.backoff(o, err);
    return undefined;
  } finally {
    end();
  }
}

/** Longest a flush round waits for a partition busy with a batch before the others start without it. */
const GATHER_MS = 100;

/**
 * Flushes every running partition this member owns, together where it can: each
 * partition's flush takes its lock (waiting for its batch in progress), and the flushes
 * start once every lock is taken, or GATHER_MS after the round began (a partition whose
 * lock comes later flushes as soon as it has it). Flushes starting in the same turn of
 * the event loop share their statements (shared-writes.ts).
 */
async function flushRunning(all: Iterable<Owned>, owns: (partition: number) => boolean, backoff: (o: Owned, err: unknown) => void): Promise<Map<number, number>> {
  const commits = new Map<number, number>();
  let go = () => {};
  const start = new Promise<void>((resolve) => (go = resolve));
  const timer = setTimeout(go, GATHER_MS);
  const taken: Promise<void>[] = [];
  const done = [...all].map((o) => {
    let take = () => {};
    taken.push(new Promise<void>((resolve) => (take = resolve)));
    return exclusive(o, async () => {
      take();
      await start;
      const pipeline = o.pipeline;
      if (o.status !== 'running' || !pipeline || !owns(o.partition)) return;
      try {
        await pipeline.flush();
        commits.set(o.partition, pipeline.nextOffset());
      } catch (err) {
        backoff(o, err);
      }
    });
  });
  void Promise.all(taken).then(go);
  try {
    await Promise.all(done);
  } finally {
    clearTimeout(timer);
  }
  return commits;
}

/** What the module functions below share with createOwnedPartitions. */
interface OwnedContext {
  deps: OwnedPartitionsDeps;
  /** Whether `o` is still this member's state of its partition. */
  current: (o: Owned) => boolean;
  pausedCount: () => number;
}

/**
 * The schema registry did not answer before the batch was decoded: nothing of it was
 * applied and the pipeline is intact, so only pause, then fetch the batch again.
 */
function waitForRegistry(ctx: OwnedContext, o: Owned, err: RegistryWaitError): void {
  const { deps, current, pausedCount } = ctx;
  const { metrics, logger } = deps;
  o.status = 'backoff';
  deps.consumer().pause([o.partition]);
  metrics.kafkaPausedPartitions.set(pausedCount());
  logger.warn({ partition: o.partition, retryInMs: err.retryInMs, err: err.message }, 'kafka partition waits for the schema registry');
  o.timer = setTimeout(
    () =>
      void exclusive(o, async () => {
        o.timer = null;
        if (!current(o) || o.status !== 'backoff' || !o.pipeline || deps.stopping()) return;
        o.status = 'running';
        metrics.kafkaPausedPartitions.set(pausedCount());
        if (o.pipeline.nextOffset() > 0) deps.consumer().seek(o.partition, o.pipeline.nextOffset());
        deps.consumer().resume([o.partition]);
      }),
    err.retryInMs,
  );
}

export function createOwnedPartitions(deps: OwnedPartitionsDeps) {
  const { topic, metrics, logger } = deps;
  const owned = new Map<number, Owned>();
  const current = (o: Owned) => !o.revoked && owned.get(o.partition) === o;
  const pausedCount = () => [...owned.values()].filter((o) => o.status !== 'running').length;
  const ctx: OwnedContext = { deps, current, pausedCount };

  /** Rebuilds the partition from the log, positions the consumer and resumes it. */
  function recover(o: Owned): Promise<void> {
    return exclusive(o, async () => {
      o.timer = null;
      if (!current(o)) return;
      o.status = 'recovering';
      o.pipeline?.release();
      const pipeline = deps.newPipeline(o.partition);
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
        if (pipeline.nextOffset() > 0) deps.consumer().seek(o.partition, pipeline.nextOffset());
        deps.consumer().resume([o.partition]);
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
    deps.consumer().pause([o.partition]);
    o.pipeline?.release();
    o.pipeline = null;
    metrics.kafkaPausedPartitions.set(pausedCount());
    if (!current(o) || deps.stopping()) return;
    const delay = Math.min(deps.maxBackoffMs, 200 * 2 ** (o.failures - 1)) * (0.75 + Math.random() / 2);
    logger.warn({ partition: o.partition, stage, failures: o.failures, retryInMs: Math.round(delay), err: err instanceof Error ? err.message : String(err) }, 'kafka partition paused');
    o.timer = setTimeout(() => void recover(o), delay);
  }

  function revoke(p: number): void {
    const o = owned.get(p);
    if (!o) return;
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

  return {
    onAssignment(change: AssignmentChange): void {
      for (const p of change.revoked) revoke(p);
      for (const p of change.assigned) {
        const o: Owned = { partition: p, status: 'recovering', pipeline: null, lock: Promise.resolve(), failures: 0, timer: null, revoked: false };
        owned.set(p, o);
        metrics.kafkaAssignments.inc({ change: 'assigned' });
        void recover(o);
      }
      metrics.kafkaPausedPartitions.set(pausedCount());
    },

    /** Runs a fetched batch; resolves with the offset to continue at (undefined: not running). */
    onBatch(batch: ConsumedBatch): Promise<number | undefined> {
      const o = owned.get(batch.partition);
      if (!o) return Promise.resolve(undefined);
      return exclusive(o, () => runBatch(o, batch, metrics, { backoff, waitForRegistry: (w, err) => waitForRegistry(ctx, w, err) }));
    },

    /** Flushes every running partition this member still owns; returns the offsets to commit. */
    flush: (): Promise<Map<number, number>> => flushRunning(owned.values(), (p) => deps.consumer().owns(p), backoff),

    /** Log ends from a lag poll at `at`: lag per owned partition; an idle, caught-up partition stays fresh. */
    observeLogEnds(ends: ReadonlyMap<number, number>, at: number): void {
      for (const o of owned.values()) {
        const end = ends.get(o.partition);
        if (end === undefined || !o.pipeline) continue;
        o.pipeline.observeLogEnd(end, at);
        metrics.kafkaLag.set({ partition: String(o.partition) }, Math.max(0, end - o.pipeline.nextOffset()));
      }
    },

    /** Drops every partition's state without writing (after the last flush). */
    releaseAll(): void {
      for (const o of owned.values()) {
        if (o.timer) clearTimeout(o.timer);
        o.pipeline?.release();
      }
      owned.clear();
    },

    partitions: (): number[] => [...owned.keys()],
    list: (): { partition: number; status: Status; next: number | null }[] =>
      [...owned.values()].map((o) => ({ partition: o.partition, status: o.status, next: o.pipeline?.nextOffset() ?? null })),
  };
}
