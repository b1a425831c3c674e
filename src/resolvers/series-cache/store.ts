/**
 * The memory of the series cache: kept read results per tenant, in one LRU under a byte
 * budget, and the bus subscriptions that keep them true.
 *
 * Guarantees:
 * - An entry is dropped as soon as a window update of its tenant touching its range and
 *   changing its metric arrives (updates are published after their windows are written;
 *   which metrics an update changed: changes.ts, all of them when unsure), on any bus gap
 *   (`lost`/`restored`: every entry; `dropped`: the tenant's), when its tenant's
 *   subscription is given up, and once it is older than `maxAgeMs` (a bound even for
 *   changes no update announces, e.g. retention).
 * - The read-versus-invalidate race: a read is stamped with the bus sequence it started
 *   at; every invalidation is logged with its sequence and range while any read is in
 *   flight, and a result is kept only if no invalidation since its stamp touches the
 *   range it would be kept for. A read that started before the tenant's subscription was
 *   in effect (or while the bus was not receiving) is never kept.
 * - At most `maxTenants` tenants hold a subscription (LRU; one in use by a read in
 *   flight is not given up); dropping a tenant unsubscribes it.
 */
import type { WindowUpdate } from '../../contracts/window.ts';
import type { BusGap, Unsubscribe } from '../../realtime/bus.ts';
import type { MetricResult } from '../../storage/metric-series-reader.ts';
import { createWindowChanges, metricId } from './changes.ts';
import { touchedRange } from './split.ts';

/** The part of the update bus the cache listens to. */
export interface CacheBus {
  subscribeWindows(tenantId: string, handler: (u: WindowUpdate) => void, onActive?: () => void): Unsubscribe;
  subscribeGaps(handler: (gap: BusGap) => void): Unsubscribe;
}

export interface Span {
  table: string;
  from: number;
  to: number;
  /** The metric version the span holds (a query's `metric` and `version`); absent: any. */
  metric?: string;
  version?: number;
}

export interface Entry extends Span {
  key: string;
  tenantId: string;
  result: MetricResult;
  bytes: number;
  /** Clock at the start of the oldest read the entry is built from. */
  readAt: number;
}

/** A read in flight: what it may keep is decided when it ends. */
export interface Stamp {
  tenantId: string;
  seq: number;
  /** The tenant was subscribed and the bus receiving when the read started. */
  receiving: boolean;
  readAt: number;
}

interface Tenant {
  id: string;
  active: boolean;
  unsubscribe: Unsubscribe;
  entries: Set<Entry>;
  /** Reads in flight, by stamp (a shared read counts once per request on it). */
  flights: Map<Stamp, number>;
  /** Invalidations since the oldest read in flight began: sequence, range ('*': a minute, on every table; null: everything) and metric versions (null: all). */
  log: Invalidation[];
  /** The cells of the windows it saw updated: which metrics the next update of each changed. */
  changes: ReturnType<typeof createWindowChanges>;
}

interface Invalidation {
  seq: number;
  table: '*' | null;
  from: number;
  to: number;
  metrics: ReadonlySet<string> | null;
}

export type DropReason = 'update' | 'gap' | 'tenant' | 'budget' | 'expired' | 'cleared';

export interface StoreHooks {
  dropped(reason: DropReason, n: number): void;
}

const overlaps = (a: { from: number; to: number }, b: { from: number; to: number }) => a.from < b.to && b.from < a.to;
/** Whether invalidation `l` concerns `span`: everything, or its range (a minute on the span's table) and metric. */
function touches(l: Omit<Invalidation, 'seq'>, span: Span): boolean {
  if (l.table === null) return true;
  const metric = l.metrics === null || span.metric === undefined || l.metrics.has(metricId(span.metric, span.version ?? 0));
  return metric && overlaps(span, touchedRange(span.table, l.from, l.to));
}

