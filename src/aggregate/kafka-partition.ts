/**
 * The work for one owned Kafka partition: an aggregator source `kafka:<topic>:<p>`
 * (its own windows and watermark — a tenant's events all land in one partition, so
 * windows never straddle partitions) and the batch pipeline
 *
 *   decode + validate → currency budget → dedupe (log + batch) → dead letters → log append → aggregate
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
import { decodeMessage, lineOf, MAX_EVENT_BYTES, type KafkaRejectReason } from '../ingest/kafka/decode.ts';
import type { OutgoingMessage } from '../ingest/kafka/producer.ts';
import type { FramedDecoder } from '../ingest/registry/resolver.ts';
import type { Issue } from '../ingest/validate.ts';
import type { Metrics } from '../observability/metrics.ts';
import { RAW_LIMIT_BYTES, type DeadLetters } from '../storage/dead-letters.ts';
import { eventInWindowId, type EventLog } from '../storage/event-log.ts';
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
  topic: string;
  partition: number;
  eventLog: EventLog;
  deadLetters: DeadLetters;
  /** Produces records to the dead-letter topic; resolves once acknowledged. */
  sendToDlq: (records: OutgoingMessage[]) => Promise<void>;
  /** Builds this partition's aggregator (source name and freshness provided here). */
  createAggregator: (o: { source: string; processedThrough: (flushStartedAt: number) => number; caughtUp: () => boolean }) => Aggregator;
  currencyBudget: number;
  metrics: Metrics;
  clock: () => number;
  /** A storage or dead-letter step slower than this fails the batch. */
  stepTimeoutMs: number;
  maxEventBytes?: number;
  /** Reads schema-registry framed records (SCHEMA_REGISTRY_URL); without it they are dead-lettered. */
  framed?: FramedDecoder;
}

interface Reject {
  m: ConsumedMessage;
  /** Set for a line of a batch record. */
  line?: { number: number; raw: Buffer };
  reason: KafkaRejectReason;
  issues: Issue[];
  tenantId: string;
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
  const currencies = new Map<string, Set<string>>();
  /** Next offset to process. */
  let next = 0;
  /** What the log held when this object recovered (rows after it by other writers are not in our windows). */
  let resumedAt = 0;

  async function loadCurrencies(events: readonly AcceptedEvent[]): Promise<void> {
    const unknown = [...new Set(events.map((e) => e.tenantId))].filter((t) => !currencies.has(t));
    if (unknown.length === 0) return;
    const known = await step('currencies', timeout, () => eventLog.currenciesOfTenants(unknown));
    for (const t of unknown) currencies.set(t, new Set(known.get(t) ?? []));
  }

  /** The per-tenant currency budget, applied in offset order; an over-budget event becomes a reject. */
  function withinBudget(e: AcceptedEvent, m: ConsumedMessage, line: number | undefined, rejects: Reject[]): boolean {
    const set = currencies.get(e.tenantId)!;
    if (set.has(e.currency)) return true;
    if (set.size >= deps.currencyBudget) {
      const message = `tenant already has ${deps.currencyBudget} currencies (CURRENCY_BUDGET)`;
      const at = line === undefined ? undefined : { number: line, raw: lineOf(m.value!, line) };
      rejects.push({ m, line: at, reason: 'currency_budget_exceeded', issues: [{ path: 'currency', message }], tenantId: e.tenantId });
      return false;
    }
    set.add(e.currency);
    return true;
  }

  async function deadLetter(rejects: readonly Reject[]): Promise<void> {
    const at = deps.clock();
    await step('dead_letter', timeout, () =>
      Promise.all([
        deps.sendToDlq(rejects.map((r) => deadLetterRecord(r.m, { topic, partition, reason: r.reason, issues: r.issues, at, line: r.line }))),
        deps.deadLetters.append(
          rejects.map((r) => ({
            tenantId: r.tenantId,
            source: 'kafka' as const,
            reason: r.reason,
            issues: r.issues,
            raw: (r.line?.raw ?? r.m.value)?.subarray(0, RAW_LIMIT_BYTES).toString('utf8') ?? '',
          })),
        ),
      ]),
    );
    metrics.kafkaProduced.inc({ topic_kind: 'dead_letters' }, rejects.length);
    for (const r of rejects) metrics.kafkaRecords.inc({ outcome: 'dead_lettered', reason: r.reason });
  }

