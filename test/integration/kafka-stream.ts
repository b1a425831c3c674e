/**
 * The Kafka test stream: valid events over many tenants, exact duplicates (2%),
 * out-of-order arrival within the allowed lateness, arrivals past it (late), and
 * malformed records (1%: bad JSON, wrong types, missing fields, oversized, key ≠
 * tenant) — plus the ground truth per window, computed here from the events the
 * generator knows are valid and unique, independently of Tilecast's code.
 */
import { randomUUID } from 'node:crypto';
import { prng } from '../helpers/dataset.ts';

export interface StreamRecord {
  key: string;
  value: string;
  /** `batch`: an NDJSON batch record (several of the other kinds, one per line). */
  kind: 'valid' | 'duplicate' | 'malformed' | 'batch';
  expectedReason?: 'invalid_json' | 'schema_violation' | 'oversized' | 'tenant_mismatch';
  headers?: Record<string, string>;
}

/** Lines per batch record at most (the stream's batches are small so they mix with single records). */
const BATCH_LINES = 25;
/** How far ahead (in arrival order) a batch collects records of its key. */
const BATCH_LOOKAHEAD = 400;

export interface WindowValues {
  revenue: string;
  purchases: number;
  signups: number;
  upgrades: number;
  churns: number;
  activeUsers: number;
}

export interface StreamOptions {
  seed: number;
  tenants: string[];
  /** Valid, unique events. */
  count: number;
  /** Event times fall in [start, start + spanMs). */
  start: number;
  spanMs: number;
  allowedLatenessMs: number;
  duplicateRate?: number;
  malformedRate?: number;
  lateRate?: number;
  /**
   * Share of records sent inside NDJSON batch records (as `tilecast api` sends them), the
   * rest one record per event. A batch takes the next records of its key in arrival order
   * (per-tenant order is kept), malformed ones included: they become bad lines. Default 0.
   */
  batchShare?: number;
}

const CURRENCIES = ['USD', 'EUR', 'JPY'];
const MINUTE = 60_000;
const MICRO = 1_000_000n;

function micros(amount: string): bigint {
  const [w = '0', f = ''] = amount.split('.');
  return BigInt(w) * MICRO + BigInt(f.padEnd(6, '0'));
}

