/**
 * The intake pipeline for a batch of raw items from one caller:
 *
 *   parse → validate (zod) → tenant check → currency budget → dedupe → append to log → hand to aggregation
 *
 * Guarantees: when `submit` resolves, every accepted event is in the event log
 * (durable), rejected items are dead letters with their reason, and an idempotency
 * key already logged counts as a duplicate, not again. Batches are serialised so
 * the dedupe lookup and the append act as one step.
 *
 * Distributed mode (`deliver` set, `tilecast api` with KAFKA_BROKERS): the last three
 * steps become "hand to Kafka": `submit` resolves once the broker acknowledged every
 * accepted event, and the Kafka workers dedupe against the log and append. Only
 * repeats within one request are counted as duplicates here.
 */
import type { AcceptedEvent, WindowEvent } from '../contracts/event.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { withSpan } from '../observability/tracing.ts';
import type { DeadLetters } from '../storage/dead-letters.ts';
import type { EventLog } from '../storage/event-log.ts';
import { checkTenant, parseItem, validateEvent, type Issue, type RawItem, type RejectReason } from './validate.ts';

export interface Rejection {
  index: number;
  reason: RejectReason;
  issues: Issue[];
}

export interface SubmitResult {
  /** Valid items, new or already known (a retry is acknowledged, not rejected). */
  accepted: number;
  /** Of the accepted, how many were already logged or repeated in the batch. */
  duplicates: number;
  rejected: Rejection[];
}

export interface IntakeDeps {
  eventLog: EventLog;
  deadLetters: DeadLetters;
  metrics: Metrics;
  logger: Logger;
  currencyBudget: number;
  /** Receives newly logged events (in log order) with their sequence number. */
  sink?: (events: WindowEvent[], seq: number) => void;
  /**
   * Distributed mode: accepted events go here (a Kafka producer) instead of the log;
   * resolves once they are durably written there, rejects if not.
   */
  deliver?: (events: readonly AcceptedEvent[]) => Promise<void>;
}

/** The event log source name of the embedded HTTP intake. */
export const HTTP_SOURCE = 'http';

export async function createIntake(deps: IntakeDeps) {
  const { eventLog, deadLetters, metrics } = deps;
  let seq = deps.deliver ? 0 : await eventLog.maxSeq(HTTP_SOURCE);
  let queue: Promise<unknown> = Promise.resolve();
  const currencies = new Map<string, Set<string>>();

  async function knownCurrencies(tenantId: string): Promise<Set<string>> {
    let set = currencies.get(tenantId);
    if (!set) currencies.set(tenantId, (set = new Set(await eventLog.currenciesOf(tenantId))));
    return set;
  }

  async function process(tenantId: string, items: readonly RawItem[], source: 'http' | 'kafka'): Promise<SubmitResult> {
    const rejected: Rejection[] = [];
    const valid: AcceptedEvent[] = [];
    const budget = await knownCurrencies(tenantId);
    const pendingCurrencies = new Set(budget);
    items.forEach((item, index) => {
      const parsed = parseItem(item);
      if (!parsed.ok) return void rejected.push({ index, reason: parsed.reason, issues: parsed.issues });
      const validated = validateEvent('value' in parsed ? parsed.value : undefined);
      const checked = validated.ok ? checkTenant(validated.event, tenantId) : validated;
      if (!checked.ok) return void rejected.push({ index, reason: checked.reason, issues: checked.issues });
      const { event } = checked;
      if (!pendingCurrencies.has(event.currency)) {
        if (pendingCurrencies.size >= deps.currencyBudget) {
          return void rejected.push({
            index,
            reason: 'currency_budget_exceeded',
            issues: [{ path: 'currency', message: `tenant already has ${deps.currencyBudget} currencies (CURRENCY_BUDGET)` }],
          });
        }
        pendingCurrencies.add(event.currency);
      }
      valid.push(event);
    });

    // Distributed mode leaves the log lookup to the workers (they own the partitions).
    const seen = deps.deliver ? new Set<string>() : await eventLog.existingKeys(valid);
    const fresh: AcceptedEvent[] = [];
    for (const e of valid) {
      const id = `${e.tenantId}\u0000${e.key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      fresh.push(e);
    }
    if (rejected.length > 0) {
      await deadLetters.append(
        rejected.map((r) => ({ tenantId, source, reason: r.reason, issues: r.issues, raw: items[r.index]!.raw })),
      );
    }
    if (fresh.length > 0 && deps.deliver) {
      await deps.deliver(fresh);
      for (const e of fresh) budget.add(e.currency);
    } else if (fresh.length > 0) {
      seq += 1;
      const logged: WindowEvent[] = fresh.map((e) => ({ key: e.key, eventType: e.eventType, userId: e.userId, tenantId: e.tenantId, currency: e.currency, amount: e.amount, traceId: e.traceId, timestamp: e.timestamp }));
      // A token that names the batch: the table deduplicates insert blocks (see event-log.ts).
      await eventLog.append(logged, { source: HTTP_SOURCE, seq, token: `${HTTP_SOURCE}:${seq}` });
      for (const e of fresh) budget.add(e.currency);
      deps.sink?.(logged, seq);
    }
    const duplicates = valid.length - fresh.length;
    metrics.ingestItems.inc({ outcome: 'accepted', reason: '' }, fresh.length);
    if (duplicates) metrics.ingestItems.inc({ outcome: 'duplicate', reason: '' }, duplicates);
    for (const r of rejected) metrics.ingestItems.inc({ outcome: 'rejected', reason: r.reason });
    return { accepted: valid.length, duplicates, rejected };
  }

  return {
    /** Validates, dedupes and durably logs a batch written by `tenantId`. */
    submit(tenantId: string, items: readonly RawItem[], source: 'http' | 'kafka' = 'http'): Promise<SubmitResult> {
      const run = queue.then(() =>
        withSpan('ingest.batch', { attributes: { 'tilecast.tenant': tenantId, 'tilecast.source': source, 'tilecast.items': items.length } }, async (span) => {
          const r = await process(tenantId, items, source);
          span.setAttributes({ 'tilecast.accepted': r.accepted, 'tilecast.duplicates': r.duplicates, 'tilecast.rejected': r.rejected.length });
          return r;
        }),
      );
      queue = run.catch(() => undefined);
      return run;
    },
    /** Records input that never became items (e.g. a body that is not JSON at all). */
    deadLetter: (tenantId: string, reason: RejectReason, message: string, raw: string) =>
      deadLetters.append([{ tenantId, source: 'http', reason, issues: [{ path: '', message }], raw }]),
  };
}

export type Intake = Awaited<ReturnType<typeof createIntake>>;
