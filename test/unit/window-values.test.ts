/**
 * Live subscription values from a window's cells (src/resolvers/window-selection.ts,
 * window-values.ts): which metrics a subscription can get and how, one update per slice,
 * formulas evaluated exactly per slice, filters, and the bus message contract.
 */
import { describe, expect, it } from 'vitest';
import { busCellsOf, windowUpdateSchema, type BusCell } from '../../src/contracts/window.ts';
import { prepareWindowSelection, passes } from '../../src/resolvers/window-selection.ts';
import { legacyCells, targetUpdates, type WindowMeta } from '../../src/resolvers/window-values.ts';
import { loadPlan } from '../helpers/model.ts';

const saas = loadPlan('models/saas.yaml');
const defaults = loadPlan('models/default.yaml');
const T0 = Date.UTC(2026, 2, 1, 12);
const meta = (currency: string): WindowMeta => ({
  currency, windowStart: T0, windowEnd: T0 + 60_000, revision: 3, final: false, kind: 'partial', traceIds: [],
  freshness: { dataAsOf: T0, lastEventAt: T0, ageMs: 0, staleThresholdMs: 30_000, isStale: false }, replayed: false,
});
const args = (o: Partial<Parameters<typeof prepareWindowSelection>[1]> = {}) => ({ metrics: [], version: null, currency: null, where: [], ...o });
const cell = (metric: string, dims: string[], value: string): BusCell => ({ metric, version: 1, dims, value });

describe('window selection', () => {
  it('keeps metrics by currency per window and the others per merged minute; omitted = the stored metrics', () => {
    const s = prepareWindowSelection(saas, args());
    expect(s.targets.map((t) => [t.id, t.crossCurrency])).toEqual([
      ['trials@1', true], ['new_subscriptions@1', false], ['trial_conversions@1', true], ['renewals@1', false],
      ['churns@1', true], ['gross_revenue@1', false], ['refunds@1', false], ['paying_users@1', false],
    ]);
    expect(prepareWindowSelection(saas, args({ metrics: ['arppu'] })).targets[0]!.leaves.map((l) => l.id)).toEqual(['gross_revenue@1', 'refunds@1', 'paying_users@1']);
  });

  it('refuses with a reason: unknown versions, dimensions a metric lacks, both currency forms', () => {
    expect(() => prepareWindowSelection(saas, args({ metrics: ['trials'], version: 2 }))).toThrow('metric trials has no version 2 (versions: 1)');
    expect(() => prepareWindowSelection(saas, args({ metrics: ['trials'], currency: 'USD' }))).toThrow('trials v1 cannot be filtered by currency: it is stored by plan, country');
    expect(() => prepareWindowSelection(saas, args({ currency: 'USD', where: [{ dimension: 'currency', in: ['EUR'], notIn: null }] }))).toThrow('either as `currency` or in `where`');
    expect(() => prepareWindowSelection(saas, args({ where: [{ dimension: 'plan', in: null, notIn: null }] }))).toThrow('needs `in` or `notIn`');
    // Omitted metrics with a currency: the ones kept by currency.
    expect(prepareWindowSelection(saas, args({ currency: 'USD' })).targets.every((t) => !t.crossCurrency)).toBe(true);
  });

  it('filters slices by their stored values', () => {
    const s = prepareWindowSelection(saas, args({ metrics: ['gross_revenue'], where: [{ dimension: 'plan', in: ['pro'], notIn: null }, { dimension: 'country', in: null, notIn: ['DE'] }] }));
    const t = s.targets[0]!;
    expect(passes(s, t, ['USD', 'pro', 'FR'])).toBe(true);
    expect(passes(s, t, ['USD', 'pro', 'DE'])).toBe(false);
    expect(passes(s, t, ['USD', 'starter', 'FR'])).toBe(false);
  });
});

