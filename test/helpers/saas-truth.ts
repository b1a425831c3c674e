/**
 * A seeded random stream of models/saas.yaml events, and the answers an independent
 * brute-force computation gives for its metrics: written from the model file's meaning
 * (not from the plan's compiled matchers), in exact micros (BigInt), never floats.
 */
import { randomUUID } from 'node:crypto';
import { prng } from './dataset.ts';

export const OTHER = '__other__';
const MICRO = 1_000_000n;

export interface SaasItem {
  postAs: string;
  arrival: number;
  kind: 'valid' | 'duplicate' | 'invalid';
  body: Record<string, unknown>;
}

const TYPES = ['trial_started', 'subscription_started', 'renewal', 'refund', 'churn'] as const;
const PLANS = ['starter', 'pro', 'enterprise'];
const REASONS = ['requested', 'duplicate', 'fraud', 'service_issue'];
/** 62 two-letter codes: more than a tenant's budget of 50. */
export const COUNTRIES = Array.from({ length: 62 }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`);

const amountOf = (r: ReturnType<typeof prng>) => `${r.int(0, 400)}.${String(r.int(1, 999_999)).padStart(6, '0')}`.replace(/0+$/, '');

/**
 * Per tenant, the first 50 events are trials naming 50 distinct countries (tenant i starts
 * at country 5·i), so the budget fills first come, deterministically; then random events of
 * every type, 15 % without a country, on-time events up to `lateness`·0.8 out of order.
 */
export function saasStream(o: { seed: number; tenants: string[]; count: number; start: number; spanMs: number; latenessMs: number }) {
  const r = prng(o.seed);
  const originals: { body: Record<string, unknown>; arrival: number }[] = [];
  o.tenants.forEach((tenantId, ti) => {
    for (let i = 0; i < 50; i++) {
      const timestamp = o.start + i * 100 + ti;
      originals.push({ arrival: timestamp, body: { eventId: randomUUID(), eventType: 'trial_started', userId: `u${r.int(1, 40)}`, tenantId, traceId: 'ab'.repeat(16), timestamp, currency: 'USD', plan: r.pick(PLANS), country: COUNTRIES[ti * 5 + i]! } });
    }
  });
  for (let i = 0; i < o.count; i++) {
    const tenantId = r.pick(o.tenants);
    const eventType = r.pick(TYPES);
    const timestamp = o.start + 10_000 + r.int(0, o.spanMs - 10_001);
    const body: Record<string, unknown> = {
      ...(r.next() < 0.5 ? { eventId: randomUUID() } : {}),
      eventType,
      userId: `u${r.int(1, 40)}`,
      tenantId,
      traceId: 'cd'.repeat(16),
      timestamp,
      currency: r.pick(['USD', 'USD', 'EUR', 'GBP']),
      plan: r.pick(PLANS),
    };
    if (r.next() < 0.85) body.country = r.pick(COUNTRIES);
    if (eventType !== 'trial_started' && eventType !== 'churn') body.amount = r.next() < 0.3 ? r.int(1, 90) : amountOf(r);
    if (eventType === 'subscription_started' && r.next() < 0.8) body.from_trial = r.next() < 0.6;
    if ((eventType === 'refund' || eventType === 'churn') && r.next() < 0.8) body.reason = r.pick(REASONS);
    originals.push({ body, arrival: timestamp + r.int(0, Math.floor(o.latenessMs * 0.8)) });
  }
  const items: SaasItem[] = originals.map(({ body, arrival }) => ({ postAs: body.tenantId as string, arrival, kind: 'valid', body }));
  for (let i = 0; i < Math.round(o.count * 0.03); i++) {
    const { body, arrival } = r.pick(originals.slice(100));
    items.push({ postAs: body.tenantId as string, arrival: arrival + r.int(0, 120_000), kind: 'duplicate', body: { ...body } });
  }
  const breakers: ((b: Record<string, unknown>) => Record<string, unknown>)[] = [
    (b) => ({ ...b, plan: 'gold' }),
    (b) => ({ ...b, country: 'usa' }),
    (b) => ({ ...b, eventType: 'renewal', amount: undefined }),
    (b) => ({ ...b, eventType: 'refund', amount: '0' }),
    (b) => ({ ...b, eventType: 'subscription_started', amount: '1', from_trial: 'yes' }),
    (b) => ({ ...b, eventType: 'upgrade' }),
    (b) => ({ ...b, plan: undefined }),
    (b) => ({ ...b, eventType: 'churn', amount: '3' }),
  ];
  for (let i = 0; i < Math.round(o.count * 0.01); i++) {
    const { body, arrival } = r.pick(originals.slice(100));
    items.push({ postAs: body.tenantId as string, arrival, kind: 'invalid', body: breakers[i % breakers.length]!({ ...body, eventId: randomUUID() }) });
  }
  const head = items.slice(0, 50 * o.tenants.length); // the budget-filling trials go first, in order
  const rest = items.slice(head.length).sort((a, b) => a.arrival - b.arrival);
  return { items: [...head, ...rest], accepted: items.filter((i) => i.kind === 'valid').map((i) => i.body) };
}

// ---------------------------------------------------------------- brute force

type Ev = Record<string, unknown>;
interface Measure {
  kind: 'count' | 'sum' | 'distinct';
  by: string[];
  match: (e: Ev) => boolean;
}
const is = (...types: string[]) => (e: Ev) => types.includes(e.eventType as string);
/** The measures of models/saas.yaml, as its file reads. */
const MEASURES: Record<string, Measure> = {
  trials: { kind: 'count', by: ['plan', 'country'], match: is('trial_started') },
  new_subscriptions: { kind: 'count', by: ['currency', 'plan', 'country'], match: is('subscription_started') },
  trial_conversions: { kind: 'count', by: ['plan', 'country'], match: (e) => e.eventType === 'subscription_started' && e.from_trial === true },
  renewals: { kind: 'count', by: ['currency', 'plan', 'country'], match: is('renewal') },
  churns: { kind: 'count', by: ['plan', 'country'], match: is('churn') },
  gross_revenue: { kind: 'sum', by: ['currency', 'plan', 'country'], match: is('subscription_started', 'renewal') },
  refunds: { kind: 'sum', by: ['currency', 'plan', 'country'], match: (e) => e.eventType === 'refund' && e.reason !== 'duplicate' },
  paying_users: { kind: 'distinct', by: ['currency', 'plan', 'country'], match: is('subscription_started', 'renewal') },
};
export const FORMULAS: Record<string, { op: '-' | '/'; a: string; b: string }> = {
  net_revenue: { op: '-', a: 'gross_revenue', b: 'refunds' },
  arppu: { op: '/', a: 'net_revenue', b: 'paying_users' },
  trial_to_paid: { op: '/', a: 'trial_conversions', b: 'trials' },
};

export function micros(v: unknown): bigint {
  const [w = '0', f = ''] = String(v).split('.');
  return BigInt(w) * MICRO + BigInt((f + '000000').slice(0, 6));
}
export function fmt(m: bigint | null): string | null {
  if (m === null) return null;
  const neg = m < 0n;
  const a = neg ? -m : m;
  const frac = String(a % MICRO).padStart(6, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${a / MICRO}${frac ? `.${frac}` : ''}`;
}
/** a / b at 6 fractional digits, half to even; null when b is 0. */
function divide(a: bigint, b: bigint): bigint | null {
  if (b === 0n) return null;
  const neg = a < 0n !== b < 0n;
  const [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b];
  let q = (x * MICRO) / y;
  const r2 = ((x * MICRO) % y) * 2n;
  if (r2 > y || (r2 === y && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

interface Row {
  tenant: string;
  t: number;
  dims: Record<string, string>;
  value: bigint;
  user: string;
}
export type Filter = { dimension: string; in?: string[]; notIn?: string[] };
type Acc = { value: bigint; users: Set<string> };

/** Stored rows per measure: countries past a tenant's first 50 become `__other__`, a missing one ''. */
export function truthOf(accepted: readonly Ev[]) {
  const rows = new Map<string, Row[]>(Object.keys(MEASURES).map((m) => [m, []]));
  const kept = new Map<string, Set<string>>();
  for (const e of accepted) {
    const tenant = e.tenantId as string;
    const stored = (dim: string): string => {
      const v = e[dim];
      if (v === undefined) return '';
      if (dim !== 'country') return String(v);
      const set = kept.get(tenant) ?? kept.set(tenant, new Set()).get(tenant)!;
      if (set.has(v as string) || set.size < 50) return (set.add(v as string), v as string);
      return OTHER;
    };
    const dims = { currency: stored('currency'), plan: stored('plan'), country: stored('country') };
    for (const [name, m] of Object.entries(MEASURES)) {
      if (!m.match(e)) continue;
      const value = m.kind === 'count' ? MICRO : m.kind === 'sum' ? micros(e.amount) : 0n;
      rows.get(name)!.push({ tenant, t: e.timestamp as number, dims, value, user: e.userId as string });
    }
  }
  return { rows, kept, measures: MEASURES };
}
export type Truth = ReturnType<typeof truthOf>;

export interface Shape {
  from: number;
  to: number;
  bucketOf: (t: number) => number;
}
const passes = (r: Row, where: readonly Filter[]) => where.every((f) => (!f.in || f.in.includes(r.dims[f.dimension]!)) && (!f.notIn || !f.notIn.includes(r.dims[f.dimension]!)));

/** Per bucket and over the range: a measure's value in micros (a distinct: its users, ×10⁶). */
function measureSeries(truth: Truth, metric: string, tenant: string, shape: Shape, where: readonly Filter[], keep: (r: Row) => boolean) {
  const m = MEASURES[metric]!;
  const buckets = new Map<number, Acc>();
  const total: Acc = { value: 0n, users: new Set() };
  for (const r of truth.rows.get(metric)!) {
    if (r.tenant !== tenant || r.t < shape.from || r.t >= shape.to || !passes(r, where) || !keep(r)) continue;
    const b = shape.bucketOf(r.t);
    const acc = buckets.get(b) ?? buckets.set(b, { value: 0n, users: new Set() }).get(b)!;
    for (const a of [acc, total]) {
      if (m.kind === 'distinct') a.users.add(r.user);
      else a.value += r.value;
    }
  }
  const v = (a: Acc | undefined) => (a === undefined ? 0n : m.kind === 'distinct' ? BigInt(a.users.size) * MICRO : a.value);
  return { at: (b: number) => v(buckets.get(b)), total: v(total) };
}

export interface Expected {
  at: (bucket: number) => string | null;
  total: string | null;
}
type Micro = { at: (b: number) => bigint | null; total: bigint | null };
function series(truth: Truth, metric: string, tenant: string, shape: Shape, where: readonly Filter[], keep: (r: Row) => boolean): Micro {
  const f = FORMULAS[metric];
  if (!f) return measureSeries(truth, metric, tenant, shape, where, keep);
  const [a, b] = [series(truth, f.a, tenant, shape, where, keep), series(truth, f.b, tenant, shape, where, keep)];
  const op = (x: bigint | null, y: bigint | null) => (x === null || y === null ? null : f.op === '-' ? x - y : divide(x, y));
  return { at: (k) => op(a.at(k), b.at(k)), total: op(a.total, b.total) };
}
export function expectSeries(truth: Truth, metric: string, tenant: string, shape: Shape, where: readonly Filter[] = []): Expected {
  const s = series(truth, metric, tenant, shape, where, () => true);
  return { at: (k) => fmt(s.at(k)), total: fmt(s.total) };
}

const leaderOf = (metric: string): string => (FORMULAS[metric] ? leaderOf(FORMULAS[metric].a) : metric);

/** A breakdown by a non-currency dimension: the top N stored values by the leader's total (ties by value), then `other` when anything is left. */
export function expectBreakdown(truth: Truth, metric: string, tenant: string, shape: Shape, where: readonly Filter[], by: string, top: number) {
  const leader = leaderOf(metric);
  const values = new Set<string>();
  for (const r of truth.rows.get(leader)!) if (r.tenant === tenant && r.t >= shape.from && r.t < shape.to && passes(r, where)) values.add(r.dims[by]!);
  const scored = [...values].filter((v) => v !== '' && v !== OTHER).map((v) => ({ v, score: series(truth, leader, tenant, shape, where, (r) => r.dims[by] === v).total! }));
  scored.sort((x, y) => (x.score === y.score ? (x.v < y.v ? -1 : 1) : x.score > y.score ? -1 : 1));
  const kept = scored.slice(0, top).map((s) => s.v);
  const slices: { slice: string; other: boolean; expected: Expected }[] = kept.map((v) => ({ slice: v, other: false, expected: expectSeries(truth, metric, tenant, shape, [...where, { dimension: by, in: [v] }]) }));
  const rest = expectSeries(truth, metric, tenant, shape, [...where, { dimension: by, notIn: kept }]);
  return { slices, other: rest };
}
