/**
 * Series resolution: checks a request (caps, source choice) before any work, and a
 * per-request DataLoader that answers every series, derived series and breakdown of
 * an operation — with their comparison periods — with ONE ClickHouse read.
 */
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { WINDOW_MS, type Granularity } from '../contracts/metrics.ts';
import type { Aggregate, BranchResult, ReadBranch, SeriesReader } from '../storage/series-reader.ts';
import { branchKey } from '../storage/series-reader.ts';
import { bucketsBetween, canonicalTimeZone, type Bucket } from './buckets.ts';
import { changeRatio, difference, metricValue, type SeriesMetric } from './derived.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';
import { comparisonRange, type Comparison } from './periods.ts';
import { pickSource } from './source.ts';

/** Series a request may ask for (a comparison period counts as one more). */
export const MAX_SERIES_PER_REQUEST = 50;

export interface SeriesInputValues {
  metric: SeriesMetric;
  /** null = all currencies (or, for a breakdown, one series per currency). */
  currency: string | null;
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  compareTo: Comparison | null;
}

/** A checked request: `breakdown` asks for one series per currency; `traces`: its points need trace ids. */
export interface SeriesRequest extends SeriesInputValues {
  breakdown: boolean;
  traces: boolean;
  table: string;
}

export interface Point {
  start: number;
  value: string;
  final: boolean;
  traceIds: string[];
}

export interface ComparisonSeries {
  period: Comparison;
  from: number;
  to: number;
  points: Point[];
  total: string;
  /** total − comparison total. */
  change: string;
  /** change / comparison total (6 fractional digits, half-even); null when that total is 0. */
  changeRatio: string | null;
}

export interface Series {
  metric: SeriesMetric;
  currency: string | null;
  granularity: Granularity;
  timeZone: string;
  from: number;
  to: number;
  points: Point[];
  total: string;
  freshness: Freshness;
  comparison: ComparisonSeries | null;
}

