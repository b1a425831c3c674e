/**
 * The window engine's model cells (src/aggregate/model-cells.ts) on models/saas.yaml: a
 * `where` with `not` and a boolean, a null slice, budget folds into __other__ (shared by
 * every metric, the same after a restart), distinct sets per minute, a duplicate key once,
 * and a restore that rebuilds the cells from the logged events.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createDimensionBudget } from '../../src/aggregate/dimension-budget.ts';
import { createCellApplier, modelEventOf } from '../../src/aggregate/model-cells.ts';
import { createWindowEngine, type WindowEvent } from '../../src/aggregate/window-engine.ts';
import type { CellSnapshot, WindowRef } from '../../src/contracts/window.ts';
import { requireModel } from '../../src/model/compile.ts';
import { OTHER_VALUE, type ModelPlan } from '../../src/model/types.ts';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
let plan: ModelPlan;
let n = 0;

beforeAll(async () => {
  plan = await requireModel('models/saas.yaml');
});

type Fields = Record<string, string | number | boolean>;
const ev = (eventType: string, fields: Fields, over: Partial<WindowEvent> = {}): WindowEvent => ({
  key: `k${++n}`,
  eventType: eventType as WindowEvent['eventType'],
  userId: 'u1',
  tenantId: 'acme',
  currency: 'USD',
  traceId: 'a'.repeat(32),
  timestamp: T0 + 5_000,
  fields: { currency: 'USD', plan: 'pro', ...fields },
  ...over,
});

function setup() {
  const budget = createDimensionBudget(plan);
  const folds: string[] = [];
  const cells = createCellApplier(plan, budget, (d) => folds.push(d));
  const engine = createWindowEngine({ allowedLatenessMs: 10_000, initialWatermark: T0 - 60_000, cells });
  return { engine, budget, folds };
}

const ref = (windowStart = T0, currency = 'USD'): WindowRef => ({ tenantId: 'acme', currency, windowStart });
/** metric → "dims" → value (or sorted users for distinct). */
function table(cells: readonly CellSnapshot[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const c of cells) out[`${c.metric}@${c.version} ${c.dims.join('|')}`] = plan.metric(c.metric, c.version)!.kind === 'distinct' ? [...c.users].sort() : c.value;
  return out;
}

