/**
 * The work for one owned Kafka partition: an aggregator source `kafka:<topic>:<p>`
 * (its own windows and watermark — a tenant's events all land in one partition, so
 * windows never straddle partitions) and the shared ingest pipeline
 * (src/ingest/pipeline/) with this partition's sink:
 *
 *   decode (decode.ts) → validate → key → tenant = record key → too old → dedupe → budget
 *     → dead letters (topic + table) → log append → aggregate
 *
 * Exactly-once effect: the event log is the record of progress. Every logged row
 * carries `seq` = its offset + 1, so max(seq) of the source is where the partition
 * continues, whatever Kafka's (advisory) committed offset says. Dead letters are
 * produced *before* the append, so resuming after the last logged offset never skips
 * one (they may repeat instead: at-least-once).
 *
 * Any failure (or a step slower than `stepTimeoutMs`) leaves this object unusable: the
 * worker drops it and builds a fresh one from the log (`recover`). Each object logs
 * under its own `writer` id, and the dedupe lookup ignores rows another writer logged
 * into this source after the resume point — so an append that timed out but lands
 * later is neither lost (the events are fed again) nor counted twice (restores read a
 * key once; snapshots are rebuilt from the log).
 */
import { randomUUID } from 'node:crypto';
import type { AcceptedEvent } from '../contracts/event.ts';
import { TENANT_ID_PATTERN } from '../contracts/event.ts';
import type { ConsumedMessage } from '../ingest/kafka/consumer.ts';
import { deadLetterRecord } from '../ingest/kafka/dead-letter.ts';
import { decodeRecord, itemBytes, MAX_EVENT_BYTES } from '../ingest/kafka/decode.ts';
import type { OutgoingMessage } from '../ingest/kafka/producer.ts';
import { createKeyIndex } from '../ingest/pipeline/key-index.ts';
import { createIngestPipeline, type IngestItem, type RejectedItem } from '../ingest/pipeline/pipeline.ts';
import type { IngestModel } from '../ingest/pipeline/steps.ts';
import type { FramedDecoder } from '../ingest/registry/resolver.ts';
import type { Metrics } from '../observability/metrics.ts';
import { RAW_LIMIT_BYTES, type DeadLetters } from '../storage/dead-letters.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { Aggregator } from './aggregator.ts';

export const kafkaSource = (topic: string, partition: number): string => `kafka:${topic}:${partition}`;

/** Which step failed, for the storage-errors metric and logs. */
export class PartitionStepError extends Error {
  constructor(
    readonly stage: 'recover' | 'currencies' | 'dedupe' | 'dead_letter' | 'log_append' | 'flush',
    cause: unknown,
  ) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PartitionStepError';
  }
}

/** Runs a storage step; slower than `timeoutMs` counts as failed (the call itself may still land later). */
async function step<T>(stage: PartitionStepError['stage'], timeoutMs: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const call = run();
  call.catch(() => undefined);
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw err instanceof PartitionStepError ? err : new PartitionStepError(stage, err);
  } finally {
    clearTimeout(timer);
  }
}

export interface PartitionPipelineDeps {
  /** The metric model events are validated with (the same one as the api that produced them). */
  plan: IngestModel;
  topic: string;
  partition: number;
  eventLog: EventLog;
  deadLetters: DeadLetters;
  /** Produces records to the dead-letter topic; resolves once acknowledged. */
  sendToDlq: (records: OutgoingMessage[]) => Promise<void>;
  /** Builds this partition's aggregator (source name and freshness provided here). */
  createAggregator: (o: { source: string; processedThrough: (flushStartedAt: number) => number; caughtUp: () => boolean }) => Aggregator;
  currencyBudget: number;
  /** RETENTION_EVENTS_DAYS (0 = keep forever). */
  retentionDays: number;
  metrics: Metrics;
  clock: () => number;
  /** A storage or dead-letter step slower than this fails the batch. */
  stepTimeoutMs: number;
  maxEventBytes?: number;
  /** Reads schema-registry framed records (SCHEMA_REGISTRY_URL); without it they are dead-lettered. */
  framed?: FramedDecoder;
}

