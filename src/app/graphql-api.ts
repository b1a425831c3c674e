/**
 * The GraphQL API of a process: the services resolvers see (series reads, dead letters,
 * freshness, the subscription hub), the per-tenant rate limiter, GraphiQL (with a demo
 * token in demo mode only) and graphql-yoga over them.
 */
import type { TokenService } from '../auth/tokens.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { ModelPlan } from '../model/types.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { UpdateBus } from '../realtime/index.ts';
import type { ApiServices } from '../resolvers/context.ts';
import { readPublished } from '../storage/definitions.ts';
import type { FreshnessTracker } from '../resolvers/freshness.ts';
import type { CatchUpHooks } from '../resolvers/subscription-catchup.ts';
import { createSeriesCache } from '../resolvers/series-cache/index.ts';
import { createSubscriptionHub } from '../resolvers/subscription-hub.ts';
import type { ClickHouse } from '../storage/clickhouse.ts';
import type { DeadLetters } from '../storage/dead-letters.ts';
import { createMetricSeriesReader } from '../storage/metric-series-reader.ts';
import { createMetricCellsReader } from '../storage/metric-window-cells.ts';
import { createWindowChangesReader } from '../storage/window-changes.ts';
import { createGraphiQLOptions } from './graphiql.ts';
import { createGraphQL } from './graphql.ts';
import { createTenantRateLimiter } from './rate-limiter.ts';

export function createGraphQLApi(o: {
  config: Config;
  /** The metric model: the schema's generated part and the model series read it. */
  plan: ModelPlan;
  db: ClickHouse;
  clock: () => number;
  logger: Logger;
  metrics: Metrics;
  bus: UpdateBus;
  freshness: FreshnessTracker;
  /** Backfill state of the model's stored versions (coverage-feed.ts). */
  coverage: ApiServices['coverage'];
  deadLetters: DeadLetters;
  tokens: TokenService;
  /** Demo mode: GraphiQL and the dashboard open with a read token for this tenant. */
  demo?: { tenantId: string };
  subscriptionHooks?: CatchUpHooks;
}) {
  const { config, db, clock, logger, metrics, bus, freshness, tokens } = o;
  // Closed parts of model series reads, kept per tenant and invalidated by window updates.
  const seriesCache = createSeriesCache({
    reader: createMetricSeriesReader(db),
    bus,
    config: config.seriesCache,
    closedBefore: () => freshness.watermark(),
    coverage: o.coverage,
    registry: metrics.registry,
    clock,
  });
  const services: ApiServices = {
    plan: o.plan,
    metricSeriesReader: seriesCache.reader,
    deadLetters: o.deadLetters,
    publishedDefinitions: () => readPublished(db),
    freshness,
    coverage: o.coverage,
    bus,
    clock,
    onSubscription: (d) => metrics.activeSubscriptions.inc(d),
    subscriptions: createSubscriptionHub({
      bus,
      freshness,
      changes: createWindowChangesReader(db),
      plan: o.plan,
      cells: createMetricCellsReader(db),
      logger,
      limits: config.realtime,
      registry: metrics.registry,
      clock,
      hooks: o.subscriptionHooks,
    }),
  };
  // Demo only: a short-lived read token per page load, never in any other mode.
  const demo = o.demo;
  const demoToken = demo ? () => tokens.mint({ tenantId: demo.tenantId, scope: 'read', ttlSeconds: 12 * 3600 }) : undefined;
  const graphiql = createGraphiQLOptions({ clock, demoToken });
  const limiter = createTenantRateLimiter({ config, clock, logger, metrics });
  const graphql = createGraphQL({
    services,
    tokens,
    logger,
    graphiql,
    limits: { maxBodyBytes: config.server.graphqlMaxBodyBytes, rateLimit: config.server.rateLimit },
    metrics,
    limiter,
  });
  return {
    graphql,
    demoToken,
    seriesCache,
    /** Closes the rate limiter, the subscription hub and the series cache (its subscriptions). */
    async close(): Promise<void> {
      await limiter.close();
      services.subscriptions.close();
      seriesCache.close();
    },
  };
}
