/**
 * A reproducible stream of business events with everything that goes wrong in
 * practice — exact duplicates, out-of-order arrival within the allowed lateness,
 * arrivals later than it, invalid items — plus the ground truth computed here,
 * independently of Tilecast's code, from the events the generator knows are
 * valid and unique.
 */
import { randomUUID } from 'node:crypto';

export type Metric = 'REVENUE' | 'PURCHASES' | 'SIGNUPS' | 'UPGRADES' | 'CHURNS' | 'ACTIVE_USERS';
export const ALL_METRICS: Metric[] = ['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS'];

export interface GeneratedEvent {
  eventId?: string;
  eventType: 'purchase' | 'signup' | 'churn' | 'upgrade';
  userId: string;
  tenantId: string;
  amount?: string;
  currency: string;
  traceId: string;
  timestamp: number;
}

export interface Item {
  /** Tenant whose token posts it. */
  postAs: string;
  arrival: number;
  kind: 'valid' | 'duplicate' | 'invalid';
  /** Object items are sent as JSON; a string is a raw (broken) NDJSON line. */
  body: GeneratedEvent | Record<string, unknown> | string;
  expectedReason?: 'schema_violation' | 'tenant_mismatch' | 'invalid_json';
}

export function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

const hex32 = (r: ReturnType<typeof prng>) => Array.from({ length: 32 }, () => '0123456789abcdef'[r.int(0, 15)]).join('');

