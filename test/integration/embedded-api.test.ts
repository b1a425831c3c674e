/**
 * The HTTP and GraphQL edges of the embedded server: auth and tenant scoping,
 * clear errors for bad input, body limits, masking, GraphiQL, health.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { startTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp;
const event = (over: Record<string, unknown> = {}) => ({
  eventType: 'purchase',
  userId: 'u1',
  tenantId: 'alpha',
  amount: '10.00',
  currency: 'USD',
  traceId: 'c'.repeat(32),
  timestamp: Date.now(),
  ...over,
});

beforeAll(async () => {
  t = await startTestApp({ label: 'api', env: { MAX_BODY_BYTES: '20000', CURRENCY_BUDGET: '2' } });
});
afterAll(() => t?.app.stop());

describe('POST /v1/events', () => {
  it('needs a token with ingest scope', async () => {
    const anonymous = await fetch(`${t.url}/v1/events`, { method: 'POST', body: '[]' });
    expect(anonymous.status).toBe(401);
    expect((await t.post(await t.token('alpha', 'read'), '[]')).status).toBe(403);
    expect((await t.post('not.a.token', '[]')).status).toBe(401);
    const forged = await t.token('alpha', 'ingest');
    expect((await t.post(`${forged.slice(0, -4)}AAAA`, '[]')).status).toBe(401);
  });

  it('rejects events for another tenant than the token’s, item by item', async () => {
    const res = await t.post(await t.token('alpha', 'ingest'), JSON.stringify([event(), event({ tenantId: 'beta' })]));
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ accepted: 1, rejected: [{ index: 1, reason: 'tenant_mismatch' }] });
  });

  it('answers 400 (and keeps a dead letter) for a body that is not an array', async () => {
    const token = await t.token('alpha', 'ingest');
    expect((await t.post(token, '{"eventType": "purchase"}')).status).toBe(400);
    const res = await t.post(token, '{oops');
    expect(res.status).toBe(400);
    expect(String(res.json.error)).toMatch(/not valid JSON/);
    const rows = await t.app.db.query({
      queryId: 'test.dl',
      sql: "SELECT raw FROM dead_letters WHERE tenant_id = 'alpha' AND reason = 'body_not_array'",
      row: z.object({ raw: z.string() }),
    });
    expect(rows.map((r) => r.raw).sort()).toEqual(['{"eventType": "purchase"}', '{oops']);
  });

  it('refuses bodies over MAX_BODY_BYTES with 413', async () => {
    const big = JSON.stringify(Array.from({ length: 200 }, () => event()));
    expect((await t.post(await t.token('alpha', 'ingest'), big)).status).toBe(413);
  });

  it('reports idempotent retries as duplicates and derives a key when eventId is absent', async () => {
    const token = await t.token('alpha', 'ingest');
    const batch = JSON.stringify([event({ traceId: 'd'.repeat(32), timestamp: 1_800_000_000_000 }), event({ eventId: '7b0f5a3e-9c1d-4e2f-8a6b-3c4d5e6f7a8b' })]);
    expect((await t.post(token, batch)).json).toMatchObject({ accepted: 2, duplicates: 0 });
    expect((await t.post(token, batch)).json).toMatchObject({ accepted: 0, duplicates: 2 });
  });

  it('keeps a tenant within its currency budget', async () => {
    const token = await t.token('budget', 'ingest');
    const res = await t.post(token, JSON.stringify(['USD', 'EUR', 'JPY'].map((currency) => event({ tenantId: 'budget', currency, userId: currency }))));
    expect(res.json).toMatchObject({ accepted: 2, rejected: [{ index: 2, reason: 'currency_budget_exceeded' }] });
  });
});

describe('GraphQL', () => {
  const series = (input: string) => `{ series(input: { ${input} }) { total } }`;
  const range = 'from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z"';

  it('needs a token to read, and rejects a bad one with 401', async () => {
    const anonymous = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ freshness { isStale } }' }) });
    const body = (await anonymous.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    const bad = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x.y.z' }, body: JSON.stringify({ query: '{ freshness { isStale } }' }) });
    expect(bad.status).toBe(401);
    const ingestOnly = await t.gql(await t.token('alpha', 'ingest'), '{ freshness { isStale } }');
    expect(ingestOnly.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  });

  it('explains how to fix a bad series request', async () => {
    const token = await t.token('alpha', 'read');
    const cases: [string, RegExp][] = [
      [`metric: REVENUE, granularity: DAY, ${range}`, /REVENUE needs a currency/],
      [`metric: PURCHASES, granularity: DAY, timeZone: "Mars/Olympus", ${range}`, /not an IANA time zone/],
      [`metric: PURCHASES, granularity: MINUTE, from: "2026-01-01T00:00:00Z", to: "2026-03-01T00:00:00Z"`, /use a coarser granularity/],
      [`metric: PURCHASES, granularity: DAY, from: "2026-11-02T00:00:00Z", to: "2026-11-01T00:00:00Z"`, /"to" must be after "from"/],
      [`metric: PURCHASES, granularity: DAY, from: "yesterday", to: "2026-11-01T00:00:00Z"`, /ISO-8601/],
    ];
    for (const [input, message] of cases) {
      const res = await t.gql(token, series(input));
      expect(res.errors?.[0]?.message, input).toMatch(message);
    }
  });

  it('reads only the token’s tenant', async () => {
    const ingest = await t.token('alpha', 'ingest');
    await t.post(ingest, JSON.stringify([event({ amount: '5', timestamp: Date.UTC(2026, 10, 1, 12) })]));
    await t.app.aggregator.flush();
    const q = series(`metric: REVENUE, currency: "USD", granularity: DAY, ${range}`);
    const alpha = await t.gql<{ series: { total: string } }>(await t.token('alpha', 'read'), q);
    const beta = await t.gql<{ series: { total: string } }>(await t.token('beta', 'read'), q);
    expect(alpha.data!.series.total).toBe('5');
    expect(beta.data!.series.total).toBe('0');
  });

  it('refuses websocket connections without a valid token', async () => {
    const closed = await new Promise<number>((resolve) => {
      const client = createClient({
        url: `${t.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: 'Bearer nope' },
        retryAttempts: 0,
        on: { closed: (e) => resolve((e as { code: number }).code) },
      });
      client.subscribe({ query: 'subscription { windows { value } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    });
    expect(closed).toBe(4403);
  });

  it('serves GraphiQL without a CDN', async () => {
    const res = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('GraphiQL');
    expect(html).not.toMatch(/unpkg\.com|jsdelivr/);
  });
});

describe('operations endpoints', () => {
  it('reports health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${t.url}/readyz`)).json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(ready.ready).toBe(true);
    expect(Object.keys(ready.checks)).toEqual(expect.arrayContaining(['clickhouse', 'migrations', 'aggregator']));
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/tilecast_ingest_items_total\{outcome="rejected",reason="tenant_mismatch"\} 1/);
  });
});
