/**
 * Earlier counted arrivals of a key (tenant + idempotency key), for the dedupe step.
 *
 * Scope (steps.ts `DEDUPE_HORIZON_MS`, H): arrivals of the same tenant and key whose
 * event times are at most H apart. The state is bounded by H, not by the log:
 *
 * - A sole writer (the embedded intake; a Kafka partition's owner — every event of a
 *   tenant goes to one partition) sees every arrival of its tenants after it started.
 *   The first time it meets a tenant it loads that tenant's logged keys from 2H before
 *   the batch's oldest event on ("coverage"), then remembers what it counts. An event
 *   whose horizon lies inside the coverage is answered from memory; older ones (late
 *   events) ask the log for their horizon only. Memory keeps the newest ~2–3H of event
 *   time per tenant (the newest event time followed is capped at the clock + H).
 * - Any other writer (`tilecast api`, one of several replicas in front of Kafka) cannot
 *   vouch for absence: it asks the log around every event, and adds what it sent itself
 *   (not logged yet) from memory. The worker that logs the event judges it again by
 *   the same rule.
 */
import type { AcceptedEvent, WindowEvent } from '../../contracts/event.ts';
import type { ArrivalQuery } from '../../storage/event-log.ts';
import { DEDUPE_HORIZON_MS, fingerprint, windowStartOf, type Prior } from './steps.ts';

/** Rows another writer logged into a source after a sequence number: not counted by this one (see kafka-partition.ts). */
export type Excluded = NonNullable<ArrivalQuery['exclude']>;

export interface KeyIndexDeps {
  arrivals: (q: ArrivalQuery) => Promise<WindowEvent[]>;
  soleWriter: boolean;
  clock: () => number;
  exclude?: () => Excluded | undefined;
  horizonMs?: number;
}

interface TenantKeys {
  /** Memory holds every counted arrival with an event time from here on (+Infinity: vouches for nothing). */
  coveredFrom: number;
  /** Arrivals older than this were dropped. */
  keptFrom: number;
  newest: number;
  /** Per key, its counted arrivals as pairs: [timestamp, fingerprint, timestamp, fingerprint, …] (compact: no object per event). */
  keys: Map<string, number[]>;
}

const pairId = (tenantId: string, key: string) => `${tenantId}\u0000${key}`;

export function createKeyIndex(deps: KeyIndexDeps) {
  const H = deps.horizonMs ?? DEDUPE_HORIZON_MS;
  const tenants = new Map<string, TenantKeys>();

  const stateOf = (tenantId: string): TenantKeys => {
    let s = tenants.get(tenantId);
    if (!s) tenants.set(tenantId, (s = { coveredFrom: Infinity, keptFrom: Infinity, newest: -Infinity, keys: new Map() }));
    return s;
  };

  function add(s: TenantKeys, e: WindowEvent, fp = fingerprint(e)): void {
    const list = s.keys.get(e.key);
    if (list) list.push(e.timestamp, fp);
    else s.keys.set(e.key, [e.timestamp, fp]);
    if (e.timestamp < s.keptFrom) s.keptFrom = e.timestamp;
  }

  /** Drops arrivals more than 2H behind the newest event time once memory spans 3H. */
  function evict(s: TenantKeys): void {
    const newest = Math.min(s.newest, deps.clock() + H);
    if (newest - s.keptFrom <= 3 * H) return;
    const floor = newest - 2 * H;
    for (const [key, list] of s.keys) {
      const kept: number[] = [];
      for (let i = 0; i < list.length; i += 2) if (list[i]! >= floor) kept.push(list[i]!, list[i + 1]!);
      if (kept.length === 0) s.keys.delete(key);
      else if (kept.length !== list.length) s.keys.set(key, kept);
    }
    s.keptFrom = floor;
    if (s.coveredFrom !== Infinity) s.coveredFrom = Math.max(s.coveredFrom, floor);
  }

  /** Sole writer: loads the logged keys of tenants met for the first time. One query. */
  async function cover(events: readonly AcceptedEvent[]): Promise<void> {
    let oldest = Infinity;
    const unseen = new Set<string>();
    for (const e of events) {
      if (tenants.has(e.tenantId)) continue;
      unseen.add(e.tenantId);
      oldest = Math.min(oldest, e.timestamp);
    }
    if (unseen.size === 0) return;
    const from = windowStartOf(oldest - 2 * H);
    const rows = await deps.arrivals({ tenants: [...unseen], from, exclude: deps.exclude?.() });
    for (const t of unseen) {
      const s = stateOf(t);
      s.coveredFrom = from;
      s.keptFrom = from;
    }
    for (const r of rows) {
      const s = stateOf(r.tenantId);
      add(s, r);
      s.newest = Math.max(s.newest, r.timestamp);
    }
  }

  return {
    /** Per event (same order), the earlier counted arrivals of its key that memory or the log knows. */
    async priors(events: readonly AcceptedEvent[]): Promise<(Prior[] | undefined)[]> {
      if (deps.soleWriter) await cover(events);
      const ask: AcceptedEvent[] = [];
      for (const e of events) {
        const s = tenants.get(e.tenantId);
        if (!s || e.timestamp - H < s.coveredFrom) ask.push(e);
      }
      const logged = new Map<string, Prior[]>();
      if (ask.length > 0) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const e of ask) {
          lo = Math.min(lo, e.timestamp);
          hi = Math.max(hi, e.timestamp);
        }
        const rows = await deps.arrivals({
          tenants: [...new Set(ask.map((e) => e.tenantId))],
          keys: [...new Set(ask.map((e) => e.key))],
          from: windowStartOf(lo - H),
          to: hi + H,
          exclude: deps.exclude?.(),
        });
        for (const r of rows) {
          const id = pairId(r.tenantId, r.key);
          const p: Prior = { timestamp: r.timestamp, fingerprint: fingerprint(r) };
          const list = logged.get(id);
          if (list) list.push(p);
          else logged.set(id, [p]);
        }
      }
      return events.map((e) => {
        const packed = tenants.get(e.tenantId)?.keys.get(e.key);
        const fromLog = logged.size === 0 ? undefined : logged.get(pairId(e.tenantId, e.key));
        if (!packed) return fromLog;
        const remembered: Prior[] = fromLog ? [...fromLog] : [];
        for (let i = 0; i < packed.length; i += 2) remembered.push({ timestamp: packed[i]!, fingerprint: packed[i + 1]! });
        return remembered;
      });
    },

    /** Events that were just counted (logged, or sent on), with their fingerprints when known: later arrivals of their keys are judged against them. */
    remember(events: readonly WindowEvent[], fingerprints?: readonly number[]): void {
      const touched = new Set<TenantKeys>();
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        const s = stateOf(e.tenantId);
        add(s, e, fingerprints?.[i]);
        if (e.timestamp > s.newest) s.newest = e.timestamp;
        touched.add(s);
      }
      for (const s of touched) evict(s);
    },

    /** Arrivals held in memory (for tests and metrics). */
    size(): number {
      let n = 0;
      for (const s of tenants.values()) for (const list of s.keys.values()) n += list.length / 2;
      return n;
    },
  };
}

export type KeyIndex = ReturnType<typeof createKeyIndex>;
