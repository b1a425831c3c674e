/**
 * The memory of the series cache: kept read results per tenant, in one LRU under a byte
 * budget, and the bus subscriptions that keep them true.
 *
 * Guarantees:
 * - An entry is dropped as soon as a window update of its tenant touching its range
 *   arrives (updates are published after their windows are written), on any bus gap
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
  /** Invalidations since the oldest read in flight began: sequence and range ('*': a minute, on every table; null: everything). */
  log: { seq: number; table: '*' | null; from: number; to: number }[];
}

export type DropReason = 'update' | 'gap' | 'tenant' | 'budget' | 'expired' | 'cleared';

export interface StoreHooks {
  dropped(reason: DropReason, n: number): void;
}

const overlaps = (a: { from: number; to: number }, b: { from: number; to: number }) => a.from < b.to && b.from < a.to;

export function createCacheStore(o: { bus: CacheBus; maxBytes: number; maxTenants: number; maxAgeMs: number; clock: () => number; hooks?: StoreHooks }) {
  const entries = new Map<string, Entry>(); // LRU order: oldest first
  const tenants = new Map<string, Tenant>(); // LRU order: oldest first
  let bytes = 0;
  let seq = 0;
  let receiving = true;
  const dropped = (reason: DropReason, n: number) => n > 0 && o.hooks?.dropped(reason, n);

  const remove = (e: Entry): void => {
    if (entries.get(`${e.tenantId}\u0000${e.key}`) !== e) return;
    entries.delete(`${e.tenantId}\u0000${e.key}`);
    tenants.get(e.tenantId)?.entries.delete(e);
    bytes -= e.bytes;
  };

  /** Drops every entry of `t`, and makes every read of `t` in flight not keepable. */
  const everything = (t: Tenant, reason: DropReason): void => {
    seq += 1;
    if (t.flights.size > 0) t.log.push({ seq, table: null, from: -Infinity, to: Infinity });
    const n = t.entries.size;
    for (const e of [...t.entries]) remove(e);
    dropped(reason, n);
  };

  const onUpdate = (t: Tenant, u: WindowUpdate): void => {
    // Logged as the minute; each kept range is compared on its own table (touchedRange).
    seq += 1;
    if (t.flights.size > 0) t.log.push({ seq, table: '*', from: u.windowStart, to: u.windowEnd });
    let n = 0;
    for (const e of [...t.entries]) {
      if (overlaps(e, touchedRange(e.table, u.windowStart, u.windowEnd))) {
        remove(e);
        n += 1;
      }
    }
    dropped('update', n);
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

  /** The tenant's state, subscribed on first use; the least recently used idle tenants beyond the bound are released. */
  const tenant = (id: string): Tenant => {
    let t = tenants.get(id);
    if (t) {
      tenants.delete(id);
      tenants.set(id, t);
      return t;
    }
    const fresh: Tenant = { id, active: false, unsubscribe: () => undefined, entries: new Set(), flights: new Map(), log: [] };
    tenants.set(id, fresh);
    fresh.unsubscribe = o.bus.subscribeWindows(
      id,
      (u) => onUpdate(fresh, u),
      () => {
        fresh.active = true;
      },
    );
    t = fresh;
    for (const other of tenants.values()) {
      if (tenants.size <= o.maxTenants) break;
      if (other !== t && other.flights.size === 0) release(other);
    }
    return t;
  };

  const evictOverBudget = (): void => {
    let n = 0;
    for (const e of entries.values()) {
      if (bytes <= o.maxBytes) break;
      remove(e);
      n += 1;
    }
    dropped('budget', n);
  };

  return {
    /** A kept entry, if one is there and young enough (marked as recently used). */
    get(tenantId: string, key: string): Entry | undefined {
      const id = `${tenantId}\u0000${key}`;
      const e = entries.get(id);
      if (!e) return undefined;
      if (o.clock() - e.readAt > o.maxAgeMs) {
        remove(e);
        dropped('expired', 1);
        return undefined;
      }
      entries.delete(id);
      entries.set(id, e);
      return e;
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
    clean(stamp: Stamp, span: Span): boolean {
      const t = tenants.get(stamp.tenantId);
      if (!stamp.receiving || !t) return false;
      return !t.log.some((l) => l.seq > stamp.seq && (l.table === null || overlaps(span, touchedRange(span.table, l.from, l.to))));
    },

    /** Keeps `entry` if its read is clean and it does not replace a longer one. */
    put(stamp: Stamp, entry: Omit<Entry, 'tenantId' | 'bytes'> & { bytes: number }): boolean {
      if (!this.clean(stamp, entry)) return false;
      const t = tenants.get(stamp.tenantId)!;
      const id = `${stamp.tenantId}\u0000${entry.key}`;
      const old = entries.get(id);
      if (old && old.to > entry.to) return false;
      if (old) remove(old);
      const e: Entry = { ...entry, tenantId: stamp.tenantId };
      entries.set(id, e);
      t.entries.add(e);
      bytes += e.bytes;
      evictOverBudget();
      return entries.has(id);
    },

    /** The read of `stamp` (or one that joined it) is over. */
    end(stamp: Stamp): void {
      const t = tenants.get(stamp.tenantId);
      if (!t) return;
      const n = (t.flights.get(stamp) ?? 1) - 1;
      if (n > 0) t.flights.set(stamp, n);
      else t.flights.delete(stamp);
      // Only invalidations after the oldest stamp in flight can still matter.
      const oldest = Math.min(...[...t.flights.keys()].map((s) => s.seq));
      t.log = t.log.filter((l) => l.seq > oldest);
      for (const other of tenants.values()) {
        if (tenants.size <= o.maxTenants) break;
        if (other.flights.size === 0) release(other);
      }
    },

    size(): { entries: number; bytes: number; tenants: number } {
      return { entries: entries.size, bytes, tenants: tenants.size };
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