describe('window values', () => {
  const cells = [
    cell('gross_revenue', ['USD', 'pro', 'DE'], '10.5'),
    cell('gross_revenue', ['USD', 'pro', ''], '4'),
    cell('refunds', ['USD', 'pro', 'DE'], '0.25'),
    cell('refunds', ['USD', 'starter', '__other__'], '3'),
    cell('paying_users', ['USD', 'pro', 'DE'], '3'),
  ];

  it('a stored metric: one update per cell, dimensions named, null for a missing field and other for the folded value', () => {
    const [t] = prepareWindowSelection(saas, args({ metrics: ['refunds'] })).targets;
    const got = targetUpdates(saas, t!, cells, meta('USD'));
    expect(got.map((u) => [u.value, u.dimensions])).toEqual([
      ['0.25', [{ name: 'currency', value: 'USD', other: false }, { name: 'plan', value: 'pro', other: false }, { name: 'country', value: 'DE', other: false }]],
      ['3', [{ name: 'currency', value: 'USD', other: false }, { name: 'plan', value: 'starter', other: false }, { name: 'country', value: 'other', other: true }]],
    ]);
    expect(got[0]!.metric).toBe('refunds');
    expect(got[0]!.version).toBe(1);
  });

  it('formulas per slice, exactly: a missing operand cell is 0, a division by zero (null) is not sent', () => {
    const [net] = prepareWindowSelection(saas, args({ metrics: ['net_revenue'] })).targets;
    expect(targetUpdates(saas, net!, cells, meta('USD')).map((u) => [u.dims.join('/'), u.value])).toEqual([
      ['USD/pro/DE', '10.25'],
      ['USD/pro/', '4'],
      ['USD/starter/__other__', '-3'],
    ]);
    const [arppu] = prepareWindowSelection(saas, args({ metrics: ['arppu'] })).targets;
    // 10.25 / 3 = 3.416666|66… → 3.416667; the other slices have no paying users.
    expect(targetUpdates(saas, arppu!, cells, meta('USD')).map((u) => [u.dims.join('/'), u.value])).toEqual([['USD/pro/DE', '3.416667']]);
  });

  it('a metric kept by currency alone gets its window’s one slice, 0 when nothing counted', () => {
    const s = prepareWindowSelection(defaults, args({ metrics: ['revenue', 'arpu'] }));
    const only = [cell('active_users', ['EUR'], '2')];
    expect(s.targets.map((t) => targetUpdates(defaults, t, only, meta('EUR')).map((u) => [u.metric, u.currency, u.value]))).toEqual([[['revenue', 'EUR', '0']], [['arpu', 'EUR', '0']]]);
  });

  it('a message from a publisher without cells: the default model’s metrics from the wide fields', () => {
    const wide = { currency: 'USD', revenue: '12.5', purchases: 2, signups: 1, upgrades: 0, churns: 0, activeUsers: 2 };
    expect(legacyCells(defaults, wide).map((c) => `${c.metric}=${c.value}`)).toEqual(['revenue=12.5', 'purchases=2', 'signups=1', 'upgrades=0', 'churns=0', 'active_users=2']);
    expect(legacyCells(saas, wide)).toEqual([]);
  });
});

describe('bus message', () => {
  const base = {
    tenantId: 'acme', currency: 'USD', windowStart: T0, windowEnd: T0 + 60_000, revision: 1, final: false, kind: 'partial',
    revenue: '0', purchases: 0, signups: 0, upgrades: 0, churns: 0, activeUsers: 1, lastEventAt: T0, traceSample: [],
  };
  it('carries cells optionally, distinct values as their count, and rejects malformed cells', () => {
    expect(windowUpdateSchema.safeParse(base).success).toBe(true);
    const cells = busCellsOf([{ metric: 'paying_users', version: 1, dims: ['USD'], value: '0', users: ['u1', 'u2'] }, { metric: 'refunds', version: 1, dims: ['USD'], value: '2.5', users: [] }]);
    expect(cells).toEqual([cell('paying_users', ['USD'], '2'), cell('refunds', ['USD'], '2.5')]);
    expect(windowUpdateSchema.parse({ ...base, cells }).cells).toEqual(cells);
    expect(windowUpdateSchema.safeParse({ ...base, cells: [{ metric: 'refunds', version: 1, dims: ['USD'], value: '2.5e3' }] }).success).toBe(false);
    expect(windowUpdateSchema.safeParse({ ...base, cells: [{ metric: 'Refunds', version: 1, dims: [], value: '1' }] }).success).toBe(false);
  });
});