/** Where an item came from: its record, offset and (for an item of a batch) line. */
interface RecordRef {
  m: ConsumedMessage;
  offset: number;
  line?: number;
  raw?: Buffer;
}

const TENANT_RULE = { path: 'key', message: () => 'the record key must be the event tenantId (one tenant = one partition)' };

/** Dead letters of a batch: to the DLQ topic (original bytes, reason in headers) and the `dead_letters` table. */
function deadLetterWriter(deps: PartitionPipelineDeps & { timeout: number }) {
  const { topic, partition, metrics } = deps;
  return async (rejects: readonly RejectedItem<RecordRef>[]): Promise<void> => {
    const at = deps.clock();
    const bytes = rejects.map((r) => r.ref.raw ?? itemBytes(r.ref.m, r.ref.line));
    const line = (r: RejectedItem<RecordRef>, i: number) => (r.ref.line === undefined ? undefined : { number: r.ref.line, raw: bytes[i]! });
    await step('dead_letter', deps.timeout, () =>
      Promise.all([
        deps.sendToDlq(rejects.map((r, i) => deadLetterRecord(r.ref.m, { topic, partition, reason: r.reason, issues: r.issues, at, line: line(r, i) }))),
        deps.deadLetters.append(
          rejects.map((r, i) => ({ tenantId: r.tenantId, source: 'kafka' as const, reason: r.reason, issues: r.issues, raw: bytes[i]!.subarray(0, RAW_LIMIT_BYTES).toString('utf8') })),
        ),
      ]),
    );
    metrics.kafkaProduced.inc({ topic_kind: 'dead_letters' }, rejects.length);
    for (const r of rejects) metrics.kafkaRecords.inc({ outcome: 'dead_lettered', reason: r.reason });
  };
}

/** The batch's records from offset `from` on, decoded into pipeline items; `first`/`last` offset, -1 when none. */
function batchItems(messages: readonly ConsumedMessage[], from: number, maxEventBytes: number, framed: PartitionPipelineDeps['framed']) {
  const items: IngestItem<RecordRef>[] = [];
  let first = -1;
  let last = -1;
  for (const m of messages) {
    const offset = Number(m.offset);
    if (offset < from) continue;
    if (first < 0) first = offset;
    last = offset;
    const key = m.key?.toString('latin1') ?? '';
    // tenantId is ASCII by contract, so latin1 decoding of a matching key is exact and cheap.
    const tenant = TENANT_ID_PATTERN.test(key) ? key : null;
    for (const d of decodeRecord(m, maxEventBytes, framed)) items.push({ ref: { m, offset, line: d.line, raw: d.raw }, item: d, tenant });
  }
  return { items, first, last };
}

