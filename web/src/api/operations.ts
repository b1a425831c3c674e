/**
 * The operations the dashboard sends — the one place to change them. The documents
 * are the files in examples/graphiql/ (the same ones GraphiQL opens with), so what
 * an analyst runs is exactly what the dashboard runs. Responses are validated with
 * zod at this boundary and turned into the model's types.
 */
import * as z from 'zod/mini';
import activeUsersDocument from '../../../examples/graphiql/active-users.graphql?raw';
import bucketWindowsDocument from '../../../examples/graphiql/bucket-windows.graphql?raw';
import dashboardDocument from '../../../examples/graphiql/dashboard.graphql?raw';
import freshnessDocument from '../../../examples/graphiql/freshness.graphql?raw';
import liveUpdatesDocument from '../../../examples/graphiql/live-updates.graphql?raw';
import { ADDITIVE_METRICS, METRICS, type AdditiveMetric, type DashboardData, type PointData, type FreshnessData, type Metric, type SeriesData, type WindowUpdateData } from '../model/dashboard.ts';
import { dashboardVariables, type Period } from '../model/period.ts';

const instant = z.pipe(z.string(), z.transform((s: string) => Date.parse(s)));
const freshness = z.object({
  dataAsOf: instant,
  ageMs: z.number(),
  staleThresholdMs: z.number(),
  isStale: z.boolean(),
  lastEventAt: z.nullable(instant),
});
const point = z.object({ start: instant, value: z.string(), final: z.optional(z.boolean()) });
const series = z.object({ total: z.string(), points: z.array(point) });
const windowsOnly = z.object({ points: z.array(point) });

/** The response alias of each metric in dashboard.graphql. */
const ALIAS: Record<Metric, string> = {
  REVENUE: 'revenue',
  PURCHASES: 'purchases',
  SIGNUPS: 'signups',
  UPGRADES: 'upgrades',
  CHURNS: 'churns',
  ACTIVE_USERS: 'activeUsers',
};

const dashboardResponse = z.object({
  freshness,
  ...Object.fromEntries(
    METRICS.flatMap((m) => {
      const a = ALIAS[m];
      const fields: [string, z.ZodMiniType][] = [
        [a, series],
        [`${a}Prev`, series],
        [`${a}PrevToDate`, z.object({ total: z.string() })],
      ];
      if (m !== 'ACTIVE_USERS') fields.push([`${a}Tail`, windowsOnly]);
      return fields;
    }),
  ),
});

export interface Operation<TVariables, TResult> {
  name: string;
  document: string;
  variables: TVariables;
  parse(data: unknown): TResult;
}

export function dashboardQuery(period: Period, currency: string): Operation<ReturnType<typeof dashboardVariables>, DashboardData> {
  return {
    name: 'Dashboard',
    document: dashboardDocument,
    variables: dashboardVariables(period, currency),
    parse(data) {
      const d = dashboardResponse.parse(data) as Record<string, unknown> & { freshness: FreshnessData };
      const get = <T>(key: string) => d[key] as T;
      const metrics = Object.fromEntries(
        METRICS.map((m) => {
          const a = ALIAS[m];
          return [
            m,
            {
              current: get<SeriesData>(a),
              previous: get<SeriesData>(`${a}Prev`),
              previousToDate: get<{ total: string }>(`${a}PrevToDate`).total,
              tail: m === 'ACTIVE_USERS' ? null : get<{ points: SeriesData['points'] }>(`${a}Tail`).points,
            },
          ];
        }),
      ) as DashboardData['metrics'];
      return { freshness: d.freshness, metrics };
    },
  };
}

const activeUsersResponse = z.object({ activeUsers: series });
export function activeUsersQuery(period: Period, currency: string) {
  const v = dashboardVariables(period, currency);
  return {
    name: 'ActiveUsers',
    document: activeUsersDocument,
    variables: { currency, timeZone: v.timeZone, granularity: v.granularity, from: v.from, to: v.to },
    parse: (data: unknown): SeriesData => activeUsersResponse.parse(data).activeUsers,
  } satisfies Operation<unknown, SeriesData>;
}

const bucketWindowsResponse = z.object(Object.fromEntries(ADDITIVE_METRICS.map((m) => [ALIAS[m], windowsOnly])));
export const bucketWindowsQuery = (currency: string, bucket: { start: number; end: number }): Operation<{ currency: string; from: string; to: string }, Record<AdditiveMetric, PointData[]>> => ({
  name: 'BucketWindows',
  document: bucketWindowsDocument,
  variables: { currency, from: new Date(bucket.start).toISOString(), to: new Date(bucket.end).toISOString() },
  parse(data) {
    const d = bucketWindowsResponse.parse(data) as Record<string, { points: PointData[] }>;
    return Object.fromEntries(ADDITIVE_METRICS.map((m) => [m, d[ALIAS[m]]!.points])) as Record<AdditiveMetric, PointData[]>;
  },
});

const freshnessResponse = z.object({ freshness });
export const freshnessQuery = (): Operation<Record<string, never>, FreshnessData> => ({
  name: 'Freshness',
  document: freshnessDocument,
  variables: {},
  parse: (data) => freshnessResponse.parse(data).freshness,
});

const windowUpdate = z.object({
  metric: z.enum(METRICS),
  currency: z.string(),
  windowStart: instant,
  value: z.string(),
  revision: z.number(),
  freshness,
});
const liveUpdatesResponse = z.object({ windows: windowUpdate });
/**
 * `resumeFrom()` is read each time the subscription is (re)sent: graphql-ws re-sends an
 * active subscription after it reconnects, serialising the variables again, so the
 * getter makes that re-sent subscription resume (`since`) instead of starting blind.
 */
export const liveUpdatesSubscription = (currency: string, resumeFrom: () => number | null): Operation<{ currency: string; since?: string }, WindowUpdateData> => ({
  name: 'LiveUpdates',
  document: liveUpdatesDocument,
  variables: {
    currency,
    get since() {
      const t = resumeFrom();
      return t === null ? undefined : new Date(t).toISOString();
    },
  },
  parse: (data) => liveUpdatesResponse.parse(data).windows,
});
