/**
 * What a Tilecast API process serves on its port: POST /v1/events (the intake, with
 * bearer-token auth), GraphQL over HTTP and websockets on /graphql, the dashboard's
 * static files, /readyz and /metrics.
 */
import { bearerToken, type TokenService } from '../auth/tokens.ts';
import type { Config } from '../config/index.ts';
import { createEventsHandler } from '../ingest/http.ts';
import type { Intake } from '../ingest/intake.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { createGraphQL } from './graphql.ts';
import { createHttpServer, type Readiness } from './http-server.ts';
import { createStaticHandler } from './static.ts';
import { attachWebSockets } from './ws/server.ts';

export function createHttpFront(o: {
  config: Config;
  intake: Intake;
  tokens: TokenService;
  graphql: ReturnType<typeof createGraphQL>;
  /** Demo mode: a fresh read token per page load for the dashboard. */
  demoToken?: () => Promise<string>;
  /** Built dashboard directory (default dist/web). */
  webRoot?: string;
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
  logger: Logger;
}) {
  const { config, tokens, graphql, logger } = o;
  const server = createHttpServer({
    events: createEventsHandler({
      intake: o.intake,
      maxBodyBytes: config.server.maxBodyBytes,
      authenticate: async (req) => {
        const token = bearerToken(req.headers.authorization);
        return token ? tokens.verify(token) : null;
      },
    }),
    graphql: graphql.yoga,
    static: createStaticHandler({ root: o.webRoot, demoToken: o.demoToken }),
    readiness: o.readiness,
    registry: o.metrics.registry,
    onError: (err) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'request failed'),
    logger,
  });
  const sockets = attachWebSockets({
    server,
    path: '/graphql',
    schema: graphql.schema,
    yoga: graphql.yoga,
    authenticate: graphql.authenticate,
    admit: graphql.admit,
    logger,
    maxConnections: config.realtime.maxConnections,
    maxBufferedBytes: config.realtime.maxBufferedBytes,
  });
  return { server, sockets };
}