  /**
   * Which events count (true) and which are duplicates: an idempotency key counts once
   * per window (tenant × currency × minute). Memory answers for every window it holds
   * whole (see the engine's `lookup`) and for the batch itself; only events of windows
   * past the watermark and not in memory (late ones) are looked up in the log, by its
   * primary key. (Looking every key up in the whole log cost more than the rest of the
   * pipeline together, and grew with the log.)
   */
  async function dedupe(events: readonly AcceptedEvent[]): Promise<boolean[]> {
    const fresh = new Array<boolean>(events.length);
    const inBatch = new Set<string>();
    const ask: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const id = eventInWindowId(e);
      if (inBatch.has(id)) {
        fresh[i] = false;
        continue;
      }
      inBatch.add(id);
      const known = aggregator.lookup(e);
      fresh[i] = known === 'new';
      if (known === 'unknown') ask.push(i);
    }
    if (ask.length > 0) {
      const logged = await step('dedupe', timeout, () => eventLog.existingInWindows(ask.map((i) => events[i]!), { source, afterSeq: resumedAt, writer }));
      for (const i of ask) fresh[i] = !logged.has(eventInWindowId(events[i]!));
    }
    return fresh;
  }

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
      // Parallel arrays rather than an object per event: this loop runs for every event.
      const valid: AcceptedEvent[] = [];
      const validRecords: ConsumedMessage[] = [];
      const validLines: (number | undefined)[] = [];
      const offsets: number[] = [];
      const rejects: Reject[] = [];
      let first = -1;
      let last = -1;
      let consumed = 0;
      for (const m of messages) {
        const offset = Number(m.offset);
        if (offset < next) continue;
        if (first < 0) first = offset;
        last = offset;
        const decoded = decodeMessage(m, maxEventBytes, deps.framed);
        consumed += decoded.length;
        for (const d of decoded) {
          if (d.ok) {
            valid.push(d.event);
            validRecords.push(m);
            validLines.push(d.line);
            offsets.push(offset);
          } else {
            const key = m.key?.toString('latin1') ?? '';
            const line = d.line === undefined ? undefined : { number: d.line, raw: d.raw! };
            rejects.push({ m, line, reason: d.reason, issues: d.issues, tenantId: TENANT_ID_PATTERN.test(key) ? key : '' });
          }
        }
      }
      if (first < 0) return;
      metrics.kafkaRecords.inc({ outcome: 'consumed', reason: '' }, consumed);

      await loadCurrencies(valid);
      let kept = 0;
      for (let i = 0; i < valid.length; i++) {
        if (!withinBudget(valid[i]!, validRecords[i]!, validLines[i], rejects)) continue;
        valid[kept] = valid[i]!;
        offsets[kept++] = offsets[i]!;
      }
      valid.length = kept;
      const fresh = await dedupe(valid);
      const events: AcceptedEvent[] = [];
      const seqs: number[] = [];
      for (let i = 0; i < kept; i++) {
        if (!fresh[i]) continue;
        events.push(valid[i]!);
        seqs.push(offsets[i]! + 1);
      }
      if (rejects.length > 0) await deadLetter(rejects);
      // Slow storage must not cost the group membership; this throws if the group is
      // rebalancing, before anything of the batch is logged or aggregated.
      await heartbeat();
      if (events.length > 0) {
        // The token names the batch: a retried identical insert is dropped by ClickHouse.
        await step('log_append', timeout, () => eventLog.append(events, { source, seq: seqs, writer, token: `${source}:${first}-${last}` }));
      }
      aggregator.ingest(events, last + 1);
      next = last + 1;
      lastRecordAt = Math.max(lastRecordAt, Number(messages[messages.length - 1]!.timestamp));
      logEnd = Math.max(logEnd, highWatermark);
      if (highWatermark <= next) caughtUpAt = Math.max(caughtUpAt, startedAt);

      metrics.kafkaRecords.inc({ outcome: 'accepted', reason: '' }, events.length);
      const duplicates = kept - events.length;
      if (duplicates) metrics.kafkaRecords.inc({ outcome: 'duplicate', reason: '' }, duplicates);
    },

    /** Writes changed windows and progress (see aggregator.ts). */
    flush: (): Promise<void> => step('flush', timeout, () => aggregator.flush()),

    /** Drops all state without writing. A flush in flight may still land (see the module comment). */
    release: (): void => aggregator.release(),
  };
}

export type PartitionPipeline = ReturnType<typeof createPartitionPipeline>;
