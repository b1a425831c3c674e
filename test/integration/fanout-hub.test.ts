/**
 * The subscription hub through the real schema and graphql-js `subscribe`, with a bus
 * and a storage reader that the test controls (no ClickHouse, no Redis): shared frames
 * equal per-subscriber execution, filters, resume and gap catch-up with revision
 * de-duplication, tenant caps, slow consumers and freshness heartbeats.
 * Real sockets, ClickHouse and Redis: fanout-ws.test.ts and fanout-replicas.test.ts.
 */
import { parse, subscribe, type ExecutionResult } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import type { WindowUpdate } from '../../src/contracts/window.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createInProcessBus, type BusGap, type UpdateBus } from '../../src/realtime/bus.ts';
import { createWsConnection, type FrameSharing } from '../../src/app/ws/connection.ts';
import { createFrameGroups, createFrameWriter, type FrameSocket } from '../../src/app/ws/frames.ts';
import type { SubscriptionConnection } from '../../src/resolvers/connection.ts';
import { createRequestContext, type ApiServices } from '../../src/resolvers/context.ts';
import { createFreshnessTracker } from '../../src/resolvers/freshness.ts';
import type { CatchUpHooks, CatchUpReason } from '../../src/resolvers/subscription-catchup.ts';
import { RESUME_OVERLAP_MS, createSubscriptionHub, type HubLimits } from '../../src/resolvers/subscription-hub.ts';
import { requireModel } from '../../src/model/compile.ts';
import { buildSchema } from '../../src/schema/index.ts';
import type { ChangedWindow, ChangedSinceParams } from '../../src/storage/window-changes.ts';
import { waitFor } from '../helpers/wait.ts';

const T0 = Date.UTC(2026, 2, 1, 12, 0);
let now = T0;
const plan = await requireModel('models/default.yaml');
const schema = buildSchema(plan);

function update(tenantId: string, o: Partial<WindowUpdate> = {}): WindowUpdate {
  const windowStart = o.windowStart ?? T0;
  return {
    tenantId, currency: 'USD', windowStart, windowEnd: windowStart + 60_000, revision: 1, final: false, kind: 'partial',
    revenue: '10', purchases: 1, signups: 2, upgrades: 0, churns: 0, activeUsers: 3, lastEventAt: windowStart + 1, traceSample: ['t1'], ...o,
  };
}

function fakeSocket(): FrameSocket & { sent: string[]; terminated: boolean; bufferedAmount: number; readyState: number } {
  return {
    readyState: 1, bufferedAmount: 0, sent: [], terminated: false,
    send(d: string) {
      this.sent.push(d);
    },
    terminate() {
      this.terminated = true;
      this.readyState = 3;
    },
  };
}

