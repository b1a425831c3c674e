/**
 * One ingest step per function, each returning a value, not throwing:
 * `ok` with the event, or `reject` with a short snake_case reason (also a metric label).
 */
import { idempotencyKey, eventV1Schema, type AcceptedEvent } from '../contracts/event.ts';

export const REJECT_REASONS = ['invalid_json', 'schema_violation', 'tenant_mismatch', 'currency_budget_exceeded', 'body_not_array'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Issue {
  path: string;
  message: string;
}

export type StepResult = { ok: true; event: AcceptedEvent } | { ok: false; reason: RejectReason; issues: Issue[] };

/** A raw item as it arrived: the parsed value, or why it could not be parsed. */
export type RawItem = { raw: string; value: unknown } | { raw: string; parseError: string };

export function parseItem(item: RawItem): StepResult | { ok: true; value: unknown } {
  if ('parseError' in item) return { ok: false, reason: 'invalid_json', issues: [{ path: '', message: item.parseError }] };
  return { ok: true, value: item.value };
}

export function validateEvent(value: unknown): StepResult {
  const r = eventV1Schema.safeParse(value);
  if (!r.success) {
    return { ok: false, reason: 'schema_violation', issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
  }
  // r.data is zod's own fresh copy of the input: give it its key in place (no second copy per event).
  const event = r.data as AcceptedEvent;
  event.key = idempotencyKey(r.data);
  return { ok: true, event };
}

/** The caller's token names the only tenant it may write. */
export function checkTenant(event: AcceptedEvent, tenantId: string): StepResult {
  if (event.tenantId !== tenantId) {
    return { ok: false, reason: 'tenant_mismatch', issues: [{ path: 'tenantId', message: `token is for tenant "${tenantId}"` }] };
  }
  return { ok: true, event };
}
