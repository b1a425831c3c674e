/** Routes plain HTTP: ingest, health, readiness and metrics here; everything else to GraphQL. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

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
}) {
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handle = async () => {
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
    handle().catch((err: unknown) => {
      deps.onError(err);
      if (!res.headersSent) json(res, 503, { error: 'Temporarily unavailable; retry with backoff' });
      else res.end();
    });
  });
  // Outlive the idle timeouts of clients and load balancers (typically 60 s): with Node's 5 s
  // default, a client reusing a pooled connection can race the server closing it (ECONNRESET).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
