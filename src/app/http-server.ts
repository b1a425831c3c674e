/** Routes plain HTTP: ingest, health, readiness and metrics here; everything else to GraphQL. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.ts';
import { requestIdFrom, runInRequestScope, type RequestScope } from '../observability/request-context.ts';
import { extractContext, SpanKind, withSpan } from '../observability/tracing.ts';

/** Routes traced as server spans (ingest and GraphQL; not health checks, scrapes or static files). */
const TRACED_ROUTES = new Set(['/v1/events', '/graphql']);
/** Scraped or polled constantly: access-logged at debug, not info. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export function createHttpServer(deps: {
  events: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  graphql: (req: IncomingMessage, res: ServerResponse) => unknown;
  /** The example dashboard's files (src/app/static.ts); false = not a dashboard path. */
  static?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  readiness: () => Promise<Readiness>;
  registry: Registry;
  onError: (err: unknown) => void;
  /** Access log (one line per request: request id, tenant, route, status, duration; never bodies or headers). */
  logger?: Logger;
}) {
  let draining = false;
  // Requests being served (upgraded websockets are not requests); drain() waits for them.
  let inFlight = 0;
  let drained: (() => void) | null = null;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Every response names its request: the caller's x-request-id when sane, else a new one.
    const scope: RequestScope = { requestId: requestIdFrom(req.headers['x-request-id']) };
    res.setHeader('x-request-id', scope.requestId);
    const startedAt = performance.now();
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
    res.once('finish', () => {
      const entry = {
        requestId: scope.requestId,
        tenant: scope.tenant,
        method: req.method,
        path: path.length > 64 ? `${path.slice(0, 64)}…` : path,
        ...(scope.operations ? { operations: scope.operations } : {}),
        status: res.statusCode,
        ms: Math.round(performance.now() - startedAt),
      };
      if (QUIET_ROUTES.has(path)) deps.logger?.debug(entry, 'request');
      else deps.logger?.info(entry, 'request');
    });
    // Shutting down: refuse new work on connections still open (keep-alive), and tell the client to reconnect elsewhere.
    if (draining) {
      res.setHeader('connection', 'close');
      if (path !== '/healthz') return json(res, 503, { error: 'Shutting down; retry on another instance' });
    }
    const route = async () => {
      switch (path) {
        case '/v1/events':
          return deps.events(req, res);
        case '/healthz':
          return json(res, 200, { status: 'ok' });
        case '/readyz': {
          const r = await deps.readiness();
          return json(res, r.ready ? 200 : 503, r);
        }
        case '/metrics':
          res.writeHead(200, { 'content-type': deps.registry.contentType });
          return res.end(await deps.registry.metrics());
        default:
          if (deps.static && (await deps.static(req, res))) return;
          return deps.graphql(req, res);
      }
    };
    const handle = () =>
      TRACED_ROUTES.has(path)
        ? withSpan(`${req.method} ${path}`, { kind: SpanKind.SERVER, parent: extractContext(req.headers), attributes: { 'http.request.method': req.method ?? '', 'url.path': path, 'tilecast.request_id': scope.requestId } }, async (span) => {
            await route();
            span.setAttribute('http.response.status_code', res.statusCode);
          })
        : route();
    runInRequestScope(scope, handle).catch((err: unknown) => {
      deps.onError(err);
      if (!res.headersSent) json(res, 503, { error: 'Temporarily unavailable; retry with backoff' });
      else res.end();
    });
  });
  // Outlive the idle timeouts of clients and load balancers (typically 60 s): with Node's 5 s
  // default, a client reusing a pooled connection can race the server closing it (ECONNRESET).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return Object.assign(server, {
    /**
     * Stops accepting: closes the listener and idle connections; later requests on open
     * keep-alive connections get 503 + Connection: close. Resolves once the requests in
     * flight have been answered (or after `timeoutMs`).
     */
    drain(timeoutMs = 10_000): Promise<void> {
      draining = true;
      server.close();
      server.closeIdleConnections();
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  });
}