function formatMicros(m: bigint): string {
  const f = (m % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return f ? `${m / MICRO}.${f}` : `${m / MICRO}`;
}

export const windowKey = (tenantId: string, currency: string, windowStart: number) => `${tenantId}|${currency}|${windowStart}`;

export function generateStream(o: StreamOptions) {
  const r = prng(o.seed);
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[r.int(0, 15)]).join('');
  interface Original {
    event: Record<string, unknown> & { tenantId: string; userId: string; currency: string; eventType: string; timestamp: number; amount?: string };
    arrival: number;
  }
  const originals: Original[] = [];
  for (let i = 0; i < o.count; i++) {
    const tenantId = r.pick(o.tenants);
    const currency = r.pick(CURRENCIES);
    const x = r.next();
    const eventType = x < 0.5 ? 'purchase' : x < 0.75 ? 'signup' : x < 0.9 ? 'upgrade' : 'churn';
    const timestamp = o.start + r.int(0, o.spanMs - 1);
    const late = r.next() < (o.lateRate ?? 0.01);
    const delay = late ? r.int(o.allowedLatenessMs * 2, 8 * MINUTE) : r.int(0, Math.floor(o.allowedLatenessMs * 0.9));
    const amount = currency === 'JPY' ? String(r.int(1, 50_000)) : `${r.int(0, 999)}.${String(r.int(0, 99)).padStart(2, '0')}${r.next() < 0.1 ? String(r.int(1, 9999)).padStart(4, '0') : ''}`;
    const event: Original['event'] = {
      // A fifth of the events carry no eventId: their key is derived from the trace fields.
      ...(r.next() < 0.8 ? { eventId: randomUUID() } : {}),
      eventType,
      userId: `u${r.int(1, 400)}`,
      tenantId,
      currency,
      ...(eventType === 'purchase' && amount !== '0.00' && amount !== '0' ? { amount } : eventType === 'purchase' ? { amount: '1.5' } : {}),
      traceId: hex(31) + '1',
      timestamp,
    };
    originals.push({ event, arrival: timestamp + delay });
  }
  const records: (StreamRecord & { arrival: number })[] = originals.map(({ event, arrival }) => ({
    key: event.tenantId,
    value: JSON.stringify(event),
    kind: 'valid',
    arrival,
  }));
  const dupes = Math.round(o.count * (o.duplicateRate ?? 0.02));
  for (let i = 0; i < dupes; i++) {
    const { event, arrival } = r.pick(originals);
    records.push({ key: event.tenantId, value: JSON.stringify(event), kind: 'duplicate', arrival: arrival + r.int(0, 3 * MINUTE) });
  }
  const breakers: ((e: Original['event']) => Omit<StreamRecord, 'kind'>)[] = [
    (e) => ({ key: e.tenantId, value: `{"eventType":"purchase","tenantId":"${e.tenantId}","nonce":"${randomUUID()}",`, expectedReason: 'invalid_json' }),
    (e) => ({ key: e.tenantId, value: JSON.stringify({ ...e, eventId: randomUUID(), eventType: 'purchase', amount: true }), expectedReason: 'schema_violation' }),
    (e) => ({ key: e.tenantId, value: JSON.stringify({ ...e, eventId: randomUUID(), timestamp: 'yesterday' }), expectedReason: 'schema_violation' }),
    (e) => ({ key: e.tenantId, value: JSON.stringify({ ...e, eventId: randomUUID(), userId: undefined }), expectedReason: 'schema_violation' }),
    (e) => ({ key: e.tenantId, value: JSON.stringify({ ...e, eventId: randomUUID(), note: 'x'.repeat(17_000) }), expectedReason: 'oversized' }),
    (e) => ({ key: o.tenants.find((t) => t !== e.tenantId) ?? `${e.tenantId}x`, value: JSON.stringify({ ...e, eventId: randomUUID() }), expectedReason: 'tenant_mismatch' }),
  ];
  const malformed = Math.round(o.count * (o.malformedRate ?? 0.01));
  for (let i = 0; i < malformed; i++) {
    const { event, arrival } = r.pick(originals);
    records.push({ ...breakers[i % breakers.length]!(event), kind: 'malformed', arrival });
  }
  records.sort((a, b) => a.arrival - b.arrival);
  const events = records.map(({ arrival: _a, ...rec }) => rec);
  const messages = packBatches(events, o.batchShare ?? 0, r);

  // Ground truth per one-minute window of tenant × currency, from the unique valid events.
  const acc = new Map<string, { revenue: bigint; purchases: number; signups: number; upgrades: number; churns: number; users: Set<string> }>();
  for (const { event: e } of originals) {
    const k = windowKey(e.tenantId, e.currency, Math.floor(e.timestamp / MINUTE) * MINUTE);
    let a = acc.get(k);
    if (!a) acc.set(k, (a = { revenue: 0n, purchases: 0, signups: 0, upgrades: 0, churns: 0, users: new Set() }));
    a.users.add(e.userId);
    if (e.eventType === 'purchase') {
      a.purchases += 1;
      a.revenue += micros(e.amount!);
    } else if (e.eventType === 'signup') a.signups += 1;
    else if (e.eventType === 'upgrade') a.upgrades += 1;
    else a.churns += 1;
  }
  const truth = new Map<string, WindowValues>(
    [...acc].map(([k, a]) => [
      k,
      { revenue: formatMicros(a.revenue), purchases: a.purchases, signups: a.signups, upgrades: a.upgrades, churns: a.churns, activeUsers: a.users.size },
    ]),
  );
  return { records: messages, events, truth };
}

/** Packs a share of the records into NDJSON batch records of one key each (see StreamOptions.batchShare). */
function packBatches(records: readonly StreamRecord[], share: number, r: ReturnType<typeof prng>): StreamRecord[] {
  // Oversized records stay single records, so the record-level size check stays covered
  // here (an oversized line is covered by the unit tests).
  const batchable = records.map((rec) => rec.expectedReason !== 'oversized' && r.next() < share);
  const taken = new Array<boolean>(records.length).fill(false);
  const out: StreamRecord[] = [];
  for (let i = 0; i < records.length; i++) {
    if (taken[i]) continue;
    const first = records[i]!;
    if (!batchable[i]) {
      out.push(first);
      continue;
    }
    const lines = [first.value];
    for (let j = i + 1; j < Math.min(records.length, i + BATCH_LOOKAHEAD) && lines.length < BATCH_LINES; j++) {
      if (taken[j] || !batchable[j] || records[j]!.key !== first.key) continue;
      taken[j] = true;
      lines.push(records[j]!.value);
    }
    out.push({ key: first.key, value: lines.join('\n'), kind: 'batch', headers: { 'content-type': 'application/x-ndjson' } });
  }
  return out;
}

/** Windows whose stored values differ from the truth (missing, extra or wrong), for a readable failure. */
export function diffWindows(truth: ReadonlyMap<string, WindowValues>, stored: ReadonlyMap<string, WindowValues>, limit = 5) {
  const problems: string[] = [];
  for (const [k, v] of truth) {
    const s = stored.get(k);
    if (!s) problems.push(`missing ${k}`);
    else if (JSON.stringify(s) !== JSON.stringify(v)) problems.push(`${k}: stored ${JSON.stringify(s)} expected ${JSON.stringify(v)}`);
  }
  for (const k of stored.keys()) if (!truth.has(k)) problems.push(`unexpected ${k}`);
  return { count: problems.length, sample: problems.slice(0, limit) };
}
