/**
 * A consumer-group member for one topic, reduced to what a partition-owning worker
 * needs: batches per partition, assignment changes, pause/resume/seek and explicit
 * offset commits. Offsets are never committed or resolved behind the caller's back
 * (autoCommit off, eachBatchAutoResolve off): the caller decides where each partition
 * continues, with `seek`, and what to commit.
 *
 * Ownership: kafkajs uses the eager rebalance protocol and only rejoins the group after
 * every running batch handler returned, so a partition's new owner cannot receive a
 * batch while its previous owner is still inside one. Work done outside batch handlers
 * (timer flushes) must check `owns()` first: it is false from the moment a rebalance is
 * detected until the new assignment arrives, and whenever the last successful heartbeat
 * is older than half the session timeout (a stalled process may have been expelled).
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Logger } from '../../observability/logger.ts';
import type { KafkaClient } from './client.ts';

/** A consumed record (a structural view of kafkajs' message; offsets and timestamps are decimal strings). */
export interface ConsumedMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers?: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
}

export interface ConsumedBatch {
  readonly partition: number;
  readonly messages: readonly ConsumedMessage[];
  /** Log-end offset of the partition when fetched. */
  readonly highWatermark: number;
  /** Keeps the group membership alive during long work; throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
}

export interface AssignmentChange {
  /** Partitions this member did not own without interruption before: rebuild their state. */
  assigned: number[];
  /** Partitions this member no longer owns: drop their state without writing. */
  revoked: number[];
  /** Partitions owned before and after with the same membership: their state is still valid. */
  kept: number[];
}

export interface PartitionConsumerHandlers {
  /**
   * Called synchronously before anything is fetched for the new assignment; newly
   * assigned partitions start paused and are resumed by the caller once ready.
   */
  onAssignment(change: AssignmentChange): void;
  /**
   * Handles a batch; resolves with the offset the partition continues at (the next
   * fetch starts there), or undefined to leave the position alone (e.g. the caller
   * paused the partition and will `seek` before resuming it).
   */
  onBatch(batch: ConsumedBatch): Promise<number | undefined>;
  /** kafkajs crashed the consumer; it restarts (and reassigns) by itself when `restart`. */
  onCrash(err: Error, restart: boolean): void;
}

export interface PartitionConsumerOptions {
  groupId: string;
  topic: string;
  /** Default 30 s. A dead member's partitions wait this long before moving. */
  sessionTimeoutMs?: number;
  /** Bytes fetched per partition per request (bounds memory and batch size). Default 4 MiB. */
  maxBytesPerPartition?: number;
  /** Longest a fetch waits for data when idle. Default 250 ms. */
  maxWaitTimeMs?: number;
  /** Partitions processed at once. Default 4. */
  concurrency?: number;
}

const isRebalanceError = (err: unknown): boolean =>
  /REBALANCE_IN_PROGRESS|rebalancing|NOT_COORDINATOR|ILLEGAL_GENERATION|UNKNOWN_MEMBER_ID/i.test(
    `${(err as { type?: string }).type ?? ''} ${err instanceof Error ? err.message : String(err)}`,
  );

export function createPartitionConsumer(client: KafkaClient, logger: Logger, o: PartitionConsumerOptions, handlers: PartitionConsumerHandlers) {
  const sessionTimeoutMs = o.sessionTimeoutMs ?? 30_000;
  const consumer: Consumer = client.kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeoutMs / 10)),
    rebalanceTimeout: Math.max(sessionTimeoutMs, 20_000),
    maxBytesPerPartition: o.maxBytesPerPartition ?? 4 * 1024 * 1024,
    maxBytes: 4 * (o.maxBytesPerPartition ?? 4 * 1024 * 1024),
    maxWaitTimeInMs: o.maxWaitTimeMs ?? 250,
    allowAutoTopicCreation: false,
  });
  const { topic } = o;
  let owned = new Set<number>();
  let memberId: string | null = null;
  let rebalancing = false;
  let lastHeartbeatAt = 0;

  const changeAssignment = (next: Set<number>, nextMember: string | null) => {
    const continuous = memberId !== null && memberId === nextMember;
    const change: AssignmentChange = { assigned: [], revoked: [], kept: [] };
    for (const p of owned) if (!next.has(p) || !continuous) change.revoked.push(p);
    for (const p of next) (owned.has(p) && continuous ? change.kept : change.assigned).push(p);
    owned = next;
    memberId = nextMember;
    if (change.assigned.length) consumer.pause([{ topic, partitions: change.assigned }]);
    handlers.onAssignment(change);
  };

  consumer.on(consumer.events.HEARTBEAT, () => {
    lastHeartbeatAt = Date.now();
  });
  consumer.on(consumer.events.REBALANCING, () => {
    rebalancing = true;
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    rebalancing = false;
    lastHeartbeatAt = Date.now();
    const partitions = payload.memberAssignment[topic] ?? [];
    logger.info({ memberId: payload.memberId, partitions }, 'kafka assignment');
    changeAssignment(new Set(partitions), payload.memberId);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    rebalancing = false;
    changeAssignment(new Set(), null);
    handlers.onCrash(payload.error, payload.restart);
  });

  async function eachBatch({ batch, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    if (!owned.has(batch.partition)) return;
    const next = await handlers.onBatch({
      partition: batch.partition,
      messages: batch.messages,
      highWatermark: Number(batch.highWatermark),
      heartbeat,
    });
    // kafkajs fetches from the last resolved offset + 1.
    if (next !== undefined && next > 0) resolveOffset(String(next - 1));
  }

  return {
    async start(): Promise<void> {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.concurrency ?? 4,
        eachBatch,
      });
    },

    /** True while this member may write on behalf of `partition` (see the module comment). */
    owns(partition: number): boolean {
      return owned.has(partition) && !rebalancing && Date.now() - lastHeartbeatAt < sessionTimeoutMs / 2;
    },

    pause(partitions: readonly number[]): void {
      const mine = partitions.filter((p) => owned.has(p));
      if (mine.length) consumer.pause([{ topic, partitions: mine }]);
    },

    resume(partitions: readonly number[]): void {
      const mine = partitions.filter((p) => owned.has(p));
      if (mine.length) consumer.resume([{ topic, partitions: mine }]);
    },

    /** The next fetch of `partition` starts at `offset`. */
    seek(partition: number, offset: number): void {
      if (owned.has(partition)) consumer.seek({ topic, partition, offset: String(offset) });
    },

    /**
     * Commits "continue at `offset`" per partition. Advisory: the worker's source of
     * truth is the event log, so a failed commit (e.g. during a rebalance) only costs
     * re-reading a few messages that dedupe away. Resolves false when it failed.
     */
    async commit(offsets: ReadonlyMap<number, number>): Promise<boolean> {
      const entries = [...offsets].filter(([p]) => owned.has(p));
      if (entries.length === 0) return true;
      try {
        await consumer.commitOffsets(entries.map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
        return true;
      } catch (err) {
        if (!isRebalanceError(err)) logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'kafka offset commit failed');
        return false;
      }
    },

    /** Leaves the group (after in-flight batches finish) and disconnects. */
    async stop(): Promise<void> {
      await consumer.disconnect();
      changeAssignment(new Set(), null);
    },
  };
}

export type PartitionConsumer = ReturnType<typeof createPartitionConsumer>;

export { isRebalanceError };