function setup(o: { limits?: Partial<HubLimits>; maxBufferedBytes?: number; stored?: ChangedWindow[]; hooks?: CatchUpHooks; deferActive?: boolean } = {}) {
  const inner = createInProcessBus();
  const gapHandlers = new Set<(g: BusGap) => void>();
  // deferActive: like Redis, a tenant subscription receives nothing until activate() (its SUBSCRIBE confirmed).
  const activations: (() => void)[] = [];
  const subscribeWindows: UpdateBus['subscribeWindows'] = (tenantId, handler, onActive) => {
    if (!o.deferActive) return inner.subscribeWindows(tenantId, handler, onActive);
    let active = false;
    activations.push(() => {
      active = true;
      onActive?.();
    });
    return inner.subscribeWindows(tenantId, (u) => active && handler(u));
  };
  const bus: UpdateBus = { ...inner, subscribeWindows, subscribeGaps: (h) => (gapHandlers.add(h), () => gapHandlers.delete(h)) };
  const stored = o.stored ?? [];
  const reads: ChangedSinceParams[] = [];
  let release: (() => void) | null = null;
  let blocked: Promise<void> | null = null;
  const changes = {
    async changedSince(p: ChangedSinceParams) {
      reads.push(p);
      if (blocked) await blocked;
      return stored.filter((r) => r.tenantId === p.tenantId && r.writtenAt >= p.since);
    },
  };
  const freshness = createFreshnessTracker({ clock: () => now, staleAfterMs: 30_000 });
  const limits: HubLimits = { maxSubscriptionsPerTenant: 100, heartbeatIntervalMs: 60_000, fanout: 'shared', ...o.limits };
  const logger = createLogger('silent');
  const hub = createSubscriptionHub({ bus, freshness, changes, plan, logger, limits, clock: () => now, hooks: o.hooks });
  // The websocket transport's frame sharing (src/app/ws/), around fake sockets.
  const sharing: FrameSharing = { groups: createFrameGroups({ logger }), writer: createFrameWriter({ maxBufferedBytes: o.maxBufferedBytes ?? 1_000_000 }) };
  const connection = (socket: FrameSocket, id: string, variables: Record<string, unknown>): SubscriptionConnection =>
    createWsConnection({ target: { socket, net: null }, id, variables, sharing });
  const services = { bus, freshness, plan, clock: () => now, onSubscription: () => undefined, subscriptions: hub } as unknown as ApiServices;

  async function open(tenantId: string, query: string, o2: { variables?: Record<string, unknown>; socket?: ReturnType<typeof fakeSocket>; id?: string } = {}) {
    const conn = o2.socket ? connection(o2.socket, o2.id ?? 'sub-1', o2.variables ?? {}) : undefined;
    const contextValue = createRequestContext(services, { tenantId, scope: 'read' }, conn);
    const result = await subscribe({ schema, document: parse(query), contextValue, variableValues: o2.variables });
    if (!(Symbol.asyncIterator in result)) throw new Error(JSON.stringify(result.errors));
    const iterator = result as AsyncGenerator<ExecutionResult>;
    const received: ExecutionResult[] = [];
    let error: unknown = null;
    // Per-subscriber mode: graphql-js yields results; shared mode: the iterator never yields.
    void (async () => {
      try {
        for await (const r of iterator) received.push(JSON.parse(JSON.stringify(r)) as ExecutionResult);
      } catch (err) {
        error = err;
      }
    })();
    const frames = () => (o2.socket?.sent ?? []).map((s) => JSON.parse(s) as { id: string; type: string; payload: ExecutionResult });
    return { iterator, received, frames, error: () => error, close: () => iterator.return?.(undefined) };
  }

  return {
    bus, hub, freshness, reads, open, stored, sharing, connection,
    gap: (g: BusGap) => gapHandlers.forEach((h) => h(g)),
    activate: () => activations.splice(0).forEach((f) => f()),
    block() {
      blocked = new Promise((r) => (release = r));
    },
    unblock() {
      blocked = null;
      release?.();
    },
  };
}

const values = (results: ExecutionResult[]) => results.map((r) => (r.data as { w: { metric: string; value: string; revision: number } }).w);

afterEach(() => {
  now = T0;
});

