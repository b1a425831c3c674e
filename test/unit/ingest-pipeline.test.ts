/** The shared ingest pipeline and its key index, against an in-memory event log. */
import { describe, expect, it } from 'vitest';
import type { AcceptedEvent, WindowEvent } from '../../src/contracts/event.ts';
import { createKeyIndex } from '../../src/ingest/pipeline/key-index.ts';
import { createIngestPipeline, type IngestItem, type RejectedItem } from '../../src/ingest/pipeline/pipeline.ts';
import { DEDUPE_HORIZON_MS as H, isRejected, validate, windowStartOf, withKey } from '../../src/ingest/pipeline/steps.ts';
import type { ArrivalQuery } from '../../src/storage/event-log.ts';
import { loadPlan } from '../helpers/model.ts';

const plan = loadPlan();
const T = Date.UTC(2026, 0, 10, 12, 0, 0);
const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const ev = (n: number | null, over: Record<string, unknown> = {}) => ({
  ...(n === null ? {} : { eventId: ID(n) }),
  eventType: 'purchase',
  userId: `u${n ?? 0}`,
  tenantId: 'acme',
  amount: '1.5',
  currency: 'EUR',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  timestamp: T,
  ...over,
});
const keyed = (v: unknown): AcceptedEvent => {
  const r = validate(plan, v);
  if (isRejected(r)) throw new Error('invalid');
  return withKey(r);
};

/** An event log in memory that answers `arrivals` like the real one (and counts its queries). */
function fakeLog(rows: WindowEvent[] = []) {
  const queries: ArrivalQuery[] = [];
  return {
    rows,
    queries,
    async arrivals(q: ArrivalQuery): Promise<WindowEvent[]> {
      queries.push(q);
      return rows.filter(
        (r) => q.tenants.includes(r.tenantId) && windowStartOf(r.timestamp) >= q.from && (q.to === undefined || windowStartOf(r.timestamp) <= q.to) && (!q.keys || q.keys.includes(r.key)),
      );
    },
  };
}

function setup(o: { rows?: WindowEvent[]; soleWriter?: boolean; budget?: number; retentionDays?: number; failSink?: () => boolean; clock?: () => number } = {}) {
  const clock = o.clock ?? (() => T);
  const log = fakeLog(o.rows);
  const sunk: AcceptedEvent[][] = [];
  const dead: RejectedItem<number>[] = [];
  const keys = createKeyIndex({ arrivals: (q) => log.arrivals(q), soleWriter: o.soleWriter ?? true, clock });
  const pipeline = createIngestPipeline<number>({
    plan,
    tenantRule: { path: 'tenantId', message: () => 'wrong tenant' },
    currencyBudget: o.budget ?? 5,
    retentionDays: o.retentionDays ?? 0,
    clock: () => T,
    keys,
    currencies: async () => new Map(),
    deadLetter: async (r) => void dead.push(...r),
    sink: {
      async accept(events) {
        if (o.failSink?.()) throw new Error('sink down');
        sunk.push([...events]);
        // What a logged sink does: the rows are in the log now.
        log.rows.push(...events);
      },
    },
  });
  const run = (values: unknown[]) => pipeline.run(values.map((value, ref): IngestItem<number> => ({ ref, item: { value }, tenant: 'acme' })));
  return { log, sunk, dead, keys, run };
}

