/**
 * The one ingest path: the HTTP intake (intake.ts) and the Kafka partition loop
 * (src/aggregate/kafka-partition.ts) both run a batch through `run`, differing only in
 * how items were decoded, which tenant they may belong to, where dead letters go and
 * which `EventSink` receives the counted events:
 *
 *   validate → key → tenant → too old → dedupe → budget → dead letters → sink → remember
 *
 * Callers serialise batches (one `run` at a time per pipeline): the dedupe lookup, the
 * sink and what the index remembers then act as one step. If the dead letters or the
 * sink fail, `run` rejects and nothing of the batch is remembered.
 */
import type { AcceptedEvent } from '../../contracts/event.ts';
import type { KeyBatch, KeyIndex } from './key-index.ts';
import {
  checkBudget,
  checkRetention,
  checkTenant,
  conflict,
  fingerprint,
  isRejected,
  validate,
  withKey,
  type DecodedItem,
  type IngestModel,
  type Rejected,
  type TenantRule,
} from './steps.ts';

/** Where counted events go: the event log + in-process aggregator, or a Kafka topic. */
export interface EventSink<R> {
  /**
   * Takes the batch's counted events (in arrival order, with the refs they came with)
   * durably: resolves once they are logged, or acknowledged by the broker. Called once
   * per batch, also with none (a sink may have progress to record).
   */
  accept(events: readonly AcceptedEvent[], refs: readonly R[]): Promise<void>;
}

export interface IngestItem<R> {
  /** Where the item came from (an HTTP body index, a Kafka record and line), handed back with its outcome. */
  ref: R;
  item: DecodedItem;
  /** The only tenant the item may belong to (the token's, the record key's). */
  tenant: string | null;
}

export interface RejectedItem<R> extends Rejected {
  ref: R;
  /** The tenant the item belongs to, when known (dead letters are per tenant). */
  tenantId: string;
}

export interface BatchOutcome<R> {
  /** Counted: new keys, handed to the sink. */
  accepted: number;
  /** Exact repeats of a counted key (acknowledged, not counted again). */
  duplicates: number;
  /** In input order. */
  rejected: RejectedItem<R>[];
}

export interface IngestPipelineDeps<R> {
  /** The metric model whose validators the validate step runs (the composition root loads it once). */
  plan: IngestModel;
  tenantRule: TenantRule;
  currencyBudget: number;
  /** RETENTION_EVENTS_DAYS (0 = keep forever). */
  retentionDays: number;
  clock: () => number;
  keys: KeyIndex;
  /** Distinct currencies each tenant already has (for the budget). */
  currencies: (tenants: readonly string[]) => Promise<Map<string, string[]>>;
  deadLetter: (rejected: readonly RejectedItem<R>[]) => Promise<void>;
  sink: EventSink<R>;
}

export function createIngestPipeline<R>(deps: IngestPipelineDeps<R>) {
  const currencies = new Map<string, Set<string>>();

  async function loadCurrencies(events: readonly AcceptedEvent[]): Promise<void> {
    const unknown = new Set<string>();
    for (const e of events) if (!currencies.has(e.tenantId)) unknown.add(e.tenantId);
    if (unknown.size === 0) return;
    const known = await deps.currencies([...unknown]);
    for (const t of unknown) if (!currencies.has(t)) currencies.set(t, new Set(known.get(t) ?? []));
  }

  /** validate → key → tenant → too old, per item. */
  function admit(items: readonly IngestItem<R>[], now: number, rejected: (RejectedItem<R> & { at: number })[]) {
    const events: AcceptedEvent[] = [];
    const positions: number[] = [];
    items.forEach(({ ref, item, tenant }, at) => {
      let r: AcceptedEvent | Rejected;
      if (isRejected(item)) r = item;
      else {
        const v = validate(deps.plan, item.value);
        r = isRejected(v) ? v : withKey(v);
      }
      if (!isRejected(r)) r = checkTenant(r, tenant, deps.tenantRule);
      if (!isRejected(r)) r = checkRetention(r, { days: deps.retentionDays, now });
      if (isRejected(r)) return void rejected.push({ ...r, ref, tenantId: tenant ?? '', at });
      events.push(r);
      positions.push(at);
    });
    return { events, positions };
  }

  /** dedupe → budget, in arrival order: what counts (with its ref), what is a duplicate, what is rejected. */
  function judgeAll(items: readonly IngestItem<R>[], events: readonly AcceptedEvent[], positions: readonly number[], keys: KeyBatch, rejected: (RejectedItem<R> & { at: number })[]) {
    const budgets = new Map<string, Set<string>>();
    const fresh: AcceptedEvent[] = [];
    const refs: R[] = [];
    let duplicates = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const fp = fingerprint(e);
      const verdict = keys.judge(i, fp);
      if (verdict === 'duplicate') {
        duplicates += 1;
        continue;
      }
      let budget = budgets.get(e.tenantId);
      if (!budget) budgets.set(e.tenantId, (budget = new Set(currencies.get(e.tenantId))));
      const r = verdict === 'conflict' ? conflict(e) : checkBudget(e, budget, deps.currencyBudget);
      const at = positions[i]!;
      if (isRejected(r)) {
        rejected.push({ ...r, ref: items[at]!.ref, tenantId: e.tenantId, at });
        continue;
      }
      // Counted: later events of the batch with this key are judged against it.
      keys.count(i, fp);
      fresh.push(e);
      refs.push(items[at]!.ref);
    }
    return { budgets, fresh, refs, duplicates };
  }

  return {
    async run(items: readonly IngestItem<R>[]): Promise<BatchOutcome<R>> {
      const rejected: (RejectedItem<R> & { at: number })[] = [];
      const { events, positions } = admit(items, deps.clock(), rejected);
      const [keys] = await Promise.all([deps.keys.open(events), loadCurrencies(events)]);
      let judged: ReturnType<typeof judgeAll>;
      let out: RejectedItem<R>[];
      try {
        judged = judgeAll(items, events, positions, keys, rejected);
        rejected.sort((a, b) => a.at - b.at);
        out = rejected.map(({ at: _at, ...r }) => r);
        if (out.length > 0) await deps.deadLetter(out);
        await deps.sink.accept(judged.fresh, judged.refs);
      } catch (err) {
        keys.abort();
        throw err;
      }
      keys.commit();
      for (const [tenantId, set] of judged.budgets) currencies.set(tenantId, set);
      return { accepted: judged.fresh.length, duplicates: judged.duplicates, rejected: out };
    },
  };
}

export type IngestPipeline<R> = ReturnType<typeof createIngestPipeline<R>>;
