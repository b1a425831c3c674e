/**
 * Series resolution: validates a request, and a per-request DataLoader that answers
 * every `series` field of an operation with ONE ClickHouse read.
 */
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { WINDOW_MS, type Granularity, type Metric } from '../contracts/metrics.ts';
import type { BucketRow, SeriesReader, SeriesShape } from '../storage/series-reader.ts';
import { shapeKey } from '../storage/series-reader.ts';
import { bucketsBetween, estimateBuckets, isValidTimeZone } from './buckets.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';

export const MAX_POINTS_PER_SERIES = 10_000;

export interface SeriesRequest extends SeriesShape {
  metric: Metric;
}

export interface Point {
  start: number;
  value: string;
  final: boolean;
  traceIds: string[];
}

export interface Series {
  metric: Metric;
  currency: string | null;
  granularity: Granularity;
  timeZone: string;
  points: Point[];
  total: string;
  freshness: Freshness;
}

const badInput = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/** Checks a request before any work; throws BAD_USER_INPUT errors that say how to fix it. */
export function validateSeriesRequest(r: SeriesRequest): void {
  if (r.metric === 'REVENUE' && r.currency === null) throw badInput('REVENUE needs a currency: amounts in different currencies are never added together');
  if (r.currency !== null && !/^[A-Z]{3}$/.test(r.currency)) throw badInput(`currency "${r.currency}" is not an ISO 4217 code`);
  if (!isValidTimeZone(r.timeZone)) throw badInput(`timeZone "${r.timeZone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  if (r.to <= r.from) throw badInput('"to" must be after "from"');
  const points = estimateBuckets(r.from, r.to, r.granularity);
  if (points > MAX_POINTS_PER_SERIES) {
    throw badInput(`This series would have ~${points} points (limit ${MAX_POINTS_PER_SERIES}): use a coarser granularity or a shorter range`);
  }
}

function valueOf(metric: Metric, row: BucketRow | null | undefined): string {
  if (!row) return '0';
  switch (metric) {
    case 'REVENUE':
      return row.revenue;
    case 'PURCHASES':
      return String(row.purchases);
    case 'SIGNUPS':
      return String(row.signups);
    case 'UPGRADES':
      return String(row.upgrades);
    case 'CHURNS':
      return String(row.churns);
    case 'ACTIVE_USERS':
      return String(row.activeUsers);
  }
}

/** A fresh loader per request and tenant: batches every series field into one read. */
export function createSeriesLoader(deps: { reader: SeriesReader; freshness: FreshnessTracker; tenantId: string }) {
  return new DataLoader<SeriesRequest, Series, string>(
    async (requests) => {
      const shapes = new Map<string, SeriesShape>();
      for (const r of requests) shapes.set(shapeKey(r), { currency: r.currency, from: r.from, to: r.to, granularity: r.granularity, timeZone: r.timeZone });
      const keys = [...shapes.keys()];
      const results = await deps.reader.read(deps.tenantId, [...shapes.values()]);
      const byShape = new Map(keys.map((k, i) => [k, results[i]!]));
      const freshness = deps.freshness.of(deps.tenantId);
      const watermark = deps.freshness.watermark();
      return requests.map((r) => {
        const result = byShape.get(shapeKey(r))!;
        const buckets = bucketsBetween(r.from, r.to, r.granularity, r.timeZone);
        // Never drop data the database returned, even if a bucket boundary disagreed.
        const known = new Set(buckets.map((b) => b.start));
        for (const start of result.buckets.keys()) if (!known.has(start)) buckets.push({ start, end: start + WINDOW_MS });
        buckets.sort((a, b) => a.start - b.start);
        return {
          metric: r.metric,
          currency: r.currency,
          granularity: r.granularity,
          timeZone: r.timeZone,
          points: buckets.map((b) => {
            const row = result.buckets.get(b.start);
            return { start: b.start, value: valueOf(r.metric, row), final: b.end <= watermark && (row?.allFinal ?? true), traceIds: row?.traceSample ?? [] };
          }),
          total: valueOf(r.metric, result.total),
          freshness,
        };
      });
    },
    { cacheKeyFn: (r) => JSON.stringify([r.metric, shapeKey(r)]), maxBatchSize: 100 },
  );
}
