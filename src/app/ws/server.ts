/**
 * GraphQL subscriptions over websockets: graphql-ws (protocol `graphql-transport-ws`)
 * on the HTTP server's /graphql path.
 *
 * - Auth: the `authorization` field of the connection_init payload (or the upgrade
 *   request's header); without a valid token graphql-ws closes with 4403 Forbidden.
 * - Operations run through yoga's envelop (`getEnveloped`): the same plugins as HTTP
 *   (guards, telemetry), and a context from the same factory. That context carries a
 *   SubscriptionConnection (connection.ts), never the socket itself.
 * - Rate: every subscribe message takes a token from its tenant's bucket (`admit`, the
 *   HTTP requests' bucket); refused ones get an error with code RATE_LIMITED.
 * - Limits: more than `maxConnections` sockets → 1013 Try Again Later (graphql-ws
 *   clients retry, the load balancer may pick another replica); a socket whose unsent
 *   bytes pass `maxBufferedBytes` is dropped as a slow consumer (frames.ts).
 * - Heartbeats: a websocket ping every KEEPALIVE_MS; a socket that has not answered by
 *   the next one is terminated (graphql-ws's keep-alive), so dead peers do not hold
 *   connection slots. Freshness heartbeats are data, pushed by the subscription hub.
 * - Shutdown: close() sends 1001 Going Away to every socket (reconnect elsewhere).
 */
import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../../auth/tokens.ts';
import type { Logger } from '../../observability/logger.ts';
import type { SubscriptionConnection } from '../../resolvers/connection.ts';
import { createWsConnection, type FrameSharing } from './connection.ts';
import { createFrameGroups, createFrameWriter } from './frames.ts';

/** Close code sent to websocket clients when the server shuts down (1001 Going Away: reconnect elsewhere). */
export const WS_CLOSE_GOING_AWAY = 1001;
/** Close code over MAX_WS_CONNECTIONS (1013 Try Again Later). */
export const WS_CLOSE_TRY_AGAIN_LATER = 1013;
/** Websocket ping period; no pong before the next ping ends the connection. */
export const KEEPALIVE_MS = 12_000;

/** What the websocket side hands yoga's context factory (src/app/graphql.ts). */
export interface WsServerContext {
  req?: IncomingMessage;
  /** Present (maybe null) on websocket operations: the principal of connection_init. */
  wsPrincipal?: Principal | null;
  wsConnection?: SubscriptionConnection;
}

/** The part of a yoga instance the websocket side runs operations through. */
export interface Enveloped {
  getEnveloped(initial: WsServerContext & { params: SubscribePayload }): {
    parse: (source: string) => ExecutionArgs['document'];
    validate: (schema: GraphQLSchema, document: ExecutionArgs['document']) => readonly GraphQLError[];
    contextFactory: () => unknown;
    execute: (args: ExecutionArgs) => unknown;
    subscribe: (args: ExecutionArgs) => unknown;
  };
}

export interface WebSocketsOptions {
  server: Server;
  path: string;
  schema: GraphQLSchema;
  yoga: Enveloped;
  /** The principal of an `Authorization` value; throws or returns null when there is none valid. */
  authenticate: (header: string | undefined) => Promise<Principal | null>;
  /** Per-tenant rate for subscribe messages: null admits, an error refuses that subscription (src/auth/guards.ts). */
  admit?: (tenantId: string) => Promise<GraphQLError | null>;
  logger: Logger;
  /** Sockets at most (MAX_WS_CONNECTIONS); unlimited when absent. */
  maxConnections?: number;
  /** Unsent bytes a socket may hold before it is dropped as a slow consumer (WS_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
}

type Extra = { request: IncomingMessage; socket: WebSocket; principal?: Principal | null };

export function attachWebSockets(o: WebSocketsOptions) {
  const sharing: FrameSharing = { groups: createFrameGroups({ logger: o.logger }), writer: createFrameWriter({ maxBufferedBytes: o.maxBufferedBytes }) };
  const wss = new WebSocketServer({ server: o.server, path: o.path });
  // Registered before graphql-ws's own handler, so an over-limit socket is closed before it is served.
  wss.on('connection', (socket) => {
    if (o.maxConnections !== undefined && wss.clients.size > o.maxConnections) socket.close(WS_CLOSE_TRY_AGAIN_LATER, 'Too many connections; retry later');
  });

  useServer<Record<string, unknown>, Extra>(
    {
      onConnect: async (ctx) => {
        const fromPayload = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const header = typeof fromPayload === 'string' ? fromPayload : ctx.extra.request.headers.authorization;
        try {
          ctx.extra.principal = await o.authenticate(header);
          return ctx.extra.principal !== null;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: async (ctx, id, params) => {
        const { request, socket } = ctx.extra;
        // Each subscribe attempt counts against the tenant's rate, like an HTTP request.
        const refused = ctx.extra.principal && o.admit ? await o.admit(ctx.extra.principal.tenantId) : null;
        if (refused) return [refused];
        const connection = createWsConnection({ target: { socket, net: request.socket }, id, variables: params.variables ?? {}, sharing });
        const { execute, subscribe, contextFactory, parse, validate } = o.yoga.getEnveloped({
          req: request,
          wsPrincipal: ctx.extra.principal ?? null,
          wsConnection: connection,
          params,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('Syntax error')];
        }
        const errors = validate(o.schema, document);
        if (errors.length > 0) return [...errors];
        const args: ExecutionArgs = {
          schema: o.schema,
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
    KEEPALIVE_MS,
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