describe('subscription hub', () => {
  const OP = `subscription S($m: [Metric!], $withTrace: Boolean!) {
    w: windows(metrics: $m, currency: "USD") { ...F traceIds @include(if: $withTrace) freshness { isStale } }
  }
  fragment F on WindowUpdate { metric value revision kind final windowStart replayed }`;

  it('shared frames carry exactly what per-subscriber execution yields, executed once per group', async () => {
    const shared = setup();
    const perSub = setup({ limits: { fanout: 'per-subscriber' } });
    const sockets = [fakeSocket(), fakeSocket(), fakeSocket()];
    const variables = { m: ['REVENUE', 'ACTIVE_USERS'], withTrace: true };
    const subs = await Promise.all(sockets.map((socket, i) => shared.open('acme', OP, { socket, variables, id: `id-${i}` })));
    // Same selection, other root arguments: same group. Other @include value: another group.
    await shared.open('acme', OP, { socket: fakeSocket(), variables: { m: ['PURCHASES'], withTrace: true } });
    await shared.open('acme', OP, { socket: fakeSocket(), variables: { ...variables, withTrace: false } });
    expect(shared.hub.stats()).toMatchObject({ subscriptions: 5 });
    expect(shared.sharing.groups.size()).toBe(2);
    const reference = await perSub.open('acme', OP, { variables });

    const updates = [update('acme', { revision: 1 }), update('acme', { revision: 2, revenue: '12.5', kind: 'final', final: true }), update('acme', { currency: 'EUR' })];
    for (const b of [shared.bus, perSub.bus]) await b.publishWindows(updates);
    await waitFor(() => reference.received.length === 4);

    expect(values(reference.received).map((v) => [v.metric, v.value, v.revision])).toEqual([
      ['REVENUE', '10', 1], ['ACTIVE_USERS', '3', 1], ['REVENUE', '12.5', 2], ['ACTIVE_USERS', '3', 2],
    ]);
    subs.forEach((s, i) => {
      expect(s.frames().map((f) => f.id)).toEqual(Array(4).fill(`id-${i}`));
      expect(s.frames().every((f) => f.type === 'next')).toBe(true);
      expect(s.frames().map((f) => f.payload)).toEqual(reference.received);
    });
  });

  it('delivers only the subscriber’s tenant, currency and metrics', async () => {
    const h = setup();
    const socket = fakeSocket();
    await h.open('acme', 'subscription { windows(metrics: [SIGNUPS], currency: "EUR") { metric currency value } }', { socket });
    await h.bus.publishWindows([update('acme'), update('globex', { currency: 'EUR' }), update('acme', { currency: 'EUR', signups: 7 })]);
    expect(socket.sent.map((s) => JSON.parse(s).payload.data.windows)).toEqual([{ metric: 'SIGNUPS', currency: 'EUR', value: '7' }]);
  });

  it('resume: windows changed since then first (one read for concurrent resumes), live updates held meanwhile, no revision twice or backwards', async () => {
    const since = T0 + 5 * 60_000;
    const stored: ChangedWindow[] = [
      { ...update('acme', { windowStart: T0, revision: 3, revenue: '30' }), writtenAt: since + 1_000 },
      { ...update('acme', { windowStart: T0 + 60_000, revision: 1, revenue: '5' }), writtenAt: since - RESUME_OVERLAP_MS - 1 }, // older than the overlap
    ];
    const h = setup({ stored });
    h.block();
    const socketA = fakeSocket();
    const socketB = fakeSocket();
    const q = 'subscription($since: DateTime) { windows(metrics: [REVENUE], since: $since) { windowStart value revision replayed } }';
    await h.open('acme', q, { socket: socketA, variables: { since: new Date(since).toISOString() } });
    // Live while the catch-up read runs: a stale revision (≤ stored) and a newer one.
    await h.bus.publishWindows([update('acme', { windowStart: T0, revision: 2, revenue: '20' }), update('acme', { windowStart: T0, revision: 4, revenue: '40' })]);
    await h.open('acme', q, { socket: socketB, variables: { since: new Date(since).toISOString() } });
    expect(socketA.sent).toEqual([]);
    h.unblock();
    const got = (s: ReturnType<typeof fakeSocket>) => s.sent.map((x) => JSON.parse(x).payload.data.windows as { value: string; revision: number; replayed: boolean });
    await waitFor(() => got(socketA).length === 2 && got(socketB).length === 1);
    expect(got(socketA)).toEqual([
      { windowStart: new Date(T0).toISOString(), value: '30', revision: 3, replayed: true },
      { windowStart: new Date(T0).toISOString(), value: '40', revision: 4, replayed: false },
    ]);
    expect(got(socketB)).toEqual([{ windowStart: new Date(T0).toISOString(), value: '30', revision: 3, replayed: true }]);
    // B subscribed while A's read ran, so B waited for a read of its own.
    expect(h.reads.map((r) => r.since)).toEqual([since - RESUME_OVERLAP_MS, since - RESUME_OVERLAP_MS]);
    // A late live duplicate of what storage already sent is not delivered again.
    await h.bus.publishWindows([update('acme', { windowStart: T0, revision: 3 })]);
    expect(got(socketB)).toHaveLength(1);
  });

  it('after the bus lost its feed, every subscription catches up from the snapshot taken when it was lost; a dropped marker catches up one tenant', async () => {
    const h = setup();
    h.freshness.observeProgress({ source: 'w', processedThrough: T0 + 120_000, watermark: 0 });
    const acme = fakeSocket();
    const globex = fakeSocket();
    await h.open('acme', 'subscription { windows(metrics: [REVENUE]) { value revision replayed } }', { socket: acme });
    await h.open('globex', 'subscription { windows(metrics: [REVENUE]) { value revision replayed } }', { socket: globex });
    await h.bus.publishWindows([update('acme', { revision: 4, revenue: '44' })]);
    h.gap({ kind: 'lost' });
    h.freshness.observeProgress({ source: 'w', processedThrough: T0 + 999_000, watermark: 0 }); // a tick right after reconnecting
    // Storage: the window delivered live before the outage, and one written during it.
    h.stored.push({ ...update('acme', { revision: 4, revenue: '44' }), writtenAt: T0 + 125_000 });
    h.stored.push({ ...update('acme', { windowStart: T0 + 60_000, revision: 5, revenue: '55' }), writtenAt: T0 + 130_000 });
    h.gap({ kind: 'restored' });
    await waitFor(() => acme.sent.length === 2);
    // What was delivered live is not sent again.
    expect(acme.sent.map((f) => JSON.parse(f).payload.data.windows)).toEqual([
      { value: '44', revision: 4, replayed: false },
      { value: '55', revision: 5, replayed: true },
    ]);
    expect(h.reads.map((r) => [r.tenantId, r.since]).sort()).toEqual([['acme', T0 + 120_000 - RESUME_OVERLAP_MS], ['globex', T0 + 120_000 - RESUME_OVERLAP_MS]]);

    h.gap({ kind: 'dropped', tenantId: 'globex', since: T0 });
    await waitFor(() => h.reads.length === 3);
    expect(h.reads[2]).toMatchObject({ tenantId: 'globex', since: T0 - RESUME_OVERLAP_MS });
  });

  /** A catch-up hook that holds the read of the given reason until released: the window in which live updates pile up. */
  function slowRead(reason: CatchUpReason) {
    let open: () => void = () => undefined;
    let entered = 0;
    const gate = new Promise<void>((r) => (open = r));
    const hooks: CatchUpHooks = {
      beforeRead: async (o) => {
        if (o.reason !== reason) return;
        entered += 1;
        await gate;
      },
    };
    return { hooks, entered: () => entered, open: () => open() };
  }

  // The Redis-restart lost update (issue 16): the worker writes a window before publishing it, so a
  // catch-up read can return revision r while the live r is held by the members; r must still reach
  // each of them exactly once, and a later revision must not be dropped as "already sent".
  it.each(['restored', 'dropped'] as const)(
    'a live update held during a %s catch-up whose revision the read also returns reaches every subscriber once, as do later ones',
    async (kind) => {
      const slow = slowRead(kind);
      const h = setup({ hooks: slow.hooks });
      h.freshness.observeProgress({ source: 'w', processedThrough: T0 + 60_000, watermark: 0 });
      const q = 'subscription { windows(metrics: [REVENUE]) { value revision replayed } }';
      const sockets = [fakeSocket(), fakeSocket()];
      for (const socket of sockets) await h.open('acme', q, { socket });
      const w = (revision: number) => update('acme', { revision, revenue: String(revision * 10) });

      await h.bus.publishWindows([w(1)]); // delivered live before the gap
      h.stored.push({ ...w(1), writtenAt: T0 + 61_000 });
      if (kind === 'restored') {
        h.gap({ kind: 'lost' });
        h.gap({ kind: 'restored' });
      } else h.gap({ kind: 'dropped', tenantId: 'acme', since: T0 + 60_000 });
      await waitFor(() => slow.entered() === 1, { what: 'catch-up started' });
      // While it waits to read: revision 2 is written, then published (held by the members).
      h.stored.push({ ...w(2), writtenAt: T0 + 62_000 });
      await h.bus.publishWindows([w(2)]);
      slow.open();
      await waitFor(() => sockets.every((s) => s.sent.length >= 2), { timeoutMs: 2_000, what: 'revision 2 on every socket' });
      await h.bus.publishWindows([w(3)]); // the next live revision
      const got = (s: ReturnType<typeof fakeSocket>) => s.sent.map((f) => (JSON.parse(f).payload.data.windows as { revision: number }).revision);
      for (const socket of sockets) expect(got(socket)).toEqual([1, 2, 3]);
    },
  );

  it('a catch-up never sends a revision older than one the subscriber was sent, nor one it has, however reads and live updates interleave', async () => {
    const slow = slowRead('restored');
    const h = setup({ hooks: slow.hooks });
    const socket = fakeSocket();
    await h.open('acme', 'subscription { windows(metrics: [REVENUE]) { revision } }', { socket });
    const w = (windowStart: number, revision: number) => update('acme', { windowStart, revision });
    await h.bus.publishWindows([w(T0, 1), w(T0 + 60_000, 1)]);
    h.gap({ kind: 'lost' });
    h.gap({ kind: 'restored' });
    await waitFor(() => slow.entered() === 1);
    // Storage: window 1 at revision 3 (its live 2 and 3 are still in flight), window 2 unchanged.
    h.stored.push({ ...w(T0, 3), writtenAt: T0 }, { ...w(T0 + 60_000, 1), writtenAt: T0 });
    await h.bus.publishWindows([w(T0, 2)]); // held; older than what the read returns
    slow.open();
    await waitFor(() => socket.sent.length >= 3);
    await h.bus.publishWindows([w(T0, 3), w(T0, 4)]); // 3 arrives late (storage sent it), 4 is new
    const sent = socket.sent.map((f) => JSON.parse(f).payload.data.windows.revision as number);
    // Window 1: 1 (live), 3 (storage), 4 (live); window 2: only its live 1.
    expect(sent).toEqual([1, 1, 3, 4]);
  });

  it('the first subscriber of a tenant misses nothing published before the bus subscription took effect: it catches up from when it joined', async () => {
    const h = setup({ deferActive: true });
    const joinedAt = T0 + 120_000;
    h.freshness.observeProgress({ source: 'w', processedThrough: joinedAt, watermark: 0 });
    const socket = fakeSocket();
    await h.open('acme', 'subscription { windows(metrics: [REVENUE]) { windowStart revision replayed } }', { socket });
    // Written and published before the SUBSCRIBE took effect: on no channel this process hears.
    const early = update('acme', { windowStart: T0, revision: 2 });
    h.stored.push({ ...early, writtenAt: joinedAt + 50 }, { ...update('acme', { windowStart: T0 - 60_000 }), writtenAt: joinedAt - RESUME_OVERLAP_MS - 1 });
    await h.bus.publishWindows([early]);
    expect(h.reads).toEqual([]);
    h.activate();
    await h.bus.publishWindows([update('acme', { windowStart: T0, revision: 3 })]);
    await waitFor(() => socket.sent.length === 2);
    expect(socket.sent.map((f) => JSON.parse(f).payload.data.windows)).toEqual([
      { windowStart: new Date(T0).toISOString(), revision: 2, replayed: true },
      { windowStart: new Date(T0).toISOString(), revision: 3, replayed: false },
    ]);
    expect(h.reads.map((r) => r.since)).toEqual([joinedAt - RESUME_OVERLAP_MS]);
    // A second subscriber of the now-subscribed tenant needs no read.
    await h.open('acme', 'subscription { windows(metrics: [REVENUE]) { revision } }', { socket: fakeSocket() });
    expect(h.reads).toHaveLength(1);
  });

  it('refuses subscriptions over the tenant cap with TOO_MANY_SUBSCRIPTIONS, and counts closed ones out', async () => {
    const h = setup({ limits: { maxSubscriptionsPerTenant: 2 } });
    const q = 'subscription { windows { value } }';
    const a = await h.open('acme', q, { socket: fakeSocket() });
    await h.open('acme', q, { socket: fakeSocket() });
    await h.open('globex', q, { socket: fakeSocket() });
    const refused = await subscribe({ schema, document: parse(q), contextValue: createRequestContext({ subscriptions: h.hub } as unknown as ApiServices, { tenantId: 'acme', scope: 'read' }) });
    expect((refused as ExecutionResult).errors?.[0]?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    await a.close();
    await h.open('acme', q, { socket: fakeSocket() });
    expect(h.hub.stats().subscriptions).toBe(3);
  });

  it('drops a socket that cannot keep up instead of buffering: unsent bytes (shared) or queue length (per-subscriber)', async () => {
    const h = setup({ maxBufferedBytes: 1_000 });
    const slow = fakeSocket();
    const ok = fakeSocket();
    const q = 'subscription { windows(metrics: [REVENUE]) { value } }';
    const s = await h.open('acme', q, { socket: slow });
    await h.open('acme', q, { socket: ok });
    slow.bufferedAmount = 5_000;
    await h.bus.publishWindows([update('acme')]);
    // Terminated: graphql-ws then ends every subscription of that socket (here, by hand).
    expect(slow.terminated).toBe(true);
    expect(slow.sent).toHaveLength(0);
    expect(ok.sent).toHaveLength(1);
    await s.close();
    expect(h.hub.stats().subscriptions).toBe(1);

    // A catch-up may exceed the limit on a healthy socket: its bytes are allowed until they drain.
    const resuming = fakeSocket();
    resuming.send = function (d: string) {
      this.sent.push(d);
      this.bufferedAmount += d.length; // a client that reads nothing
    };
    h.stored.push(...Array.from({ length: 20 }, (_, i) => ({ ...update('acme', { windowStart: T0 + i * 60_000, revision: 9 }), writtenAt: T0 })));
    await h.open('acme', 'subscription($s: DateTime) { windows(metrics: [REVENUE], since: $s) { value } }', { socket: resuming, variables: { s: new Date(T0).toISOString() } });
    await waitFor(() => resuming.sent.length === 20);
    await new Promise((r) => setImmediate(r));
    const live = (revision: number) => update('acme', { windowStart: T0 - 60_000, revision }); // a window the catch-up did not send
    await h.bus.publishWindows([live(1)]);
    expect(resuming.sent).toHaveLength(21);
    expect(resuming.terminated).toBe(false);
    resuming.bufferedAmount += 1_000; // live bytes beyond the catch-up pile up past the limit
    await new Promise((r) => setImmediate(r)); // the socket is checked once per tick (its first frame)
    await h.bus.publishWindows([live(2)]);
    expect(resuming.terminated).toBe(true);

    const p = setup({ limits: { fanout: 'per-subscriber' } });
    const socket = fakeSocket();
    // A consumer that never reads: graphql-js pulls nothing, so the queue fills.
    const never = await subscribe({ schema, document: parse(q), contextValue: createRequestContext({ subscriptions: p.hub, onSubscription: () => undefined } as unknown as ApiServices, { tenantId: 'acme', scope: 'read' }, p.connection(socket, 'x', {})) });
    expect(Symbol.asyncIterator in never).toBe(true);
    for (let i = 1; i <= 10_001; i++) await p.bus.publishWindows([update('acme', { revision: i })]);
    expect(socket.terminated).toBe(true);
    expect(p.hub.stats().subscriptions).toBe(0);
  });

  it('freshness: pushed at once, when isStale flips on a progress tick, and as heartbeats', async () => {
    const h = setup({ limits: { heartbeatIntervalMs: 100 } });
    const socket = fakeSocket();
    await h.open('acme', 'subscription { freshness { isStale dataAsOf ageMs } }', { socket });
    const pushed = () => socket.sent.map((s) => JSON.parse(s).payload.data.freshness as { isStale: boolean; dataAsOf: string; ageMs: number });
    // Before any progress tick: stale, and the age capped to what a GraphQL Int holds.
    expect(pushed()).toEqual([{ isStale: true, dataAsOf: new Date(0).toISOString(), ageMs: 2_147_483_647 }]);
    await h.bus.publishProgress({ source: 'w', processedThrough: T0 - 1_000, watermark: 0 });
    expect(pushed().at(-1)).toEqual({ isStale: false, dataAsOf: new Date(T0 - 1_000).toISOString(), ageMs: 1_000 });
    const count = pushed().length;
    await h.bus.publishProgress({ source: 'w', processedThrough: T0, watermark: 0 }); // no flip: no push
    expect(pushed()).toHaveLength(count);
    now = T0 + 40_000; // the aggregator went quiet: the next heartbeat says stale
    await waitFor(() => pushed().length > count && pushed().at(-1)!.isStale);
  });
});
