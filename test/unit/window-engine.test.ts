import { describe, expect, it } from 'vitest';
import { createWindowEngine, type WindowEvent } from '../../src/aggregate/window-engine.ts';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
let n = 0;
const ev = (over: Partial<WindowEvent> = {}): WindowEvent => ({
  key: `k${++n}`,
  eventType: 'purchase',
  userId: 'u1',
  tenantId: 'acme',
  currency: 'USD',
  amount: '1.10',
  traceId: 'a'.repeat(32),
  timestamp: T0 + 5_000,
  ...over,
});
const engine = () => createWindowEngine({ allowedLatenessMs: 10_000, initialWatermark: T0 - 60_000 });

describe('window engine', () => {
  it('aggregates exactly: decimal revenue, counts, distinct users', () => {
    const e = engine();
    e.add(ev({ amount: '0.1' }), T0);
    e.add(ev({ amount: '0.2', userId: 'u2' }), T0);
    e.add(ev({ eventType: 'signup', amount: undefined, userId: 'u2' }), T0);
    e.add(ev({ eventType: 'churn', amount: undefined }), T0);
    e.add(ev({ eventType: 'upgrade', amount: '99' }), T0); // amounts on non-purchases are not revenue
    const [u] = e.collect();
    expect(u).toMatchObject({ revenue: '0.3', purchases: 2, signups: 1, churns: 1, upgrades: 1, activeUsers: 2, revision: 1, kind: 'partial', final: false });
  });

  it('sums revenue exactly past 2^53 micro-units and with negative amounts', () => {
    const e = engine();
    e.add(ev({ amount: '9007199254.740991' }), T0); // 2^53 - 1 micro-units
    e.add(ev({ amount: '0.000002' }), T0);
    e.add(ev({ amount: '123456789012345678901234.5' }), T0);
    e.add(ev({ amount: '-0.5' }), T0);
    const [u] = e.collect();
    expect(u!.revenue).toBe('123456789012354686100488.740993');
  });

  it('counts a repeated idempotency key once', () => {
    const e = engine();
    const a = ev();
    expect(e.add(a, T0)).toBe('applied');
    expect(e.add({ ...a }, T0)).toBe('duplicate');
    expect(e.collect()[0]?.purchases).toBe(1);
  });

  it('assigns by event time, not arrival order; window end is exclusive', () => {
    const e = engine();
    e.add(ev({ timestamp: T0 + 59_999 }), T0);
    e.add(ev({ timestamp: T0 + 60_000 }), T0);
    e.add(ev({ timestamp: T0 }), T0);
    expect(e.collect().map((u) => [u.windowStart - T0, u.purchases])).toEqual([[0, 2], [60_000, 1]]);
  });

  it('goes partial → final → correction with increasing revisions', () => {
    const e = engine();
    e.add(ev(), T0 + 5_000);
    const r1 = e.collect();
    e.acknowledge(r1);
    expect(e.collect()).toEqual([]); // nothing changed, nothing to write
    e.add(ev({ timestamp: T0 + 75_000 }), T0 + 75_000); // watermark = 65 s > end of the first window
    const r2 = e.collect();
    e.acknowledge(r2);
    expect(r2.map((u) => [u.windowStart - T0, u.kind, u.revision, u.final])).toEqual([[0, 'final', 2, true], [60_000, 'partial', 1, false]]);
    expect(e.add(ev({ timestamp: T0 + 1_000 }), T0 + 76_000)).toBe('late');
    const r3 = e.collect();
    expect(r3.map((u) => [u.windowStart - T0, u.kind, u.revision, u.purchases])).toEqual([[0, 'correction', 3, 2]]);
  });

  it('an update changed between collect and acknowledge stays dirty', () => {
    const e = engine();
    e.add(ev(), T0);
    const first = e.collect();
    e.add(ev(), T0);
    e.acknowledge(first);
    expect(e.collect().map((u) => [u.revision, u.purchases])).toEqual([[2, 2]]);
  });

  it('idle advance finalises windows without new events', () => {
    const e = engine();
    e.add(ev(), T0 + 5_000);
    e.acknowledge(e.collect());
    e.advance(T0 + 80_000); // idle for > lateness → watermark = 70 s
    expect(e.collect().map((u) => u.kind)).toEqual(['final']);
  });

  it('a late event for an evicted window waits for restore and counts stored keys once', () => {
    const e = createWindowEngine({ allowedLatenessMs: 10_000, retainFinalMs: 0, initialWatermark: T0 - 60_000 });
    const a = ev({ key: 'stored-1', userId: 'u9' });
    e.add(a, T0 + 5_000);
    e.advance(T0 + 100_000);
    const written = e.collect();
    e.acknowledge(written);
    expect(e.evict()).toBe(1);
    const late = ev({ key: 'late-1', userId: 'u10' });
    expect(e.add(late, T0 + 100_000)).toBe('late');
    expect(e.add({ ...a }, T0 + 100_000)).toBe('late'); // unknown until restored
    expect(e.collect()).toEqual([]); // never written before restore
    const [ref] = e.pendingRestores();
    expect(ref).toEqual({ tenantId: 'acme', currency: 'USD', windowStart: T0 });
    // storage has the first event and (event log written before the engine saw it) the late one
    e.restore(ref!, { revision: written[0]!.revision, final: true, values: written[0]!, events: [a, late] });
    const [u] = e.collect();
    expect(u).toMatchObject({ kind: 'correction', revision: written[0]!.revision + 1, purchases: 2, activeUsers: 2, final: true });
  });

  it('restore of a window never written writes it at revision 1', () => {
    const e = engine();
    e.restore({ tenantId: 'acme', currency: 'EUR', windowStart: T0 }, { revision: 0, final: false, values: null, events: [ev({ currency: 'EUR' })] });
    expect(e.collect().map((u) => [u.revision, u.kind])).toEqual([[1, 'partial']]);
  });

  it('restore that matches the stored values writes nothing', () => {
    const e = engine();
    const a = ev();
    e.add(a, T0);
    const [u] = e.collect();
    const other = engine();
    other.restore({ tenantId: 'acme', currency: 'USD', windowStart: T0 }, { revision: 1, final: false, values: u!, events: [a] });
    expect(other.collect()).toEqual([]);
  });

  it('keeps tenants and currencies apart', () => {
    const e = engine();
    e.add(ev({ tenantId: 'a' }), T0);
    e.add(ev({ tenantId: 'b' }), T0);
    e.add(ev({ tenantId: 'a', currency: 'JPY', amount: '500' }), T0);
    expect(e.collect().map((u) => `${u.tenantId}/${u.currency}/${u.revenue}`)).toEqual(['a/JPY/500', 'a/USD/1.1', 'b/USD/1.1']);
  });
});
