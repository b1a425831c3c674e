/**
 * The operations the dashboard sends — the one place to change them. The documents
 * are the files in examples/graphiql/ (the same ones GraphiQL opens with), so what
 * an analyst runs is exactly what the dashboard runs. Their variable and result types
 * are generated from schema.graphql (`npm run codegen` → ./generated); responses are
 * validated with zod against those shapes at this boundary, then turned into the model's
 * types (instants as epoch ms).
 */
import * as z from 'zod/mini';
import activeUsersDocument from '../../../examples/graphiql/active-users.graphql?raw';
import bucketWindowsDocument from '../../../examples/graphiql/bucket-windows.graphql?raw';
import dashboardDocument from '../../../examples/graphiql/dashboard.graphql?raw';
import freshnessDocument from '../../../examples/graphiql/freshness.graphql?raw';
import liveUpdatesDocument from '../../../examples/graphiql/live-updates.graphql?raw';
import {
  ADDITIVE_METRICS,
  METRICS,
  type AdditiveMetric,
  type DashboardData,
  type FreshnessData,
  type Metric,
  type PointData,
  type SeriesData,
  type WindowUpdateData,
} from '../model/dashboard.ts';
import { dashboardVariables, type Period } from '../model/period.ts';
import type {
  ActiveUsersQuery,
  ActiveUsersQueryVariables,
  BucketWindowsQuery,
  BucketWindowsQueryVariables,
  DashboardQuery,
  DashboardQueryVariables,
  FreshnessQuery,
  FreshnessQueryVariables,
  LiveUpdatesSubscription,
  LiveUpdatesSubscriptionVariables,
} from './generated/graphql.ts';

export interface Operation<TVariables, TResult> {
  name: string;
  document: string;
  variables: TVariables;
  parse(data: unknown): TResult;
}

// Wire shapes (the generated result types; `const x: Generated = schema.parse(…)` below
// fails to compile when a document and its schema drift apart).
const freshness = z.object({ dataAsOf: z.string(), ageMs: z.number(), staleThresholdMs: z.number(), isStale: z.boolean(), lastEventAt: z.nullable(z.string()) });
const point = z.object({ start: z.string(), value: z.string(), final: z.boolean() });
const windowPoint = z.object({ start: z.string(), value: z.string() });
const chart = z.object({
  total: z.string(),
  points: z.array(point),
  comparison: z.nullable(z.object({ from: z.string(), total: z.string(), points: z.array(windowPoint) })),
});
const total = z.object({ total: z.string() });
const windows = z.object({ points: z.array(windowPoint) });

const dashboardResponse = z.object({
  freshness,
  metrics: z.array(z.object({ name: z.string(), unit: z.string(), description: z.string() })),
  revenue: chart,
  revenuePrevToDate: total,
  revenueTail: windows,
  purchases: chart,
  purchasesPrevToDate: total,
  purchasesTail: windows,
  signups: chart,
  signupsPrevToDate: total,
  signupsTail: windows,
  upgrades: chart,
  upgradesPrevToDate: total,
  upgradesTail: windows,
  churns: chart,
  churnsPrevToDate: total,
  churnsTail: windows,
  activeUsers: chart,
  activeUsersPrevToDate: total,
});

/** The response alias of each metric in the documents. */
const ALIAS = {
  REVENUE: 'revenue',
  PURCHASES: 'purchases',
  SIGNUPS: 'signups',
  UPGRADES: 'upgrades',
  CHURNS: 'churns',
  ACTIVE_USERS: 'activeUsers',
} as const satisfies Record<Metric, string>;

const instant = (iso: string) => Date.parse(iso);
const toFreshness = (f: z.infer<typeof freshness>): FreshnessData => ({ ...f, dataAsOf: instant(f.dataAsOf), lastEventAt: f.lastEventAt === null ? null : instant(f.lastEventAt) });
const toPoints = (points: { start: string; value: string; final?: boolean }[]): PointData[] => points.map((p) => ({ ...p, start: instant(p.start) }));
const toSeries = (s: { total: string; points: { start: string; value: string; final?: boolean }[] }): SeriesData => ({ total: s.total, points: toPoints(s.points) });