export function createPartitionPipeline(deps: PartitionPipelineDeps) {
  const { topic, partition, eventLog, metrics } = deps;
  const source = kafkaSource(topic, partition);
  const writer = randomUUID();
  const maxEventBytes = deps.maxEventBytes ?? MAX_EVENT_BYTES;
  const timeout = deps.stepTimeoutMs;
  /** Everything produced before this instant has been consumed (set when a fetch or poll showed no lag). */
  let caughtUpAt = 0;
  /** Produce time of the newest record consumed. */
  let lastRecordAt = 0;
  /** Highest log end seen by a fetch or a lag poll (-1 = unknown: not caught up). Log ends only grow. */
  let logEnd = -1;
  const aggregator = deps.createAggregator({
    source,
    processedThrough: (startedAt) => Math.min(startedAt, Math.max(caughtUpAt, lastRecordAt)),
    caughtUp: () => logEnd >= 0 && logEnd <= next,
  });
  /** Next offset to process. */
  let next = 0;
  /** What the log held when this object recovered (rows after it by other writers are not in our windows). */
  let resumedAt = 0;
  /** The batch being processed: its offsets and group heartbeat (batches never overlap). */
  let batch = { first: 0, last: 0, heartbeat: async () => {} };

  /** This partition's sink: the event log (seq = offset + 1), then the aggregator. */
  async function accept(events: readonly AcceptedEvent[], refs: readonly RecordRef[]): Promise<void> {
    // Slow storage must not cost the group membership; this throws if the group is
    // rebalancing, before anything of the batch is logged or aggregated.
    await batch.heartbeat();
    if (events.length > 0) {
      const seq = refs.map((r) => r.offset + 1);
      // The token names the batch: a retried identical insert is dropped by ClickHouse.
      await step('log_append', timeout, () => eventLog.append(events, { source, seq, writer, token: `${source}:${batch.first}-${batch.last}` }));
    }
    aggregator.ingest(events, batch.last + 1);
  }

  const pipeline = createIngestPipeline<RecordRef>({
    plan: deps.plan,
    tenantRule: TENANT_RULE,
    currencyBudget: deps.currencyBudget,
    retentionDays: deps.retentionDays,
    clock: deps.clock,
    keys: createKeyIndex({
      arrivals: (q) => step('dedupe', timeout, () => eventLog.arrivals(q)),
      soleWriter: true,
      clock: deps.clock,
      exclude: () => ({ source, afterSeq: resumedAt, writer }),
    }),
    currencies: (tenants) => step('currencies', timeout, () => eventLog.currenciesOfTenants(tenants)),
    deadLetter: deadLetterWriter({ ...deps, timeout }),
    sink: { accept },
  });

  return {
    source,
    aggregator,

    /** Offset the next batch must start at (everything before it is logged or dead-lettered). */
    nextOffset: (): number => next,

    /** Rebuilds windows from the log; returns where the log says this partition continues (0 = nothing logged). */
    async recover(): Promise<number> {
      const { maxSeq } = await step('recover', timeout, () => aggregator.recover());
      next = maxSeq;
      resumedAt = maxSeq;
      return maxSeq;
    },

    /** Continue at `offset` (≥ what the log says; e.g. Kafka's committed offset when it is further). */
    startAt(offset: number): void {
      next = Math.max(next, offset);
    },

    /** The log end seen by a fetch or a lag poll at `at`. */
    observeLogEnd(highWatermark: number, at: number): void {
      logEnd = Math.max(logEnd, highWatermark);
      if (highWatermark <= next) caughtUpAt = Math.max(caughtUpAt, at);
    },

    /**
     * Runs one fetched batch through the pipeline. Records before `nextOffset()` (already
     * handled) are skipped. Throws PartitionStepError (this object must then be dropped),
     * or what `heartbeat` throws (nothing of the batch was applied; state stays valid).
     */
    async process(messages: readonly ConsumedMessage[], highWatermark: number, heartbeat: () => Promise<void> = async () => {}): Promise<void> {
      const startedAt = deps.clock();
      // Schema ids new to this process are looked up before anything of the batch is applied;
      // throws RegistryWaitError while the registry does not answer (the worker pauses).
      if (deps.framed) await deps.framed.prepare(messages.map((m) => m.value));
      const { items, first, last } = batchItems(messages, next, maxEventBytes, deps.framed);
      if (first < 0) return;
      metrics.kafkaRecords.inc({ outcome: 'consumed', reason: '' }, items.length);
      batch = { first, last, heartbeat };
      const out = await pipeline.run(items);
      next = last + 1;
      lastRecordAt = Math.max(lastRecordAt, Number(messages[messages.length - 1]!.timestamp));
      logEnd = Math.max(logEnd, highWatermark);
      if (highWatermark <= next) caughtUpAt = Math.max(caughtUpAt, startedAt);
      metrics.kafkaRecords.inc({ outcome: 'accepted', reason: '' }, out.accepted);
      if (out.duplicates) metrics.kafkaRecords.inc({ outcome: 'duplicate', reason: '' }, out.duplicates);
    },

    /** Writes changed windows and progress (see aggregator.ts). */
    flush: (): Promise<void> => step('flush', timeout, () => aggregator.flush()),

    /** Drops all state without writing. A flush in flight may still land (see the module comment). */
    release: (): void => aggregator.release(),
  };
}

export type PartitionPipeline = ReturnType<typeof createPartitionPipeline>;
