/**
 * GraphQL over HTTP (graphql-yoga, with an offline GraphiQL). Auth: `Authorization:
 * Bearer <token>`. Websockets on the same /graphql path run through this yoga's
 * envelop (src/app/ws/server.ts). Unexpected errors are masked; expected ones carry
 * `extensions.code`.
 */
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getOperationAST } from 'graphql';
import { createYoga, type GraphiQLOptions } from 'graphql-yoga';
import { corsFor, createGuards } from '../auth/guards.ts';
import type { TenantRateLimiter } from '../auth/rate-limit.ts';
import type { TokenService } from '../auth/tokens.ts';
import { useOperationTelemetry } from '../observability/graphql-telemetry.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { createRequestContext, type ApiServices, type GraphQLContext } from '../resolvers/context.ts';
import { buildSchema } from '../schema/index.ts';
import { renderGraphiQLPage } from './graphiql-page.ts';
import type { WsServerContext } from './ws/server.ts';

export function createGraphQL(deps: {
  services: ApiServices;
  tokens: TokenService;
  logger: Logger;
  graphiql?: () => Promise<GraphiQLOptions>;
  /** Abuse limits (src/auth/guards.ts); defaults = the config defaults. */
  limits?: { maxBodyBytes: number; rateLimit: { perSecond: number; burst: number } };
  /** Operation latency histogram and spans (src/observability/graphql-telemetry.ts). */
  metrics?: Pick<Metrics, 'graphqlDuration'>;
  /** Per-tenant buckets (src/app/rate-limiter.ts); default in memory. */
  limiter?: TenantRateLimiter;
}) {
  const { services, tokens, logger } = deps;
  const limits = deps.limits ?? { maxBodyBytes: 256 * 1024, rateLimit: { perSecond: 50, burst: 200 } };
  // Auth before parsing, per-tenant rate, queries only over HTTP, document limits (depth, aliases, tokens, cost).
  const guards = createGuards({ tokens, graphqlPath: '/graphql', rateLimit: limits.rateLimit, clock: services.clock, limiter: deps.limiter });

  // Generated from the process's metric model (services.plan).
  const schema = buildSchema(services.plan);
  const yoga = createYoga<WsServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: true,
    cors: corsFor,
    plugins: [
      ...guards.plugins,
      ...(deps.metrics ? [useOperationTelemetry({ metrics: deps.metrics })] : []),
      // Queries run as compiled functions (graphql-jit, cached per parsed document): a
      // dashboard returns ~17,000 points, and graphql-js resolving and type-checking each
      // field one by one was a third of its latency. Subscriptions keep graphql-js.
      useGraphQlJit({}, { enableIf: (args) => getOperationAST(args.document, args.operationName)?.operation === 'query' }),
    ],
    maxRequestBodySize: limits.maxBodyBytes,
    // Up to 10 operations in one HTTP request (a JSON array); each gets its own context, same token.
    batching: { limit: 10 },
    // Offline, and subscriptions carry the tab's token in connection_init (src/app/graphiql-page.ts).
    renderGraphiQL: renderGraphiQLPage,
    // Per page load: example tabs, and in demo mode a fresh token header (src/app/graphiql.ts).
    graphiql: async () => ({ title: 'Tilecast GraphiQL', ...(await deps.graphiql?.()) }),
    logging: {
      debug: (...a) => logger.debug({ yoga: a }),
      info: (...a) => logger.info({ yoga: a }),
      warn: (...a) => logger.warn({ yoga: a }),
      error: (...a) => logger.error({ yoga: a }),
    },
    context: async (initial) => {
      if ('wsPrincipal' in initial) return createRequestContext(services, initial.wsPrincipal ?? null, initial.wsConnection);
      // Verified (or refused with 401) by the guards before the body was parsed.
      return createRequestContext(services, guards.principalOf(initial.request));
    },
  });

  /**
   * For the websocket transport: `authenticate` (the principal of an Authorization value, for
   * connection_init) and `admit` (a subscribe message takes from its tenant's rate bucket).
   */
  return { yoga, schema, authenticate: guards.authenticate, admit: guards.admit };
}
