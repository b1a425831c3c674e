/**
 * A MetricSeriesReader that keeps what is closed: per tenant, the answer of each query up
 * to the instant everything is final (the watermark), and the open edge after it until a
 * window update touches it, so a dashboard's request reads from ClickHouse only what
 * changed since its last one (an updated edge, whatever closed since) — still ONE read
 * for all uncached parts of all its queries. Additive queries (count and
 * sum series and every-value breakdowns) are kept as a growing closed prefix and added to
 * the edge; distinct ones likewise, their prefix keeping the merged users' keys of its
 * total and last bucket to union with the edge's (split.ts); ranked breakdowns are kept
 * whole once their range is closed, e.g. a comparison period. Entries are dropped by
 * window updates and bus gaps (store.ts), so a correction is never served once its
 * update has arrived.
 *
 * Identical concurrent reads of a tenant share one ClickHouse read (single flight).
 * A range a backfill has not covered yet is never kept (backfill writes without window
 * updates).
 */
import type { MetricResult } from '../../storage/metric-series-reader.ts';

/** The series half of a MetricSeriesReader (trace samples are never cached: index.ts reads them straight through). */
export interface ResultsReader {
  read(tenantId: string, queries: readonly MetricQuery[], o?: { signal?: AbortSignal }): Promise<MetricResult[]>;
}
import { metricQueryKey, type MetricQuery } from '../../storage/metric-series-sql.ts';
import { bucketStart } from '../buckets.ts';
import { addResults, keepKeys, keysAtOf, planSplit, resultBytes } from './split.ts';
import type { CacheStore, Stamp } from './store.ts';

export type Outcome = 'hit' | 'partial' | 'miss' | 'uncached';

export interface CachedReaderHooks {
  /** Per query of a read, how the cache answered it. */
  lookup(outcome: Outcome): void;
  /** A read that joined an identical one in flight instead of reading. */
  shared(): void;
}

/** How one query of a read is answered: parts read now, and what is kept afterwards. */
type Step =
  | { kind: 'read'; part: MetricQuery }
  | { kind: 'hit'; result: MetricResult }
  | { kind: 'whole'; key: string; part: MetricQuery }
  | {
      kind: 'split';
      query: MetricQuery;
      key: string;
      at: number;
      kept: { result: MetricResult; readAt: number } | null;
      gap: MetricQuery | null;
      /** The open edge: read, or kept from an earlier read that no window update has touched since. */
      edge: { part: MetricQuery; key: string; kept: MetricResult | null } | null;
    };

interface Flight {
  stamp: Stamp;
  promise: Promise<MetricResult[]>;
}

/** An every-value breakdown's group and leader flag do not change its answer: one key for all. */
const normalised = (q: MetricQuery): MetricQuery => (q.breakdown && q.breakdown.top === null ? { ...q, breakdown: { ...q.breakdown, group: 0, leader: true } } : q);

/**
 * A whole query's key. A ranked breakdown's slices are its group leader's top values
 * (a formula's operands line up with the first operand), so its key names the leader too.
 */
function wholeKey(q: MetricQuery, all: readonly MetricQuery[]): string {
  const b = q.breakdown;
  if (!b || b.top === null) return metricQueryKey(normalised(q));
  if (b.leader) return metricQueryKey({ ...q, breakdown: { ...b, group: 0 } });
  const leader = all.find((x) => x.breakdown?.group === b.group && x.breakdown.leader);
  return JSON.stringify([metricQueryKey({ ...q, breakdown: { ...b, group: 0 } }), leader ? metricQueryKey({ ...leader, breakdown: { ...leader.breakdown!, group: 0 } }) : null]);
}

/** The parts a step reads from ClickHouse. */
const partsOf = (s: Step): MetricQuery[] =>
  s.kind === 'read' || s.kind === 'whole' ? [s.part] : s.kind === 'split' ? [s.gap, s.edge && !s.edge.kept ? s.edge.part : null].filter((p) => p !== null) : [];

const outcomeOf = (s: Step): Outcome =>
  s.kind === 'hit' ? 'hit' : s.kind === 'read' ? 'uncached' : s.kind === 'whole' ? 'miss' : s.kept ? (s.gap || (s.edge && !s.edge.kept) ? 'partial' : 'hit') : 'miss';

