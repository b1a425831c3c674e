/**
 * GraphQL over HTTP (graphql-yoga, with an offline GraphiQL) and over websockets
 * (graphql-ws on the same /graphql path). Auth: `Authorization: Bearer <token>` on
 * HTTP; on websockets the `authorization` field of the connection_init payload
 * (or the upgrade request's header). Unexpected errors are masked; expected ones
 * carry `extensions.code`.
 */
import type { IncomingMessage, Server } from 'node:http';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { getOperationAST, GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type GraphiQLOptions } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { createGuards } from '../auth/guards.ts';
import type { Principal, TokenService } from '../auth/tokens.ts';
import { useOperationTelemetry } from '../observability/graphql-telemetry.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { createRequestContext, type ApiServices, type GraphQLContext } from '../resolvers/context.ts';
import type { SubscriptionTransport } from '../resolvers/frames.ts';
import { schema } from '../schema/index.ts';

/** Close code sent to websocket clients when the server shuts down (1001 Going Away: reconnect elsewhere). */
export const WS_CLOSE_GOING_AWAY = 1001;

export function createGraphQL(deps: {
  services: ApiServices;
  tokens: TokenService;
  logger: Logger;
  maxConnections?: number;
  graphiql?: () => Promise<GraphiQLOptions>;
  /** Abuse limits (src/auth/guards.ts); defaults = the config defaults. */
  limits?: { maxBodyBytes: number; rateLimit: { perSecond: number; burst: number } };
  /** Operation latency histogram and spans (src/observability/graphql-telemetry.ts). */
  metrics?: Pick<Metrics, 'graphqlDuration'>;
}) {
  const { services, tokens, logger } = deps;
  const limits = deps.limits ?? { maxBodyBytes: 256 * 1024, rateLimit: { perSecond: 50, burst: 200 } };
  // Auth before parsing, per-tenant rate, CSRF, document limits (depth, aliases, tokens, cost).
  const guards = createGuards({ tokens, graphqlPath: '/graphql', rateLimit: limits.rateLimit, clock: services.clock });
  const principalFrom = guards.authenticate;

  const yoga = createYoga<{ req?: IncomingMessage; wsPrincipal?: Principal | null; wsTransport?: SubscriptionTransport }, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: true,
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
    renderGraphiQL,
    // Per page load: example tabs, and in demo mode a fresh token header (src/app/graphiql.ts).
    graphiql: async () => ({ subscriptionsProtocol: 'WS', title: 'Tilecast GraphiQL', ...(await deps.graphiql?.()) }),
    logging: {
      debug: (...a) => logger.debug({ yoga: a }),
      info: (...a) => logger.info({ yoga: a }),
      warn: (...a) => logger.warn({ yoga: a }),
      error: (...a) => logger.error({ yoga: a }),
    },
    context: async (initial) => {
      if ('wsPrincipal' in initial) return createRequestContext(services, initial.wsPrincipal ?? null, initial.wsTransport);
      // Verified (or refused with 401) by the guards before the body was parsed.
      return createRequestContext(services, guards.principalOf(initial.request));
    },
  });

  function attachWebSockets(server: Server) {
    const wss = new WebSocketServer({ server, path: '/graphql' });
    // Over MAX_WS_CONNECTIONS: 1013 Try Again Later, which graphql-ws clients retry (the load balancer may pick another replica).
    wss.on('connection', (socket) => {
      if (deps.maxConnections !== undefined && wss.clients.size > deps.maxConnections) socket.close(1013, 'Too many connections; retry later');
    });
    useServer<Record<string, unknown>, { request: IncomingMessage; socket: WebSocket; principal?: Principal | null }>(
      {
        onConnect: async (ctx) => {
          const fromPayload = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
          const header = typeof fromPayload === 'string' ? fromPayload : ctx.extra.request.headers.authorization;
          try {
            ctx.extra.principal = await principalFrom(header);
            return ctx.extra.principal !== null;
          } catch {
            return false; // graphql-ws closes with 4403 Forbidden
          }
        },
        onSubscribe: async (ctx, id, params) => {
          const { execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            req: ctx.extra.request,
            wsPrincipal: ctx.extra.principal ?? null,
            wsTransport: { socket: ctx.extra.socket, id, variables: params.variables ?? {} },
            params,
          });
          let document;
          try {
            document = parse(params.query);
          } catch (err) {
            return [err instanceof GraphQLError ? err : new GraphQLError('Syntax error')];
          }
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          const args: ExecutionArgs = {
            schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
          return args;
        },
        execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
        subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      },
      wss,
    );
    return {
      /** Closes every socket with a code clients can act on, then the server. */
      close: () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.close(WS_CLOSE_GOING_AWAY, 'server shutting down');
          wss.close(() => resolve());
        }),
    };
  }

  return { yoga, attachWebSockets };
}
