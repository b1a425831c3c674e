/** Per-request GraphQL context: the verified principal, shared services, and request-scoped loaders. */
import { GraphQLError } from 'graphql';
import { AuthError, requireScope, type Principal, type Scope } from '../auth/tokens.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { DeadLetters } from '../storage/dead-letters.ts';
import type { StoredDefinition } from '../storage/definitions.ts';
import type { ModelPlan } from '../model/types.ts';
import type { MetricSeriesReader } from '../storage/metric-series-reader.ts';
import type { SubscriptionConnection } from './connection.ts';
import type { FreshnessTracker } from './freshness.ts';
import { createModelSeriesLoader } from './model-series.ts';
import { MAX_SERIES_PER_REQUEST } from './series.ts';
import type { SubscriptionHub } from './subscription-hub.ts';

export interface ApiServices {
  /** The metric model the schema was generated from, and the reader of its narrow tables. */
  plan: ModelPlan;
  metricSeriesReader: MetricSeriesReader;
  deadLetters: DeadLetters;
  /** The metric versions published in storage (the catalog's published definitions). */
  publishedDefinitions: () => Promise<readonly StoredDefinition[]>;
  freshness: FreshnessTracker;
  /** Per stored metric version (`name@version`), the instant before which it is not yet backfilled; null = complete. */
  coverage: { incompleteBefore(id: string): number | null };
  bus: UpdateBus;
  clock: () => number;
  onSubscription: (delta: 1 | -1) => void;
  subscriptions: SubscriptionHub;
}

export interface GraphQLContext {
  principal: Principal | null;
  services: ApiServices;
  /**
   * Created on first use, so one loader batches every series field of the request (series,
   * derivedSeries, breakdown, metricSeries, metricBreakdown): one read for all of them.
   */
  modelLoader: () => ReturnType<typeof createModelSeriesLoader>;
  /** Counts series against MAX_SERIES_PER_REQUEST; throws once the request asks for more. */
  chargeSeries: (n: number) => void;
  /** Set on websocket subscriptions: lets the subscription hub share frames and drop slow connections. */
  connection?: SubscriptionConnection;
}

export function createRequestContext(services: ApiServices, principal: Principal | null, connection?: SubscriptionConnection): GraphQLContext {
  let modelLoader: ReturnType<typeof createModelSeriesLoader> | null = null;
  let charged = 0;
  return {
    principal,
    services,
    connection,
    modelLoader: () => {
      const p = authorize({ principal }, 'read');
      modelLoader ??= createModelSeriesLoader({ plan: services.plan, reader: services.metricSeriesReader, freshness: services.freshness, coverage: services.coverage, tenantId: p.tenantId });
      return modelLoader;
    },
    chargeSeries: (n) => {
      charged += n;
      if (charged > MAX_SERIES_PER_REQUEST) {
        throw new GraphQLError(
          `This request asks for more than ${MAX_SERIES_PER_REQUEST} series (a comparison period counts as one more): split it into several requests of at most ${MAX_SERIES_PER_REQUEST}`,
          { extensions: { code: 'BAD_USER_INPUT' } },
        );
      }
    },
  };
}

/** The caller's principal if it has `scope`; otherwise a GraphQL error with a code clients can act on. */
export function authorize(ctx: Pick<GraphQLContext, 'principal'>, scope: Scope): Principal {
  try {
    return requireScope(ctx.principal, scope);
  } catch (err) {
    if (err instanceof AuthError) throw new GraphQLError(err.message, { extensions: { code: err.code } });
    throw err;
  }
}