export function dashboardQuery(period: Period, currency: string): Operation<DashboardQueryVariables, DashboardData> {
  return {
    name: 'Dashboard',
    document: dashboardDocument,
    variables: dashboardVariables(period, currency),
    parse(data) {
      const d: DashboardQuery = dashboardResponse.parse(data);
      const metric = (m: Metric) => {
        const s = d[ALIAS[m]];
        return {
          current: toSeries(s),
          // compareTo: PREVIOUS_PERIOD always answers; an empty previous period is all zeros.
          previous: s.comparison ? toSeries(s.comparison) : { total: '0', points: [] },
          previousToDate: d[`${ALIAS[m]}PrevToDate`].total,
          tail: m === 'ACTIVE_USERS' ? null : toPoints(d[`${ALIAS[m as AdditiveMetric]}Tail`].points),
        };
      };
      return {
        freshness: toFreshness(d.freshness),
        metrics: Object.fromEntries(METRICS.map((m) => [m, metric(m)])) as DashboardData['metrics'],
        catalog: Object.fromEntries(d.metrics.map((c) => [c.name, { unit: c.unit, description: c.description }])),
      };
    },
  };
}

const activeUsersResponse = z.object({ activeUsers: z.object({ total: z.string(), points: z.array(point) }) });
export function activeUsersQuery(period: Period, currency: string): Operation<ActiveUsersQueryVariables, SeriesData> {
  const v = dashboardVariables(period, currency);
  return {
    name: 'ActiveUsers',
    document: activeUsersDocument,
    variables: { currency, timeZone: v.timeZone, granularity: v.granularity, from: v.from, to: v.to },
    parse(data) {
      const d: ActiveUsersQuery = activeUsersResponse.parse(data);
      return toSeries(d.activeUsers);
    },
  };
}

const bucketWindowsResponse = z.object({ revenue: windows, purchases: windows, signups: windows, upgrades: windows, churns: windows });
export function bucketWindowsQuery(currency: string, bucket: { start: number; end: number }): Operation<BucketWindowsQueryVariables, Record<AdditiveMetric, PointData[]>> {
  return {
    name: 'BucketWindows',
    document: bucketWindowsDocument,
    variables: { currency, from: new Date(bucket.start).toISOString(), to: new Date(bucket.end).toISOString() },
    parse(data) {
      const d: BucketWindowsQuery = bucketWindowsResponse.parse(data);
      return Object.fromEntries(ADDITIVE_METRICS.map((m) => [m, toPoints(d[ALIAS[m]].points)])) as Record<AdditiveMetric, PointData[]>;
    },
  };
}

const freshnessResponse = z.object({ freshness });
export const freshnessQuery = (): Operation<FreshnessQueryVariables, FreshnessData> => ({
  name: 'Freshness',
  document: freshnessDocument,
  variables: {},
  parse(data) {
    const d: FreshnessQuery = freshnessResponse.parse(data);
    return toFreshness(d.freshness);
  },
});

const liveUpdatesResponse = z.object({
  windows: z.object({
    metric: z.enum(METRICS),
    currency: z.string(),
    windowStart: z.string(),
    windowEnd: z.string(),
    value: z.string(),
    revision: z.number(),
    kind: z.enum(['PARTIAL', 'FINAL', 'CORRECTION']),
    final: z.boolean(),
    replayed: z.boolean(),
    freshness,
  }),
});

/**
 * `resumeFrom()` is read each time the subscription is (re)sent: graphql-ws re-sends an
 * active subscription after it reconnects, serialising the variables again, so the
 * getter makes that re-sent subscription resume (`since`) instead of starting blind.
 */
export function liveUpdatesSubscription(currency: string, resumeFrom: () => number | null): Operation<LiveUpdatesSubscriptionVariables, WindowUpdateData> {
  return {
    name: 'LiveUpdates',
    document: liveUpdatesDocument,
    variables: {
      currency,
      get since() {
        const t = resumeFrom();
        return t === null ? undefined : new Date(t).toISOString();
      },
    },
    parse(data) {
      // The subscription names no metrics: only the stored ones come (formulas are asked for by name), as the enum check says.
      const { windows: w } = liveUpdatesResponse.parse(data) satisfies LiveUpdatesSubscription;
      return { metric: w.metric, currency: w.currency, windowStart: instant(w.windowStart), value: w.value, revision: w.revision, freshness: toFreshness(w.freshness) };
    },
  };
}