/** Kept entries in one LRU under a byte budget (oldest first); `unindex` keeps each tenant's own index in step. */
function createEntryLru(maxBytes: number, unindex: (e: Entry) => void) {
  const entries = new Map<string, Entry>();
  const idOf = (tenantId: string, key: string) => `${tenantId}\u0000${key}`;
  let bytes = 0;
  /** Removes `e`: 1, or 0 when it was no longer there. */
  const remove = (e: Entry): number => {
    const id = idOf(e.tenantId, e.key);
    if (entries.get(id) !== e) return 0;
    entries.delete(id);
    unindex(e);
    bytes -= e.bytes;
    return 1;
  };
  return {
    remove,
    peek: (tenantId: string, key: string) => entries.get(idOf(tenantId, key)),
    /** Marks `e` as recently used. */
    touch(e: Entry): Entry {
      const id = idOf(e.tenantId, e.key);
      entries.delete(id);
      entries.set(id, e);
      return e;
    },
    /** Adds `e` (replacing its key's entry), then drops the least recently used beyond the budget: how many. */
    add(e: Entry): number {
      const old = entries.get(idOf(e.tenantId, e.key));
      if (old) remove(old);
      entries.set(idOf(e.tenantId, e.key), e);
      bytes += e.bytes;
      let n = 0;
      for (const x of entries.values()) {
        if (bytes <= maxBytes) break;
        n += remove(x);
      }
      return n;
    },
    size: () => ({ entries: entries.size, bytes }),
  };
}

/** Records an invalidation for the reads of `t` in flight ('*': a minute, compared on each range's table; null: everything). */
function logInvalidation(t: Tenant, l: Invalidation): void {
  if (t.flights.size > 0) t.log.push(l);
}

/** Whether nothing logged for `t` since `stamp` touches `span`. */
function cleanSince(t: Tenant | undefined, stamp: Stamp, span: Span): boolean {
  if (!stamp.receiving || !t) return false;
  return !t.log.some((l) => l.seq > stamp.seq && touches(l, span));
}

/** One read on `stamp` is over; only invalidations after the oldest stamp still in flight are kept. */
function endFlight(t: Tenant, stamp: Stamp): void {
  const n = (t.flights.get(stamp) ?? 1) - 1;
  if (n > 0) t.flights.set(stamp, n);
  else t.flights.delete(stamp);
  const oldest = Math.min(...[...t.flights.keys()].map((s) => s.seq));
  t.log = t.log.filter((l) => l.seq > oldest);
}

/** A tenant's state, subscribed to its window updates; active once the subscription is in effect. */
function subscribedTenant(id: string, bus: CacheBus, onUpdate: (t: Tenant, u: WindowUpdate) => void): Tenant {
  const t: Tenant = { id, active: false, unsubscribe: () => undefined, entries: new Set(), flights: new Map(), log: [], changes: createWindowChanges() };
  t.unsubscribe = bus.subscribeWindows(
    id,
    (u) => onUpdate(t, u),
    () => {
      t.active = true;
    },
  );
  return t;
}

/** Moves tenant `id` to the recently used end of `tenants` (a Map in LRU order); the tenant, if known. */
function recentlyUsed(tenants: Map<string, Tenant>, id: string): Tenant | undefined {
  const t = tenants.get(id);
  if (t) {
    tenants.delete(id);
    tenants.set(id, t);
  }
  return t;
}