describe('model cells', () => {
  it('counts, sums and distinct values per by-values, with where (not, boolean) on raw values', () => {
    const { engine } = setup();
    engine.add(ev('refund', { amount: '5.5', reason: 'requested', country: 'DE' }), T0);
    engine.add(ev('refund', { amount: '100', reason: 'duplicate', country: 'DE' }), T0); // not: [duplicate]
    engine.add(ev('refund', { amount: '0.25', country: 'DE' }), T0); // no reason: a `not` matches
    engine.add(ev('subscription_started', { amount: '10', from_trial: true, country: 'DE' }), T0);
    engine.add(ev('subscription_started', { amount: '20.000001', from_trial: false, country: 'DE' }, { userId: 'u2' }), T0);
    engine.add(ev('subscription_started', { amount: '1', country: 'DE' }, { userId: 'u2' }), T0); // no from_trial: not a conversion
    engine.add(ev('renewal', { amount: '3', country: 'FR' }, { userId: 'u3' }), T0);
    const [u] = engine.collect();
    expect(table(engine.cellsOf(u!).cells)).toEqual({
      'refunds@1 USD|pro|DE': '5.75',
      'new_subscriptions@1 USD|pro|DE': '3',
      'trial_conversions@1 pro|DE': '1',
      'gross_revenue@1 USD|pro|DE': '31.000001',
      'gross_revenue@1 USD|pro|FR': '3',
      'paying_users@1 USD|pro|DE': ['u1', 'u2'],
      'paying_users@1 USD|pro|FR': ['u3'],
      'renewals@1 USD|pro|FR': '1',
    });
    expect(engine.cellsOf(u!).events).toBe(7);
  });

  it('stores an event without a by field in the null slice (empty string)', () => {
    const { engine } = setup();
    engine.add(ev('trial_started', {}), T0);
    engine.add(ev('trial_started', { country: 'US' }), T0);
    engine.add(ev('trial_started', {}), T0);
    const [u] = engine.collect();
    expect(table(engine.cellsOf(u!).cells)).toEqual({ 'trials@1 pro|': '2', 'trials@1 pro|US': '1' });
  });

  it('counts a repeated idempotency key once, in every cell', () => {
    const { engine } = setup();
    const e = ev('renewal', { amount: '7', country: 'IT' });
    expect(engine.add(e, T0)).toBe('applied');
    expect(engine.add({ ...e, fields: { ...e.fields } }, T0)).toBe('duplicate');
    const [u] = engine.collect();
    expect(table(engine.cellsOf(u!).cells)).toEqual({ 'renewals@1 USD|pro|IT': '1', 'gross_revenue@1 USD|pro|IT': '7', 'paying_users@1 USD|pro|IT': ['u1'] });
    expect(engine.cellsOf(u!).events).toBe(1);
  });

  it('keeps distinct values per minute exactly (the union across minutes is the stored states\' merge)', () => {
    const { engine } = setup();
    for (const [minute, user] of [[0, 'u1'], [0, 'u2'], [0, 'u1'], [1, 'u2'], [1, 'u3']] as const) {
      engine.add(ev('renewal', { amount: '1', country: 'NL' }, { userId: user, timestamp: T0 + minute * 60_000 + 1 }), T0);
    }
    const updates = engine.collect();
    const users = updates.map((u) => engine.cellsOf(u).cells.find((c) => c.metric === 'paying_users')!.users.sort());
    expect(users).toEqual([['u1', 'u2'], ['u2', 'u3']]);
    expect(new Set(users.flat()).size).toBe(3);
  });

  it('folds values past a tenant\'s budget into __other__ for every metric, first come first kept, and counts the folds', () => {
    const { engine, budget, folds } = setup();
    const countries = Array.from({ length: 52 }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`);
    for (const country of countries) engine.add(ev('renewal', { amount: '1', country }), T0);
    engine.add(ev('renewal', { amount: '2', country: 'AA' }), T0); // kept: not a fold
    engine.add(ev('trial_started', { country: 'ZZ' }), T0); // another metric, same budget
    engine.add(ev('trial_started', { country: 'AB' }, { tenantId: 'other-tenant' }), T0); // another tenant, its own budget
    const cells = engine.collect().flatMap((u) => engine.cellsOf(u).cells.map((c) => ({ ...c, tenant: u.tenantId })));
    const renewals = cells.filter((c) => c.metric === 'renewals' && c.tenant === 'acme');
    expect(renewals.map((c) => c.dims[2])).toEqual([...countries.slice(0, 50), OTHER_VALUE]);
    expect(renewals.find((c) => c.dims[2] === OTHER_VALUE)!.value).toBe('2');
    expect(renewals.find((c) => c.dims[2] === 'AA')!.value).toBe('2');
    expect(cells.find((c) => c.metric === 'trials' && c.tenant === 'acme')!.dims).toEqual(['pro', OTHER_VALUE]);
    expect(cells.find((c) => c.metric === 'trials' && c.tenant === 'other-tenant')!.dims).toEqual(['pro', 'AB']);
    // One fold per event and dimension (renewals, gross_revenue and paying_users all store country).
    expect(folds).toEqual(['country', 'country', 'country']);
    // Saved, then seeded into a new budget (a restart): the same kept set, in the same order.
    const saved = budget.unsaved();
    expect(saved.filter((k) => k.tenantId === 'acme' && k.dimension === 'country').map((k) => [k.value, k.position])).toEqual(countries.slice(0, 50).map((c, i) => [c, i + 1]));
    budget.saved(saved);
    expect(budget.unsaved()).toEqual([]);
    const again = createDimensionBudget(plan);
    again.seed([...saved].reverse());
    expect(again.keep('acme', 'country', 'ZY')).toBe(OTHER_VALUE);
    expect(again.keep('acme', 'country', countries[49]!)).toBe(countries[49]);
    expect(again.unsaved()).toEqual([]);
  });

  it('a restore rebuilds the cells from the logged events; it is clean only if the stored cells match revision and event count', () => {
    const logged = [ev('renewal', { amount: '1.5', country: 'PL' }), ev('renewal', { amount: '2', country: 'PL' }, { userId: 'u9' })];
    const live = setup();
    for (const e of logged) live.engine.add(e, T0);
    const [u] = live.engine.collect();
    const expected = table(live.engine.cellsOf(u!).cells);
    const values = { revenue: '0', purchases: 0, signups: 0, upgrades: 0, churns: 0, activeUsers: 2 };
    for (const [cells, clean] of [[{ revision: 1, events: 2 }, true], [{ revision: 1, events: 1 }, false], [null, false]] as const) {
      const { engine } = setup();
      engine.restore(ref(), { revision: 1, final: false, values, events: logged, cells });
      expect(table(engine.cellsOf(ref()).cells)).toEqual(expected);
      expect(engine.collect().map((x) => x.revision)).toEqual(clean ? [] : [2]);
    }
  });

  it('gives an event logged without declared fields the Event v1 ones (amount, currency)', () => {
    const legacy = modelEventOf({ key: 'k', eventType: 'purchase', userId: 'u', tenantId: 't', currency: 'EUR', amount: '3.5', traceId: 'a'.repeat(32), timestamp: T0 });
    expect(legacy.fields).toEqual({ currency: 'EUR', amount: '3.5' });
    const withFields = ev('renewal', { amount: '1' });
    expect(modelEventOf(withFields)).toBe(withFields); // no copy
  });
});
