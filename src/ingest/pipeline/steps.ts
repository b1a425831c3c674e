/**
 * The ingest steps, one function each, shared by the HTTP intake and the Kafka
 * partition loop (see pipeline.ts for the order they run in):
 *
 *   decode (per transport) → validate → key → tenant → too old → budget → dedupe → sink
 *
 * A step returns a value, never throws for bad input: the event, or a `Rejected` with a
 * short snake_case reason (also a metric label and a dead letter's reason).
 */
import type { AcceptedEvent } from '../../contracts/event.ts';
import { WINDOW_MS } from '../../contracts/metrics.ts';
import { fieldCodec } from '../../model/event-fields.ts';
import { eventKey } from '../../model/identity.ts';
import type { ModelPlan } from '../../model/types.ts';
import { REGISTRY_REJECT_REASONS } from '../registry/resolver.ts';

export { fingerprint } from '../../model/identity.ts';

export const REJECT_REASONS = [
  'invalid_json',
  'oversized',
  'body_not_array',
  'schema_violation',
  'tenant_mismatch',
  'too_old',
  'currency_budget_exceeded',
  'duplicate_key_conflict',
  ...REGISTRY_REJECT_REASONS,
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Issue {
  path: string;
  message: string;
}

export interface Rejected {
  reason: RejectReason;
  issues: Issue[];
}

/** What a transport's decoder makes of one item: a JSON value to validate, or why there is none. */
export type DecodedItem = { value: unknown } | Rejected;

export const reject = (reason: RejectReason, message: string, path = ''): Rejected => ({ reason, issues: [{ path, message }] });
export const isRejected = (x: unknown): x is Rejected => typeof x === 'object' && x !== null && 'reason' in x && 'issues' in x;

/** A validated event before its key is resolved. */
export type ValidatedEvent = Omit<AcceptedEvent, 'key'>;

/** What the pipeline needs of the metric model (src/model/types.ts). */
export type IngestModel = Pick<ModelPlan, 'validate' | 'eventTypes'>;

/**
 * The metric model's validators (strict, per event type): the event with its declared
 * fields under `fields` and Event v1's columns (`currency`, `amount`) taken from them.
 */
export function validate(plan: IngestModel, value: unknown): ValidatedEvent | Rejected {
  const r = plan.validate(value);
  if (!r.ok) return { reason: 'schema_violation', issues: r.issues };
  // The validator's output is a fresh object: completed in place, no second copy per event.
  const e = r.event as ValidatedEvent;
  const c = fieldCodec(plan).columns(e.fields);
  e.currency = c.currency;
  if (c.amount !== undefined) e.amount = c.amount;
  return e;
}

/** Resolves the idempotency key (eventId, or the derived digest) on the event itself. */
export function withKey(event: ValidatedEvent): AcceptedEvent {
  const e = event as AcceptedEvent;
  e.key = eventKey(event);
  return e;
}

/** How a transport names the only tenant an item may belong to (token tenant over HTTP, record key over Kafka). */
export interface TenantRule {
  path: string;
  message: (expected: string | null) => string;
}

export function checkTenant(event: AcceptedEvent, expected: string | null, rule: TenantRule): AcceptedEvent | Rejected {
  return event.tenantId === expected ? event : reject('tenant_mismatch', rule.message(expected), rule.path);
}

export const windowStartOf = (timestamp: number): number => Math.floor(timestamp / WINDOW_MS) * WINDOW_MS;

/**
 * Retention (RETENTION_EVENTS_DAYS): the event log drops a window's rows once
 * `window_start + days` has passed. An event for such a window cannot be counted
 * exactly (the window would be rebuilt from that event alone), so it is refused.
 * `days` 0 = the log keeps everything.
 */
export function checkRetention(event: AcceptedEvent, o: { days: number; now: number }): AcceptedEvent | Rejected {
  if (o.days <= 0) return event;
  const cutoff = o.now - o.days * 86_400_000;
  if (windowStartOf(event.timestamp) >= cutoff) return event;
  return reject('too_old', `the event log keeps ${o.days} days (RETENTION_EVENTS_DAYS); this event's window has expired and cannot be recomputed`, 'timestamp');
}

/**
 * Duplicates: the scope of one key is its tenant, among arrivals whose event times are
 * at most this far apart. Exact repeats share their timestamp, so they are always
 * found; the horizon bounds how far apart in event time a reused key is still caught
 * as a conflict (and keeps the state bounded as the log grows).
 */
export const DEDUPE_HORIZON_MS = 60 * 60_000;

/** An earlier counted arrival of a key. */
export interface Prior {
  timestamp: number;
  fingerprint: number;
}

export type Verdict = 'new' | 'duplicate' | 'conflict';

/** First arrival counts; a later one within the horizon is a duplicate when its content is equal, else a conflict. */
export function judge(fp: number, timestamp: number, priors: readonly Prior[] | undefined, horizonMs = DEDUPE_HORIZON_MS): Verdict {
  let v: Verdict = 'new';
  if (priors) for (const p of priors) v = judgeStep(v, fp, timestamp, p.timestamp, p.fingerprint, horizonMs);
  return v;
}

/**
 * `judge`'s rule one earlier arrival at a time: the verdict so far (`v`, 'new' before the
 * first) after the arrival (`priorTimestamp`, `priorFingerprint`). Lets the key index
 * judge from its packed memory without building a list of priors per event.
 */
export function judgeStep(v: Verdict, fp: number, timestamp: number, priorTimestamp: number, priorFingerprint: number, horizonMs = DEDUPE_HORIZON_MS): Verdict {
  if (v === 'duplicate' || Math.abs(priorTimestamp - timestamp) > horizonMs) return v;
  return priorFingerprint === fp ? 'duplicate' : 'conflict';
}

export const conflict = (e: AcceptedEvent): Rejected =>
  reject('duplicate_key_conflict', `key ${e.key} already counted for tenant "${e.tenantId}" with other content; the first arrival stands`, e.eventId ? 'eventId' : '');

/**
 * The per-tenant currency budget (CURRENCY_BUDGET): a tenant's distinct currencies are
 * bounded, so a bad producer cannot explode window cardinality. `known` is what the
 * tenant already has; currencies admitted by this batch are added as it goes.
 */
export function checkBudget(event: AcceptedEvent, known: Set<string>, budget: number): AcceptedEvent | Rejected {
  // No currency (the model has none, or the event lacks it): nothing to budget.
  if (event.currency === '' || known.has(event.currency)) return event;
  if (known.size >= budget) return reject('currency_budget_exceeded', `tenant already has ${budget} currencies (CURRENCY_BUDGET)`, 'currency');
  known.add(event.currency);
  return event;
}