export function createCacheStore(o: { bus: CacheBus; maxBytes: number; maxTenants: number; maxAgeMs: number; clock: () => number; hooks?: StoreHooks }) {
  const tenants = new Map<string, Tenant>(); // LRU order: oldest first
  const lru = createEntryLru(o.maxBytes, (e) => tenants.get(e.tenantId)?.entries.delete(e));
  let seq = 0;
  let receiving = true;
  const dropped = (reason: DropReason, n: number) => n > 0 && o.hooks?.dropped(reason, n);

  /** Drops the entries of `t` that `l` touches, and logs it for the reads of `t` in flight. */
  const invalidate = (t: Tenant, reason: DropReason, l: Omit<Invalidation, 'seq'>): void => {
    logInvalidation(t, { ...l, seq: ++seq });
    dropped(reason, [...t.entries].filter((e) => touches(l, e)).reduce((n, e) => n + lru.remove(e), 0));
  };
  /** Drops every entry of `t`, and makes every read of `t` in flight not keepable. */
  const everything = (t: Tenant, reason: DropReason): void => invalidate(t, reason, { table: null, from: -Infinity, to: Infinity, metrics: null });
  const onUpdate = (t: Tenant, u: WindowUpdate): void => {
    const metrics = t.changes.changed(u); // an empty set: nothing any entry holds has changed
    if (metrics === null || metrics.size > 0) invalidate(t, 'update', { table: '*', from: u.windowStart, to: u.windowEnd, metrics });
  };

  const offGaps = o.bus.subscribeGaps((gap) => {
    if (gap.kind === 'dropped') {
      const t = tenants.get(gap.tenantId);
      if (t) everything(t, 'gap');
      return;
    }
    receiving = gap.kind === 'restored';
    for (const t of tenants.values()) everything(t, 'gap');
  });

  const release = (t: Tenant): void => {
    everything(t, 'tenant');
    t.unsubscribe();
    tenants.delete(t.id);
  };
  /** Releases the least recently used tenants with no read in flight (but `keep`) beyond the bound. */
  const bound = (keep?: Tenant): void => {
    for (const other of tenants.values()) {
      if (tenants.size <= o.maxTenants) break;
      if (other !== keep && other.flights.size === 0) release(other);
    }
  };

  /** The tenant's state, subscribed on first use. */
  const tenant = (id: string): Tenant => {
    const known = recentlyUsed(tenants, id);
    if (known) return known;
    const t = subscribedTenant(id, o.bus, onUpdate);
    tenants.set(id, t);
    bound(t);
    return t;
  };

  return {
    /** A kept entry, if one is there and young enough (it and its tenant marked as recently used). */
    get(tenantId: string, key: string): Entry | undefined {
      const e = lru.peek(tenantId, key);
      if (e && o.clock() - e.readAt > o.maxAgeMs) dropped('expired', lru.remove(e));
      else if (e) {
        // A tenant answered from memory alone is in use: its subscription is not the one to give up.
        recentlyUsed(tenants, tenantId);
        return lru.touch(e);
      }
      return undefined;
    },

    /** Stamps a read about to start for `tenantId` (subscribing the tenant first). Pair with `end`. */
    begin(tenantId: string): Stamp {
      const t = tenant(tenantId);
      const stamp: Stamp = { tenantId, seq, receiving: receiving && t.active, readAt: o.clock() };
      t.flights.set(stamp, 1);
      return stamp;
    },

    /** A read of `stamp` (or one sharing it) takes part: pair with `end`. */
    join(stamp: Stamp): void {
      const t = tenants.get(stamp.tenantId);
      if (t) t.flights.set(stamp, (t.flights.get(stamp) ?? 0) + 1);
    },

    /** Whether a result read under `stamp` may be kept for `span`: nothing since the stamp invalidated it. */
    clean: (stamp: Stamp, span: Span): boolean => cleanSince(tenants.get(stamp.tenantId), stamp, span),

    /** Keeps `entry` if its read is clean and it does not replace a longer one. */
    put(stamp: Stamp, entry: Omit<Entry, 'tenantId'>): boolean {
      const t = tenants.get(stamp.tenantId);
      if (!t || !cleanSince(t, stamp, entry)) return false;
      const old = lru.peek(stamp.tenantId, entry.key);
      if (old && old.to > entry.to) return false;
      const e: Entry = { ...entry, tenantId: stamp.tenantId };
      t.entries.add(e);
      dropped('budget', lru.add(e));
      return lru.peek(stamp.tenantId, entry.key) === e;
    },

    /** The read of `stamp` (or one that joined it) is over. */
    end(stamp: Stamp): void {
      const t = tenants.get(stamp.tenantId);
      if (!t) return;
      endFlight(t, stamp);
      bound();
    },

    size(): { entries: number; bytes: number; tenants: number } {
      return { ...lru.size(), tenants: tenants.size };
    },

    /** Drops every entry; subscriptions stay. */
    clear(): void {
      for (const t of tenants.values()) everything(t, 'cleared');
    },

    close(): void {
      offGaps();
      for (const t of [...tenants.values()]) release(t);
    },
  };
}

export type CacheStore = ReturnType<typeof createCacheStore>;
