/** The ingest step functions (src/ingest/pipeline/steps.ts), one table each. */
import { describe, expect, it } from 'vitest';
import type { AcceptedEvent } from '../../src/contracts/event.ts';
import type { FingerprintInput } from '../../src/model/identity.ts';
import { loadPlan } from '../helpers/model.ts';
import {
  checkBudget,
  checkRetention,
  checkTenant,
  DEDUPE_HORIZON_MS,
  fingerprint,
  isRejected,
  judge,
  validate,
  withKey,
  type Prior,
} from '../../src/ingest/pipeline/steps.ts';

const plan = loadPlan();
const T = Date.UTC(2026, 0, 10, 12, 0, 0);
const base = {
  eventId: '7d1c2c3e-8f9a-4b6c-9d0e-1f2a3b4c5d6e',
  eventType: 'purchase',
  userId: 'u1',
  tenantId: 'acme',
  amount: '12.50',
  currency: 'EUR',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  timestamp: T,
};
const accepted = (over: Record<string, unknown> = {}): AcceptedEvent => {
  const v = validate(plan, { ...base, ...over });
  if (isRejected(v)) throw new Error(JSON.stringify(v));
  return withKey(v);
};
const reasonOf = (r: unknown) => (isRejected(r) ? r.reason : 'ok');

describe('validate', () => {
  it.each([
    ['a valid purchase', {}, 'ok'],
    ['amount as a JSON number', { amount: 12.5 }, 'ok'],
    ['purchase without amount', { amount: undefined }, 'schema_violation'],
    ['unknown field', { extra: 1 }, 'schema_violation'],
    ['not ISO 4217', { currency: 'XXY' }, 'schema_violation'],
    ['bad traceId', { traceId: 'nope' }, 'schema_violation'],
  ])('%s → %s', (_n, over, reason) => {
    expect(reasonOf(validate(plan, { ...base, ...over }))).toBe(reason);
  });

  it('keeps amounts as canonical decimals', () => {
    expect(accepted().amount).toBe('12.5');
  });
});

describe('withKey', () => {
  it.each([
    ['eventId, lower-cased', { eventId: base.eventId.toUpperCase() }, base.eventId],
    ['derived when absent (same fields → same key)', { eventId: undefined }, accepted({ eventId: undefined, amount: '99' }).key],
  ])('%s', (_n, over, key) => {
    expect(accepted(over).key).toBe(key);
  });

  it('a derived key changes with the timestamp', () => {
    expect(accepted({ eventId: undefined }).key).not.toBe(accepted({ eventId: undefined, timestamp: T + 1 }).key);
  });
});

describe('checkTenant', () => {
  const rule = { path: 'key', message: () => 'must be the tenant' };
  it.each([
    ['same tenant', 'acme', 'ok'],
    ['another tenant', 'globex', 'tenant_mismatch'],
    ['none known (no record key)', null, 'tenant_mismatch'],
  ])('%s → %s', (_n, expected, reason) => {
    const r = checkTenant(accepted(), expected, rule);
    expect(reasonOf(r)).toBe(reason);
    if (isRejected(r)) expect(r.issues).toEqual([{ path: 'key', message: 'must be the tenant' }]);
  });
});

describe('checkRetention (RETENTION_EVENTS_DAYS)', () => {
  const day = 86_400_000;
  it.each([
    ['no retention: anything goes', 0, T - 400 * day, 'ok'],
    ['inside the kept days', 7, T - 6 * day, 'ok'],
    ['window starts exactly at the cutoff', 7, T - 7 * day, 'ok'],
    ['a window whose rows have expired', 7, T - 7 * day - 60_001, 'too_old'],
    ['far in the past', 7, T - 30 * day, 'too_old'],
  ])('%s → %s', (_n, days, timestamp, reason) => {
    expect(reasonOf(checkRetention(accepted({ timestamp }), { days, now: T }))).toBe(reason);
  });
});

describe('judge: first arrival counts, equal content is a duplicate, other content a conflict', () => {
  const e = accepted();
  const fp = fingerprint(e);
  const prior = (over: Record<string, unknown> = {}): Prior => {
    const p = accepted(over);
    return { timestamp: p.timestamp, fingerprint: fingerprint(p) };
  };
  it.each<[string, Prior[] | undefined, string]>([
    ['never seen', undefined, 'new'],
    ['exact repeat', [prior()], 'duplicate'],
    ['same key, another minute', [prior({ timestamp: T + 60_000 })], 'conflict'],
    ['same key, another currency', [prior({ currency: 'USD' })], 'conflict'],
    ['same key, another amount', [prior({ amount: '12.51' })], 'conflict'],
    ['same key, outside the horizon', [prior({ timestamp: T - DEDUPE_HORIZON_MS - 1 })], 'new'],
    ['a conflict and an exact repeat: the repeat wins', [prior({ currency: 'USD' }), prior()], 'duplicate'],
  ])('%s → %s', (_n, priors, verdict) => {
    expect(judge(fp, e.timestamp, priors)).toBe(verdict);
  });
});

describe('checkBudget (CURRENCY_BUDGET)', () => {
  it.each([
    ['known currency', ['EUR', 'USD'], 2, 'ok', ['EUR', 'USD']],
    ['new currency under the budget is added', ['USD'], 2, 'ok', ['USD', 'EUR']],
    ['new currency over the budget', ['USD', 'JPY'], 2, 'currency_budget_exceeded', ['USD', 'JPY']],
  ])('%s → %s', (_n, known, budget, reason, after) => {
    const set = new Set(known);
    expect(reasonOf(checkBudget(accepted(), set, budget))).toBe(reason);
    expect([...set]).toEqual(after);
  });
});

describe('fingerprint', () => {
  /** The text it hashes, built whole, hashed the same way: what it computes piece by piece. */
  const reference = (e: FingerprintInput, extra: [string, string][]): number => {
    let text = `${e.eventType}\u0001${e.userId}\u0001${e.currency}\u0001${e.amount ?? ''}\u0001${e.traceId}\u0001${e.timestamp}`;
    for (const [k, v] of extra.sort(([a], [b]) => (a < b ? -1 : 1))) text += `\u0001${k}=${JSON.stringify(v)}`;
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ 0x5bd1e995;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 13);
    }
    return (a >>> 0) * 2 ** 21 + ((b >>> 0) & 0x1fffff);
  };

  it('hashes the content text of an event exactly as built whole, fields in name order, unicode included', () => {
    const cases: [FingerprintInput, [string, string][]][] = [
      [{ eventType: 'signup', userId: 'u1', traceId: 't', timestamp: 0, currency: '' }, []],
      [{ eventType: 'purchase', userId: 'ü✓', traceId: 'a'.repeat(32), timestamp: 1_700_000_000_123, currency: 'EUR', amount: '12.5' }, []],
      [{ eventType: 'refund', userId: '', traceId: 'x', timestamp: -5, currency: 'USD', amount: '1', fields: { reason: 'dup\u0001"q"', plan: 'pro' } }, [['plan', 'pro'], ['reason', 'dup\u0001"q"']]],
    ];
    for (const [e, extra] of cases) expect(fingerprint(e)).toBe(reference(e, extra));
  });
});
