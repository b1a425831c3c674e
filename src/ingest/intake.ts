/**
 * The HTTP intake: a batch of items from one caller (POST /v1/events) through the
 * ingest pipeline (pipeline/pipeline.ts), with the caller's token naming the only
 * tenant it may write. Batches run one at a time, so the dedupe lookup, the sink and
 * what the key index remembers act as one step.
 *
 * When `submit` resolves, every counted event is with the sink (in the event log for
 * `tilecast start`, acknowledged by Kafka for `tilecast api`) and every rejected item
 * is a dead letter with its reason. The answer's counts (docs/exactness.md):
 * `accepted` = counted now, `duplicates` = exact repeats of a counted key,
 * `rejected` = the rest, each with its reason; they add up to the items sent.
 */
import type { Metrics } from '../observability/metrics.ts';
import { withSpan } from '../observability/tracing.ts';
import type { DeadLetters } from '../storage/dead-letters.ts';
import type { EventLog } from '../storage/event-log.ts';
import { createKeyIndex } from './pipeline/key-index.ts';
import { createIngestPipeline, type EventSink } from './pipeline/pipeline.ts';
import type { DecodedItem, IngestModel, Issue, RejectReason } from './pipeline/steps.ts';

/** An HTTP item: its raw text (kept by a dead letter) and what it decoded to. */
export interface HttpItem {
  raw: string;
  item: DecodedItem;
}

/** Where an item came from: its index in the request, and its raw text. */
export interface HttpRef {
  index: number;
  raw: string;
}

export interface Rejection {
  index: number;
  reason: RejectReason;
  issues: Issue[];
}

export interface SubmitResult {
  /** Counted: events with a key not seen before (within the dedupe scope). */
  accepted: number;
  /** Exact repeats of a key already counted (earlier or in this batch): acknowledged, not counted. */
  duplicates: number;
  rejected: Rejection[];
}

export interface IntakeDeps {
  /** The metric model events are validated with. */
  plan: IngestModel;
  eventLog: Pick<EventLog, 'arrivals' | 'currenciesOfTenants'>;
  deadLetters: DeadLetters;
  metrics: Metrics;
  clock: () => number;
  currencyBudget: number;
  retentionDays: number;
  /** Where counted events go. */
  sink: EventSink<HttpRef>;
  /** Whether the sink is the only writer of its tenants' events (see pipeline/key-index.ts). */
  soleWriter: boolean;
}

/** The event log source name of the embedded HTTP intake. */
export const HTTP_SOURCE = 'http';

const TENANT_RULE = { path: 'tenantId', message: (expected: string | null) => `token is for tenant "${expected}"` };

export function createIntake(deps: IntakeDeps) {
  const { metrics, deadLetters } = deps;
  let queue: Promise<unknown> = Promise.resolve();
  const pipeline = createIngestPipeline<HttpRef>({
    plan: deps.plan,
    tenantRule: TENANT_RULE,
    currencyBudget: deps.currencyBudget,
    retentionDays: deps.retentionDays,
    clock: deps.clock,
    keys: createKeyIndex({ arrivals: (q) => deps.eventLog.arrivals(q), soleWriter: deps.soleWriter, clock: deps.clock }),
    currencies: (tenants) => deps.eventLog.currenciesOfTenants(tenants),
    deadLetter: (rejected) =>
      deadLetters.append(rejected.map((r) => ({ tenantId: r.tenantId, source: 'http', reason: r.reason, issues: r.issues, raw: r.ref.raw }))),
    sink: deps.sink,
  });

  async function process(tenantId: string, items: readonly HttpItem[]): Promise<SubmitResult> {
    const out = await pipeline.run(items.map((x, index) => ({ ref: { index, raw: x.raw }, item: x.item, tenant: tenantId })));
    metrics.ingestItems.inc({ outcome: 'accepted', reason: '' }, out.accepted);
    if (out.duplicates) metrics.ingestItems.inc({ outcome: 'duplicate', reason: '' }, out.duplicates);
    for (const r of out.rejected) metrics.ingestItems.inc({ outcome: 'rejected', reason: r.reason });
    return { accepted: out.accepted, duplicates: out.duplicates, rejected: out.rejected.map((r) => ({ index: r.ref.index, reason: r.reason, issues: r.issues })) };
  }

  return {
    /** Runs a batch written by `tenantId` through the pipeline. */
    submit(tenantId: string, items: readonly HttpItem[]): Promise<SubmitResult> {
      const run = queue.then(() =>
        withSpan('ingest.batch', { attributes: { 'tilecast.tenant': tenantId, 'tilecast.items': items.length } }, async (span) => {
          const r = await process(tenantId, items);
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

export type Intake = ReturnType<typeof createIntake>;