export const badInput = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/** Checks a request before any work and picks its source; throws BAD_USER_INPUT errors that say how to fix it. */
export function prepareSeriesRequest(r: SeriesInputValues, o: { now: number; breakdown?: boolean; traces?: boolean }): SeriesRequest {
  const breakdown = o.breakdown ?? false;
  const traces = o.traces ?? true;
  if (r.metric === 'REVENUE' && r.currency === null && !breakdown) {
    throw badInput('REVENUE needs a currency: amounts in different currencies are never added together (use `breakdown` for revenue by currency)');
  }
  if (r.metric === 'ARPU' && r.currency === null) throw badInput('ARPU needs a currency: it divides revenue, which is never added across currencies');
  if (r.currency !== null && !/^[A-Z]{3}$/.test(r.currency)) throw badInput(`currency "${r.currency}" is not an ISO 4217 code`);
  const timeZone = canonicalTimeZone(r.timeZone);
  if (timeZone === null) throw badInput(`timeZone "${r.timeZone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  r = { ...r, timeZone };
  const pick = pickSource({ from: r.from, to: r.to }, r.granularity, o.now, { timeZone: r.timeZone });
  if (!pick.ok) throw badInput(pick.error);
  if (r.compareTo) {
    const c = comparisonRange(r, r.granularity, r.compareTo, r.timeZone);
    const cPick = pickSource(c, r.granularity, o.now, { timeZone: r.timeZone });
    if (!cPick.ok) throw badInput(`comparison period: ${cPick.error}`);
    if (cPick.source.table !== pick.source.table) {
      // One period fits the hourly rollup and the other does not (a range or an offset off
      // whole hours): both read the finer source, which serves any bucket the coarser can.
      const finer = cPick.source.resolutionMs < pick.source.resolutionMs ? cPick.source : pick.source;
      const kept = (from: number) => finer.retentionMs === null || from >= o.now - finer.retentionMs;
      if (!kept(r.from) || !kept(c.from)) throw badInput('the comparison period needs another source than the period: choose a shorter range');
      return { ...r, breakdown, traces, table: finer.table };
    }
  }
  return { ...r, breakdown, traces, table: pick.source.table };
}

/** How many series a request costs against MAX_SERIES_PER_REQUEST. */
export const seriesCost = (r: Pick<SeriesInputValues, 'compareTo'>): number => (r.compareTo ? 2 : 1);

interface Part {
  from: number;
  to: number;
}

function rangesOf(r: SeriesRequest): { current: Part; previous: Part | null } {
  return { current: { from: r.from, to: r.to }, previous: r.compareTo ? comparisonRange(r, r.granularity, r.compareTo, r.timeZone) : null };
}

interface BucketList {
  buckets: Bucket[];
  starts: Set<number>;
}

function pointsOf(r: SeriesRequest, range: Part, agg: Aggregate | undefined, watermark: number, bucketCache: Map<string, BucketList>): { points: Point[]; total: string } {
  // Series of one request mostly share ranges: compute each bucket list once (time-zone math is not free).
  const cacheKey = JSON.stringify([range.from, range.to, r.granularity, r.timeZone]);
  let shared = bucketCache.get(cacheKey);
  if (!shared) {
    const buckets = bucketsBetween(range.from, range.to, r.granularity, r.timeZone);
    bucketCache.set(cacheKey, (shared = { buckets, starts: new Set(buckets.map((b) => b.start)) }));
  }
  let buckets = shared.buckets;
  // Never drop data the database returned, even if a bucket boundary disagreed.
  const unknown = agg ? [...agg.buckets.keys()].filter((start) => !shared.starts.has(start)) : [];
  if (unknown.length > 0) buckets = [...buckets, ...unknown.map((start) => ({ start, end: start + WINDOW_MS }))].sort((a, b) => a.start - b.start);
  return {
    points: buckets.map((b) => {
      const row = agg?.buckets.get(b.start);
      return { start: b.start, value: metricValue(r.metric, row), final: b.end <= watermark && (row?.allFinal ?? true), traceIds: row?.traceSample ?? [] };
    }),
    total: metricValue(r.metric, agg?.total),
  };
}

/** A fresh loader per request and tenant: every series of the operation in one read. Breakdowns resolve to one series per currency. */
export function createSeriesLoader(deps: { reader: SeriesReader; freshness: FreshnessTracker; tenantId: string }) {
  return new DataLoader<SeriesRequest, Series[], string>(
    async (requests) => {
      type Draft = Omit<ReadBranch, 'currencies' | 'users'> & { currencies: Set<string> | 'all'; users: { combined: boolean; currencies: Set<string> | 'all' } };
      const branches = new Map<string, Draft>();
      const need = (r: SeriesRequest, range: Part): void => {
        const key = branchKey({ table: r.table, ...range, granularity: r.granularity, timeZone: r.timeZone });
        let b = branches.get(key);
        if (!b) {
          const users = { combined: false, currencies: new Set<string>() };
          branches.set(key, (b = { table: r.table, ...range, granularity: r.granularity, timeZone: r.timeZone, currencies: new Set(), combined: false, users, traces: false }));
        }
        if (r.traces) b.traces = true;
        // Distinct users are merged only for the currencies (or the sum) that ask for them.
        const wants = r.metric === 'ACTIVE_USERS' || r.metric === 'ARPU' ? b.users : null;
        if (r.breakdown) {
          b.currencies = 'all';
          if (wants) wants.currencies = 'all';
        } else if (r.currency === null) {
          b.combined = true;
          if (wants) wants.combined = true;
        } else {
          if (b.currencies !== 'all') b.currencies.add(r.currency);
          if (wants && wants.currencies !== 'all') wants.currencies.add(r.currency);
        }
      };
      for (const r of requests) {
        const { current, previous } = rangesOf(r);
        need(r, current);
        if (previous) need(r, previous);
      }
      const sorted = (c: Set<string> | 'all') => (c === 'all' ? ('all' as const) : [...c].sort());
      const list: ReadBranch[] = [...branches.values()].map((b) => ({ ...b, currencies: sorted(b.currencies), users: { combined: b.users.combined, currencies: sorted(b.users.currencies) } }));
      const results = await deps.reader.read(deps.tenantId, list);
      const byKey = new Map<string, BranchResult>(list.map((b, i) => [branchKey(b), results[i]!]));
      const freshness = deps.freshness.of(deps.tenantId);
      const watermark = deps.freshness.watermark();
      const bucketCache = new Map<string, BucketList>();
      const resultOf = (r: SeriesRequest, range: Part) => byKey.get(branchKey({ table: r.table, ...range, granularity: r.granularity, timeZone: r.timeZone }))!;

      const build = (r: SeriesRequest, currency: string | null): Series => {
        const { current, previous } = rangesOf(r);
        const pick = (range: Part) => {
          const res = resultOf(r, range);
          return currency === null ? res.combined : res.byCurrency.get(currency);
        };
        const cur = pointsOf(r, current, pick(current), watermark, bucketCache);
        let comparison: ComparisonSeries | null = null;
        if (previous && r.compareTo) {
          const then = pointsOf(r, previous, pick(previous), watermark, bucketCache);
          comparison = { period: r.compareTo, ...previous, ...then, change: difference(cur.total, then.total), changeRatio: changeRatio(cur.total, then.total) };
        }
        return { metric: r.metric, currency, granularity: r.granularity, timeZone: r.timeZone, ...current, ...cur, freshness, comparison };
      };

      return requests.map((r) => {
        if (!r.breakdown) return [build(r, r.currency)];
        const { current, previous } = rangesOf(r);
        const currencies = new Set([...resultOf(r, current).byCurrency.keys(), ...(previous ? resultOf(r, previous).byCurrency.keys() : [])]);
        return [...currencies].sort().map((c) => build(r, c));
      });
    },
    {
      cacheKeyFn: (r) => JSON.stringify([r.metric, r.currency, r.from, r.to, r.granularity, r.timeZone, r.compareTo, r.breakdown, r.traces, r.table]),
      // Above MAX_SERIES_PER_REQUEST nothing reaches the loader, so one batch is one read.
      maxBatchSize: 2 * MAX_SERIES_PER_REQUEST,
    },
  );
}
