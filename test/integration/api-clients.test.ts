/**
 * Issue 16 item 4: standard GraphQL clients work against a running API as they come —
 * urql (GET for queries by default), graphql-request (POST, and GET when asked) and
 * graphql-ws (token in the connection_init payload). HTTP carries queries only: a
 * mutation over GET is refused by yoga (405) and a subscription over HTTP is refused with
 * the way to reach it. No CSRF header is needed (the only credential is the bearer header),
 * and CORS never allows credentials nor shares the GraphiQL page with other origins.
 */
import { randomUUID } from 'node:crypto';
import { Client, fetchExchange, gql as urqlGql } from '@urql/core';
import { GraphQLClient, gql } from 'graphql-request';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

const MINUTE = 60_000;
const TENANT = `clients-${process.pid}`;
const SERIES = `{ freshness { isStale } s: series(input: { metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: HOUR }) { total } }`;

let t: TestApp;
let token: string;
const wsClients: WsClient[] = [];

beforeAll(async () => {
  t = await startTestApp({ label: 'clients', env: { FLUSH_INTERVAL_MS: '100', ALLOWED_LATENESS_MS: String(24 * 60 * MINUTE) }, app: { demo: { tenantId: 'demo' } } });
  token = await t.token(TENANT, 'admin');
}, 120_000);
afterAll(async () => {
  for (const c of wsClients) await c.dispose();
  await t?.app.stop();
});

/** A fetch that records the method of every request it sends. */
function recordingFetch(methods: string[]): typeof fetch {
  return (input, init) => {
    methods.push((init?.method ?? 'GET').toUpperCase());
    return fetch(input, init);
  };
}

describe('HTTP clients', () => {
  it('urql with its defaults sends queries as GET and gets the data', async () => {
    const methods: string[] = [];
    const client = new Client({
      url: `${t.url}/graphql`,
      exchanges: [fetchExchange],
      fetch: recordingFetch(methods),
      fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
    });
    const r = await client.query(urqlGql(SERIES), {}).toPromise();
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual({ freshness: { isStale: expect.any(Boolean) }, s: { total: '0' } });
    expect(methods).toEqual(['GET']);
  });

  it('graphql-request, POST (its default) and GET', async () => {
    const methods: string[] = [];
    const headers = { authorization: `Bearer ${token}` };
    const post = new GraphQLClient(`${t.url}/graphql`, { headers, fetch: recordingFetch(methods) });
    const get = new GraphQLClient(`${t.url}/graphql`, { headers, method: 'GET', fetch: recordingFetch(methods) });
    const query = gql`
      query Tile($from: DateTime!, $to: DateTime!) {
        s: series(input: { metric: PURCHASES, from: $from, to: $to, granularity: HOUR }) {
          total
        }
      }
    `;
    const vars = { from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z' };
    expect(await post.request(query, vars)).toEqual({ s: { total: '0' } });
    expect(await get.request(query, vars)).toEqual({ s: { total: '0' } });
    expect(methods).toEqual(['POST', 'GET']);
    // The token is still required, over GET as over POST.
    await expect(new GraphQLClient(`${t.url}/graphql`, { method: 'GET' }).request(query, vars)).rejects.toThrow(/Missing bearer token/);
  });

  it('HTTP carries queries only: a mutation over GET is 405, a subscription over HTTP is refused with where to go', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const mutation = await fetch(`${t.url}/graphql?query=${encodeURIComponent('mutation { x }')}`, { headers: auth });
    expect(mutation.status).toBe(405);
    expect(await mutation.text()).toMatch(/Can only perform a mutation operation from a POST request/);
    const subscription = 'subscription { freshness { ageMs } }';
    const overGet = await fetch(`${t.url}/graphql?query=${encodeURIComponent(subscription)}`, { headers: auth });
    const overPost = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ query: subscription }) });
    // Asking for server-sent events does not change the answer.
    const asSse = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query: subscription }) });
    for (const r of [overGet, overPost]) {
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({ errors: [{ message: expect.stringMatching(/^Subscriptions are served over websockets at this path \(graphql-ws/), extensions: { code: 'BAD_REQUEST' } }] });
    }
    expect(asSse.status).toBe(400);
    await asSse.body?.cancel();
  });

  it('no CSRF header needed; CORS allows other origins with a token but never credentials, and not the GraphiQL page', async () => {
    const origin = 'https://dashboards.example';
    const preflight = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    // A form POST (no preflight) without a token is just unauthenticated.
    const form = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D' });
    expect(form.status).toBe(401);
    // Demo mode puts a token in the GraphiQL page: another origin must not be able to read it.
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html', origin } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Bearer ');
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('graphql-ws', () => {
  const client = (connectionParams: Record<string, unknown>) => {
    const c = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
    wsClients.push(c);
    return c;
  };

  it('with the token in connection_init, a subscription receives the window an event changes', async () => {
    const c = client({ authorization: `Bearer ${token}` });
    const updates = c.iterate<{ windows: { metric: string; value: string; windowStart: string } }>({
      query: 'subscription { windows(metrics: [PURCHASES], currency: "EUR") { metric value windowStart } }',
    });
    const first = updates.next();
    // The server registers the subscription asynchronously: post until an update arrives (each event changes the window again).
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const event = () => ({ eventId: randomUUID(), eventType: 'purchase', userId: 'u1', tenantId: TENANT, amount: '3.50', currency: 'EUR', traceId: randomUUID().replaceAll('-', ''), timestamp: minute + 1_000 });
    let arrived = false;
    void first.then(() => (arrived = true));
    await waitFor(
      async () => {
        if (arrived) return true;
        expect((await t.post(token, JSON.stringify([event()]))).status).toBe(202);
        return false;
      },
      { intervalMs: 300, what: 'a pushed window update' },
    );
    const got = await first;
    expect(got.value?.data?.windows).toEqual({ metric: 'PURCHASES', value: expect.stringMatching(/^[1-9]\d*$/), windowStart: new Date(minute).toISOString() });
    await updates.return?.();
  });

  it('without a token the connection is closed with 4403', async () => {
    const c = client({});
    const r = c.iterate({ query: 'subscription { freshness { isStale } }' });
    await expect(r.next()).rejects.toMatchObject({ code: 4403 });
  });
});
