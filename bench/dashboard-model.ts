/**
 * The model-driven twin of bench/dashboard.ts's 12-tile dashboard: the same tiles as
 * Query.metricSeries / Query.metricBreakdown (metricBreakdown has no comparison period; the default model's metrics: the narrow
 * tables metric_windows / metric_windows_hourly), measured three ways in one process:
 *
 *   model       the series cache on (src/resolvers/series-cache/), warm: closed hours
 *               from memory, the open hour read from ClickHouse (and the distinct-user
 *               tiles, whose total over an open range is not a sum of parts);
 *   model-off   the cache bypassed: every request reads everything;
 *   model-cold  the cache emptied before each request: read everything, keep it.
 *
 * A checkout without the cache (`app.seriesCache` absent, e.g. a baseline under
 * `npm run bench`) answers all three uncached.
 */
export const modelDashboard = (range: string): string => {
  const tile = 'total points { start value } comparison { total change points { value } }';
  return `{
  revenueUsd: metricSeries(input: { metric: REVENUE, currency: "USD", ${range} }) { ${tile} }
  revenueEur: metricSeries(input: { metric: REVENUE, currency: "EUR", ${range} }) { ${tile} }
  purchases: metricSeries(input: { metric: PURCHASES, ${range} }) { ${tile} }
  purchasesUsd: metricSeries(input: { metric: PURCHASES, currency: "USD", ${range} }) { ${tile} }
  signups: metricSeries(input: { metric: SIGNUPS, ${range} }) { ${tile} }
  upgrades: metricSeries(input: { metric: UPGRADES, ${range} }) { ${tile} }
  churns: metricSeries(input: { metric: CHURNS, ${range} }) { ${tile} }
  activeUsers: metricSeries(input: { metric: ACTIVE_USERS, ${range} }) { ${tile} }
  activeUsersUsd: metricSeries(input: { metric: ACTIVE_USERS, currency: "USD", ${range} }) { ${tile} }
  arpuUsd: metricSeries(input: { metric: ARPU, currency: "USD", ${range} }) { ${tile} }
  netUsers: metricSeries(input: { metric: NET_USER_CHANGE, ${range} }) { ${tile} }
  revenueByCurrency: metricBreakdown(input: { metric: REVENUE, by: CURRENCY, ${range.replace(/, compareTo: \w+/, '')} }) { slices { slice total points { start value } } }
}`;
};

interface CacheHandle {
  bypass(on: boolean): void;
  clear(): void;
}

export type ModelPathName = 'model' | 'modelOff' | 'modelCold';

/** The three model paths over `run` (one dashboard request), switching the app's cache around each request. */
export function modelPaths(cache: CacheHandle | undefined, run: () => Promise<unknown>): Record<ModelPathName, { label: string; run: () => Promise<unknown> }> {
  return {
    model: { label: 'model: cache on, warm', run },
    modelOff: {
      label: 'model: cache off',
      async run() {
        cache?.bypass(true);
        try {
          return await run();
        } finally {
          cache?.bypass(false);
        }
      },
    },
    modelCold: {
      label: 'model: cache on, cold',
      run() {
        cache?.clear();
        return run();
      },
    },
  };
}
