/**
 * Transport: GraphQL over HTTP (fetch, JSON POST) and ONE graphql-ws connection for
 * the live stream. The websocket retries forever with capped, jittered backoff;
 * graphql-ws re-sends active subscriptions after a reconnect, and `onReconnected`
 * tells the caller so it can re-read what it may have missed while disconnected.
 */
import { createClient, type Client } from 'graphql-ws';
import type { Operation } from './operations.ts';

/** The server refused the token (HTTP 401, or websocket close 4401/4403). */
export class AuthRejected extends Error {
  override name = 'AuthRejected';
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

const AUTH_CLOSE_CODES = new Set([4401, 4403]);
const closeCode = (e: unknown): number | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'number' ? (e as { code: number }).code : undefined;

export interface ApiClient {
  request<V, R>(op: Operation<V, R>): Promise<R>;
  subscribe<V, R>(op: Operation<V, R>, sink: { next(value: R): void; error(err: unknown): void }): () => void;
  dispose(): void;
}

export function createApiClient(o: {
  origin: string;
  token: string;
  onConnection(state: ConnectionState): void;
  onReconnected(): void;
}): ApiClient {
  const authorization = `Bearer ${o.token}`;
  const ws: Client = createClient({
    url: `${o.origin.replace(/^http/, 'ws')}/graphql`,
    connectionParams: { authorization },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (e) => !AUTH_CLOSE_CODES.has(closeCode(e) ?? 0),
    // 0.5 s, 1 s, 2 s, 4 s, then every ~5 s, with jitter so replicas aren't hit all at once.
    retryWait: (retries) => new Promise((r) => setTimeout(r, Math.min(5_000, 500 * 2 ** retries) * (0.75 + Math.random() / 2))),
    keepAlive: 10_000,
    on: {
      connecting: () => o.onConnection('connecting'),
      connected: (_socket, _payload, wasRetry) => {
        o.onConnection('open');
        if (wasRetry) o.onReconnected();
      },
      closed: () => o.onConnection('closed'),
    },
  });

  return {
    async request(op) {
      const res = await fetch(`${o.origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization },
        body: JSON.stringify({ query: op.document, operationName: op.name, variables: op.variables }),
      });
      const body = (await res.json().catch(() => null)) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } | null;
      if (res.status === 401 || body?.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
        throw new AuthRejected(body?.errors?.[0]?.message ?? 'The server rejected the token');
      }
      if (!body || body.errors?.length || body.data == null) {
        throw new Error(body?.errors?.map((e) => e.message).join('; ') || `GraphQL request failed with HTTP ${res.status}`);
      }
      return op.parse(body.data);
    },
    subscribe(op, sink) {
      return ws.subscribe(
        { query: op.document, operationName: op.name, variables: op.variables as Record<string, unknown> },
        {
          next: (msg) => {
            if (msg.errors?.length || !msg.data) return sink.error(new Error(msg.errors?.map((e) => e.message).join('; ') ?? 'empty update'));
            try {
              sink.next(op.parse(msg.data));
            } catch (err) {
              sink.error(err);
            }
          },
          error: (err) => sink.error(AUTH_CLOSE_CODES.has(closeCode(err) ?? 0) ? new AuthRejected('The server rejected the token') : err),
          complete: () => sink.error(new Error('the live stream ended')),
        },
      );
    },
    dispose: () => void ws.dispose(),
  };
}