export function createCachedMetricSeriesReader(o: {
  reader: ResultsReader;
  store: CacheStore;
  /** Everything stored before this instant is final (the freshness watermark); 0 = nothing is. */
  closedBefore: () => number;
  /** Whether a metric version's data from `from` on is complete (backfilled): other ranges are never kept. */
  keepable: (metric: string, version: number, from: number) => boolean;
  hooks?: CachedReaderHooks;
}): ResultsReader {
  const flights = new Map<string, Flight>();

  /** The open edge of a split: kept until a window update touches its range, like a closed part. */
  const edgeOf = (tenantId: string, part: MetricQuery) => {
    const key = `edge:${metricQueryKey(part)}`;
    return { part, key, kept: o.store.get(tenantId, key)?.result ?? null };
  };

  const stepOf = (tenantId: string, q: MetricQuery, closedBefore: number, all: readonly MetricQuery[]): Step => {
    if (!o.keepable(q.metric, q.version, q.from)) return { kind: 'read', part: q };
    const plan = planSplit(q, closedBefore);
    if (plan.kind === 'read') return { kind: 'read', part: q };
    if (plan.kind === 'whole') {
      const key = `whole:${wholeKey(q, all)}`;
      const e = o.store.get(tenantId, key);
      return e ? { kind: 'hit', result: e.result } : { kind: 'whole', key, part: q };
    }
    // Keyed by everything but `to`: the closed prefix grows as the watermark moves.
    const key = `split:${metricQueryKey({ ...normalised(q), to: 0 })}`;
    const e = o.store.get(tenantId, key);
    const usable = e && e.to <= plan.at ? e : undefined;
    const from = usable ? usable.to : q.from;
    // A distinct query's parts come with their keys, to be unioned (split.ts).
    const part = (p: MetricQuery): MetricQuery => (q.distinct ? { ...p, keysAt: keysAtOf(p) } : p);
    return {
      kind: 'split',
      query: q,
      key,
      at: plan.at,
      kept: usable ? { result: usable.result, readAt: usable.readAt } : null,
      gap: from < plan.at ? part({ ...q, from, to: plan.at }) : null,
      edge: plan.at < q.to ? edgeOf(tenantId, part({ ...q, from: plan.at })) : null,
    };
  };

  /** One read of `parts`, shared with an identical one in flight that nothing has invalidated since it began. */
  const readShared = (tenantId: string, parts: MetricQuery[], signal?: AbortSignal): { stamp: Stamp; promise: Promise<MetricResult[]> } => {
    const id = JSON.stringify([tenantId, parts.map(metricQueryKey)]);
    const f = flights.get(id);
    // Joined only while nothing that arrived since it began touches what it reads: a joiner is as fresh as its own read.
    if (f && parts.every((p) => o.store.clean(f.stamp, p))) {
      o.store.join(f.stamp);
      o.hooks?.shared();
      return f;
    }
    const stamp = o.store.begin(tenantId);
    // An aborted caller must not abort the others sharing the read: only an unshared read gets the signal.
    const promise = o.reader.read(tenantId, parts, { signal: stamp.receiving ? undefined : signal });
    const flight = { stamp, promise };
    if (stamp.receiving) {
      flights.set(id, flight);
      const forget = () => flights.get(id) === flight && flights.delete(id);
      promise.then(forget, forget);
    }
    return flight;
  };

  /** The answer of one step from the parts read (`byKey`), keeping what the read closed when `stamp` allows. */
  const answerOf = (s: Step, byKey: Map<string, MetricResult>, stamp: Stamp | null): MetricResult => {
    const got = (p: MetricQuery | null) => (p ? [byKey.get(metricQueryKey(p))!] : []);
    if (s.kind === 'hit') return s.result;
    if (s.kind === 'read') return got(s.part)[0]!;
    if (s.kind === 'whole') {
      const result = got(s.part)[0]!;
      const q = s.part;
      if (stamp) o.store.put(stamp, { key: s.key, table: q.table, from: q.from, to: q.to, metric: q.metric, version: q.version, result, bytes: resultBytes(result), readAt: stamp.readAt });
      return result;
    }
    const q = s.query;
    let closed = s.gap || !s.kept ? addResults([...(s.kept ? [s.kept.result] : []), ...got(s.gap)]) : s.kept.result;
    // A distinct prefix keeps the keys its next part may meet: its total's and its last bucket's.
    if (q.distinct && s.gap) closed = keepKeys(closed, bucketStart(s.at - 1, q.granularity, q.timeZone));
    if (s.gap && stamp) {
      const readAt = Math.min(stamp.readAt, s.kept?.readAt ?? Infinity);
      o.store.put(stamp, { key: s.key, table: q.table, from: q.from, to: s.at, metric: q.metric, version: q.version, result: closed, bytes: resultBytes(closed), readAt });
    }
    let edge: MetricResult | null = null;
    if (s.edge) {
      edge = s.edge.kept ?? got(s.edge.part)[0]!;
      const p = s.edge.part;
      if (!s.edge.kept && stamp) {
        o.store.put(stamp, { key: s.edge.key, table: p.table, from: p.from, to: p.to, metric: p.metric, version: p.version, result: edge, bytes: resultBytes(edge), readAt: stamp.readAt });
      }
    }
    // An answer to give out: distinct cells of both parts need only the union's size.
    const answer = edge ? addResults([closed, edge], false) : closed;
    return q.distinct ? keepKeys(answer, null) : answer;
  };

  return {
    async read(tenantId, queries, options = {}) {
      if (queries.length === 0) return [];
      const closedBefore = o.closedBefore();
      const steps = queries.map((q) => stepOf(tenantId, q, closedBefore, queries));
      for (const s of steps) o.hooks?.lookup(outcomeOf(s));
      const parts = new Map<string, MetricQuery>();
      for (const s of steps) for (const p of partsOf(s)) parts.set(metricQueryKey(p), p);
      const list = [...parts.values()];
      if (list.length === 0) return steps.map((s) => answerOf(s, new Map(), null));
      const { stamp, promise } = readShared(tenantId, list, options.signal);
      try {
        const results = await promise;
        const byKey = new Map(list.map((p, i) => [metricQueryKey(p), results[i]!]));
        return steps.map((s) => answerOf(s, byKey, stamp));
      } finally {
        o.store.end(stamp);
      }
    },
  };
}