describe('ingest pipeline: one duplicate rule', () => {
  it('counts the first arrival; an exact repeat is a duplicate; other content is a conflict dead letter', async () => {
    const s = setup();
    const r1 = await s.run([ev(1), ev(1), ev(2), ev(1, { timestamp: T + 60_000 }), ev(1, { currency: 'USD' }), ev(null), ev(null), ev(null, { amount: '2' })]);
    expect(r1.accepted).toBe(3); // 1, 2, the derived key
    expect(r1.duplicates).toBe(2); // 1 again, the derived key again
    expect(r1.rejected.map((r) => [r.ref, r.reason])).toEqual([
      [3, 'duplicate_key_conflict'],
      [4, 'duplicate_key_conflict'],
      [7, 'duplicate_key_conflict'], // derived key: same trace/type/time/user, another amount
    ]);
    expect(s.dead.map((d) => d.ref)).toEqual([3, 4, 7]);
    // A later batch: the same rule, answered from memory.
    const r2 = await s.run([ev(1), ev(2, { amount: '9' }), ev(3)]);
    expect([r2.accepted, r2.duplicates, r2.rejected.map((r) => r.reason)]).toEqual([1, 1, ['duplicate_key_conflict']]);
    expect(s.sunk.flat().map((e) => e.key)).toEqual([ID(1), ID(2), keyed(ev(null)).key, ID(3)]);
  });

  it('judges against the log of an earlier run (first sight of a tenant loads its recent keys, one query)', async () => {
    const s = setup({ rows: [keyed(ev(1))] });
    const r = await s.run([ev(1), ev(1, { userId: 'other' }), ev(2)]);
    expect([r.accepted, r.duplicates, r.rejected.map((x) => x.reason)]).toEqual([1, 1, ['duplicate_key_conflict']]);
    expect(s.log.queries).toHaveLength(1);
    expect(s.log.queries[0]).toMatchObject({ tenants: ['acme'], from: windowStartOf(T - 2 * H) });
    expect(s.log.queries[0]!.keys).toBeUndefined();
    await s.run([ev(4, { timestamp: T + 5 * 60_000 })]);
    expect(s.log.queries).toHaveLength(1); // memory covers it
  });

  it('late events older than the memory ask the log for their horizon only', async () => {
    const old = T - 5 * H;
    const s = setup({ rows: [keyed(ev(7, { timestamp: old }))] });
    await s.run([ev(1)]);
    const r = await s.run([ev(7, { timestamp: old }), ev(7, { timestamp: old + 60_000 }), ev(8, { timestamp: old })]);
    expect([r.accepted, r.duplicates, r.rejected.map((x) => x.reason)]).toEqual([1, 1, ['duplicate_key_conflict']]);
    const q = s.log.queries.at(-1)!;
    expect([...(q.keys ?? [])].sort()).toEqual([ID(7), ID(8)]);
    expect([q.from, q.to]).toEqual([windowStartOf(old - H), old + 60_000 + H]);
  });

  it('a key reused beyond the horizon counts again (the scope is bounded)', async () => {
    const s = setup();
    await s.run([ev(1)]);
    const r = await s.run([ev(1, { timestamp: T + H + 60_000 })]);
    expect(r.accepted).toBe(1);
  });

  it('memory stays bounded as event time moves on', async () => {
    let now = T;
    const s = setup({ clock: () => now });
    for (let i = 0; i < 40; i++) {
      now = T + i * 15 * 60_000; // 10 hours, an event every 15 minutes
      await s.run([ev(i, { timestamp: now })]);
    }
    expect(s.keys.size()).toBeLessThanOrEqual(13); // at most ~3 horizons of 4 events each
    // Far-future event times do not wipe memory: the newest time followed is capped at the clock + H.
    await s.run([ev(99, { timestamp: now + 1000 * H })]);
    expect((await s.run([ev(39, { timestamp: now })])).duplicates).toBe(1);
  });

  it('not the sole writer (tilecast api): asks the log for every batch, and remembers what it sent', async () => {
    const s = setup({ soleWriter: false, rows: [keyed(ev(1))] });
    const r1 = await s.run([ev(1), ev(2)]);
    s.log.rows.length = 0; // what was sent is not logged yet
    const r2 = await s.run([ev(2), ev(2, { currency: 'USD' })]);
    expect([r1.accepted, r1.duplicates, r2.accepted, r2.duplicates, r2.rejected.map((x) => x.reason)]).toEqual([1, 1, 0, 1, ['duplicate_key_conflict']]);
    expect(s.log.queries.map((q) => q.keys)).toEqual([[ID(1), ID(2)], [ID(2)]]);
  });

  it('a failed sink remembers nothing: the retry counts', async () => {
    let down = true;
    const s = setup({ failSink: () => down });
    await expect(s.run([ev(1)])).rejects.toThrow('sink down');
    down = false;
    expect((await s.run([ev(1)])).accepted).toBe(1);
  });

  it('a failed batch forgets exactly what it counted: keys known before keep their arrivals', async () => {
    let down = false;
    const s = setup({ failSink: () => down });
    await s.run([ev(1), ev(2)]);
    down = true;
    // Key 1 beyond the horizon counts again, and key 3 is new: both forgotten with the batch.
    await expect(s.run([ev(1, { timestamp: T + 2 * H }), ev(3), ev(3)])).rejects.toThrow('sink down');
    down = false;
    const r = await s.run([ev(1), ev(2, { userId: 'other' }), ev(1, { timestamp: T + 2 * H }), ev(3), ev(3, { amount: '7' })]);
    expect([r.accepted, r.duplicates, r.rejected.map((x) => [x.ref, x.reason])]).toEqual([2, 1, [[1, 'duplicate_key_conflict'], [4, 'duplicate_key_conflict']]]);
    expect(s.keys.size()).toBe(4);
  });

  it('rejects in input order with reasons: schema, tenant, too old, budget; duplicates use no budget', async () => {
    const s = setup({ budget: 1, retentionDays: 1 });
    const r = await s.run([ev(1), { nope: 1 }, ev(2, { tenantId: 'globex' }), ev(3, { timestamp: T - 3 * 86_400_000 }), ev(1), ev(4, { currency: 'USD' })]);
    expect(r.rejected.map((x) => [x.ref, x.reason])).toEqual([
      [1, 'schema_violation'],
      [2, 'tenant_mismatch'],
      [3, 'too_old'],
      [5, 'currency_budget_exceeded'],
    ]);
    expect([r.accepted, r.duplicates]).toEqual([1, 1]);
  });
});
