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
import { addArrival, createArrivalMemory, judgeChain, keptFrom, pushArrival, type ArrivalMemory } from './arrival-memory.ts';
import { DEDUPE_HORIZON_MS, fingerprint, judgeStep, windowStartOf, type Prior, type Verdict } from './steps.ts';

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
  memory: ArrivalMemory;
}

/**
 * One batch's dedupe, in arrival order: `judge` each event (by its index in the batch
 * given to `open`), `count` the ones that count — later events of the batch with the
 * same key are judged against them — then `commit` once the sink took the batch, or
 * `abort` to forget what the batch counted.
 */
export interface KeyBatch {
  /** First arrival counts; a later one within the horizon is a duplicate when its fingerprint is equal, else a conflict. */
  judge(i: number, fp: number): Verdict;
  count(i: number, fp: number): void;
  commit(): void;
  abort(): void;
}

const pairId = (tenantId: string, key: string) => `${tenantId}\u0000${key}`;

/** What a batch works on: the index's tenants, how to add one, how to drop what fell out of scope. */
interface BatchContext {
  tenants: ReadonlyMap<string, TenantKeys>;
  stateOf: (tenantId: string) => TenantKeys;
  evict: (s: TenantKeys) => void;
  horizonMs: number;
}

/** The batch of `events`, with `logged` (per event, the log's arrivals of its key; null: none asked). */
function openBatch(ctx: BatchContext, events: readonly AcceptedEvent[], logged: (Prior[] | undefined)[] | null): KeyBatch {
  const { tenants, stateOf, horizonMs: H } = ctx;
  // What `count` changed, to undo on abort: the counted events (by index) and their key's slot before (-1: none).
  const counted: number[] = [];
  const slotsBefore: number[] = [];
  const touched = new Map<TenantKeys, { used: number; keptFrom: number; newest: number }>();
  // The slot `judge` found for the event `count` is most likely called for next.
  let judgedAt = -1;
  let judgedHead = -1;
  return {
    judge(i, fp) {
      const e = events[i]!;
      const s = tenants.get(e.tenantId);
      judgedAt = i;
      judgedHead = s?.memory.heads.get(e.key) ?? -1;
      let v: Verdict = s ? judgeChain(s.memory, judgedHead, 'new', fp, e.timestamp, H) : 'new';
      const log = logged?.[i];
      if (log) for (let k = 0; k < log.length && v !== 'duplicate'; k++) v = judgeStep(v, fp, e.timestamp, log[k]!.timestamp, log[k]!.fingerprint, H);
      return v;
    },
    count(i, fp) {
      const e = events[i]!;
      const s = stateOf(e.tenantId);
      if (!touched.has(s)) touched.set(s, { used: s.memory.used, keptFrom: s.keptFrom, newest: s.newest });
      const before = judgedAt === i ? judgedHead : (s.memory.heads.get(e.key) ?? -1);
      s.memory.heads.set(e.key, pushArrival(s.memory, e.timestamp, fp, before));
      if (e.timestamp < s.keptFrom) s.keptFrom = e.timestamp;
      if (e.timestamp > s.newest) s.newest = e.timestamp;
      counted.push(i);
      slotsBefore.push(before);
      judgedAt = -1;
    },
    commit() {
      for (const s of touched.keys()) ctx.evict(s);
    },
    abort() {
      for (let k = counted.length - 1; k >= 0; k--) {
        const e = events[counted[k]!]!;
        const heads = tenants.get(e.tenantId)!.memory.heads;
        if (slotsBefore[k]! < 0) heads.delete(e.key);
        else heads.set(e.key, slotsBefore[k]!);
      }
      for (const [s, was] of touched) {
        s.memory.used = was.used;
        s.keptFrom = was.keptFrom;
        s.newest = was.newest;
      }
    },
  };
}

export function createKeyIndex(deps: KeyIndexDeps) {
  const H = deps.horizonMs ?? DEDUPE_HORIZON_MS;
  const tenants = new Map<string, TenantKeys>();

  const stateOf = (tenantId: string): TenantKeys => {
    let s = tenants.get(tenantId);
    if (!s) tenants.set(tenantId, (s = { coveredFrom: Infinity, keptFrom: Infinity, newest: -Infinity, memory: createArrivalMemory() }));
    return s;
  };

  /** Drops arrivals more than 2H behind the newest event time once memory spans 3H. */
  function evict(s: TenantKeys): void {
    const newest = Math.min(s.newest, deps.clock() + H);
    if (newest - s.keptFrom <= 3 * H) return;
    const floor = newest - 2 * H;
    s.memory = keptFrom(s.memory, floor);
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
      addArrival(s.memory, r.key, r.timestamp, fingerprint(r));
      s.keptFrom = Math.min(s.keptFrom, r.timestamp);
      s.newest = Math.max(s.newest, r.timestamp);
    }
  }

  /** Per event (same order), the logged arrivals of its key when memory cannot vouch for them (null: none asked). */
  async function fromLog(events: readonly AcceptedEvent[]): Promise<(Prior[] | undefined)[] | null> {
    let lo = Infinity;
    let hi = -Infinity;
    const askTenants = new Set<string>();
    const askKeys = new Set<string>();
    for (const e of events) {
      const s = tenants.get(e.tenantId);
      if (s && e.timestamp - H >= s.coveredFrom) continue;
      lo = Math.min(lo, e.timestamp);
      hi = Math.max(hi, e.timestamp);
      askTenants.add(e.tenantId);
      askKeys.add(e.key);
    }
    if (askKeys.size === 0) return null;
    const rows = await deps.arrivals({ tenants: [...askTenants], keys: [...askKeys], from: windowStartOf(lo - H), to: hi + H, exclude: deps.exclude?.() });
    if (rows.length === 0) return null;
    const logged = new Map<string, Prior[]>();
    for (const r of rows) {
      const id = pairId(r.tenantId, r.key);
      const p: Prior = { timestamp: r.timestamp, fingerprint: fingerprint(r) };
      const list = logged.get(id);
      if (list) list.push(p);
      else logged.set(id, [p]);
    }
    return events.map((e) => logged.get(pairId(e.tenantId, e.key)));
  }

  const context: BatchContext = { tenants, stateOf, evict, horizonMs: H };

  return {
    /** Opens a batch (events in arrival order): loads what memory does not know from the log. Batches run one at a time. */
    async open(events: readonly AcceptedEvent[]): Promise<KeyBatch> {
      if (deps.soleWriter) await cover(events);
      return openBatch(context, events, await fromLog(events));
    },

    /** Arrivals held in memory (for tests and metrics). */
    size(): number {
      let n = 0;
      for (const s of tenants.values()) n += s.memory.used;
      return n;
    },
  };
}

export type KeyIndex = ReturnType<typeof createKeyIndex>;