/** Amount as a decimal string with the currency's usual digits (JPY has none). */
function amountFor(r: ReturnType<typeof prng>, currency: string): string {
  if (currency === 'JPY') return String(r.int(1, 50_000));
  const cents = r.int(1, 99_999);
  const micro = r.next() < 0.1 ? String(r.int(0, 9_999)).padStart(4, '0') : '';
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}${micro}`;
}

export interface DatasetOptions {
  seed: number;
  tenants: string[];
  currencies: string[];
  /** Valid, unique events. */
  count: number;
  start: number;
  spanMs: number;
  allowedLatenessMs: number;
  usersPerTenant?: number;
  duplicateRate?: number;
  invalidRate?: number;
  lateRate?: number;
  /** Per-tenant currency override (e.g. a currency only one tenant uses). */
  currenciesOf?: (tenantId: string) => string[];
}

export function generateDataset(o: DatasetOptions) {
  const r = prng(o.seed);
  const users = o.usersPerTenant ?? 300;
  const originals: { event: GeneratedEvent; arrival: number }[] = [];
  for (let i = 0; i < o.count; i++) {
    const tenantId = r.pick(o.tenants);
    const currency = r.pick(o.currenciesOf?.(tenantId) ?? o.currencies);
    const x = r.next();
    const eventType = x < 0.5 ? 'purchase' : x < 0.75 ? 'signup' : x < 0.9 ? 'upgrade' : 'churn';
    const timestamp = o.start + r.int(0, o.spanMs - 1);
    const late = r.next() < (o.lateRate ?? 0.01);
    // On time: up to 90% of the allowed lateness out of order. Late: well past it (up to 8 minutes, past eviction too).
    const delay = late ? r.int(o.allowedLatenessMs * 2, 8 * 60_000) : r.int(0, Math.floor(o.allowedLatenessMs * 0.9));
    const event: GeneratedEvent = {
      ...(r.next() < 0.5 ? { eventId: randomUUID() } : {}),
      eventType,
      userId: `u${r.int(1, users)}`,
      tenantId,
      currency,
      ...(eventType === 'purchase' || (eventType === 'upgrade' && r.next() < 0.3) ? { amount: amountFor(r, currency) } : {}),
      traceId: hex32(r),
      timestamp,
    };
    originals.push({ event, arrival: timestamp + delay });
  }
  const items: Item[] = originals.map(({ event, arrival }) => ({ postAs: event.tenantId, arrival, kind: 'valid', body: event }));
  const dupes = Math.round(o.count * (o.duplicateRate ?? 0.02));
  for (let i = 0; i < dupes; i++) {
    const { event, arrival } = r.pick(originals);
    items.push({ postAs: event.tenantId, arrival: arrival + r.int(0, 180_000), kind: 'duplicate', body: { ...event } });
  }
  const invalid = Math.round(o.count * (o.invalidRate ?? 0.01));
  const breakers: ((e: GeneratedEvent) => Pick<Item, 'body' | 'expectedReason' | 'postAs'>)[] = [
    (e) => ({ body: { ...e, amount: true }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, timestamp: 'yesterday' }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, userId: undefined }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, currency: 'usd' }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, currency: 'XQQ' }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, eventType: 'purchase', amount: '-5.00' }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, eventType: 'purchase', amount: '1.1234567' }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, eventType: 'purchase', amount: undefined }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, traceId: 'not-a-trace' }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: { ...e, extra: 1 }, expectedReason: 'schema_violation', postAs: e.tenantId }),
    (e) => ({ body: e, expectedReason: 'tenant_mismatch', postAs: o.tenants.find((t) => t !== e.tenantId) ?? e.tenantId }),
    (e) => ({ body: `{"eventType": "purchase", "tenantId": "${e.tenantId}", `, expectedReason: 'invalid_json', postAs: e.tenantId }),
  ];
  for (let i = 0; i < invalid; i++) {
    const { event, arrival } = r.pick(originals);
    const broken = breakers[i % breakers.length]!({ ...event, eventId: randomUUID() });
    items.push({ ...broken, arrival, kind: 'invalid' });
  }
  items.sort((a, b) => a.arrival - b.arrival);
  return { items, events: originals.map((x) => x.event) };
}

// ---------------------------------------------------------------- ground truth

const MICRO = 1_000_000n;
function micros(amount: string): bigint {
  const [w = '0', f = ''] = amount.split('.');
  return BigInt(w) * MICRO + BigInt(f.padEnd(6, '0'));
}
export function formatMicros(m: bigint): string {
  const w = m / MICRO;
  const f = (m % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return f ? `${w}.${f}` : `${w}`;
}

interface Acc {
  revenue: bigint;
  purchases: number;
  signups: number;
  upgrades: number;
  churns: number;
  users: Set<string>;
}
const emptyAcc = (): Acc => ({ revenue: 0n, purchases: 0, signups: 0, upgrades: 0, churns: 0, users: new Set() });

export function valueOf(a: Acc | undefined, metric: Metric): string {
  if (!a) return '0';
  switch (metric) {
    case 'REVENUE':
      return formatMicros(a.revenue);
    case 'PURCHASES':
      return String(a.purchases);
    case 'SIGNUPS':
      return String(a.signups);
    case 'UPGRADES':
      return String(a.upgrades);
    case 'CHURNS':
      return String(a.churns);
    case 'ACTIVE_USERS':
      return String(a.users.size);
  }
}

/**
 * Expected aggregates by bucket for one tenant and currency (null = all currencies),
 * with `bucketOf` mapping an event time to its bucket start.
 */
export function groundTruth(events: readonly GeneratedEvent[], tenantId: string, currency: string | null, bucketOf: (t: number) => number) {
  const buckets = new Map<number, Acc>();
  const total = emptyAcc();
  for (const e of events) {
    if (e.tenantId !== tenantId || (currency !== null && e.currency !== currency)) continue;
    const b = bucketOf(e.timestamp);
    let acc = buckets.get(b);
    if (!acc) buckets.set(b, (acc = emptyAcc()));
    for (const a of [acc, total]) {
      a.users.add(e.userId);
      if (e.eventType === 'purchase') {
        a.purchases += 1;
        a.revenue += micros(e.amount!);
      } else if (e.eventType === 'signup') a.signups += 1;
      else if (e.eventType === 'upgrade') a.upgrades += 1;
      else a.churns += 1;
    }
  }
  return { buckets, total };
}
