/**
 * Issue 5, done-when 1: tries to read, subscribe to and ingest another tenant's data by
 * every route we could think of — arguments, aliases, batched operations, GET requests,
 * forged / re-signed / unsigned / expired / wrong-algorithm tokens, injected headers and
 * connection params — and counts leaks: any response carrying globex's marks while
 * authenticated as (or pretending to be) acme. Expected: 0.
 */
import { SignJWT, UnsecuredJWT } from 'jose';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

const SECRET = 'k'.repeat(48);
const T0 = Date.UTC(2026, 10, 20, 12, 0);
let now = T0 + 3_600_000;
let t: TestApp;
const tok: Record<string, string> = {};

// globex's marks: a currency acme never uses, an amount acme never has, a user id prefix.
const GLOBEX_MARKS = [/GBP/, /7777\.77|77777\.7/, /g-user/];
let leaks = 0;
const record = (what: string, body: unknown) => {
  const text = JSON.stringify(body);
  for (const mark of GLOBEX_MARKS) {
    if (mark.test(text)) {
      leaks += 1;
      console.error(`LEAK via ${what}: ${text.slice(0, 300)}`);
    }
  }
};

const ev = (tenantId: string, i: number, over: Record<string, unknown> = {}) => ({
  eventType: 'purchase',
  userId: `${tenantId === 'globex' ? 'g-user' : 'a-user'}-${i}`,
  tenantId,
  amount: tenantId === 'globex' ? '7777.77' : '10.5',
  currency: tenantId === 'globex' ? 'GBP' : 'USD',
  traceId: (tenantId === 'globex' ? 'b' : 'a').repeat(31) + (i % 10),
  timestamp: T0 + i * 60_000,
  ...over,
});

const RANGE = 'from: "2026-11-20T00:00:00Z", to: "2026-11-21T00:00:00Z"';
const DASHBOARD = `{
  usd: series(input: { metric: REVENUE, currency: "USD", ${RANGE}, granularity: HOUR, compareTo: PREVIOUS_PERIOD }) { total points { value traceIds } comparison { total } }
  gbp: series(input: { metric: REVENUE, currency: "GBP", ${RANGE}, granularity: HOUR }) { total points { value traceIds } }
  users: series(input: { metric: ACTIVE_USERS, ${RANGE}, granularity: DAY }) { total }
  arpu: derivedSeries(input: { metric: ARPU, currency: "GBP", ${RANGE}, granularity: DAY }) { total }
  byCurrency: breakdown(input: { metric: REVENUE, ${RANGE}, granularity: DAY }) { slices { currency total } }
  dead: deadLetters(first: 100) { edges { node { reason rawExcerpt } } }
}`;

async function raw(init: { headers?: Record<string, string>; body?: string; method?: string; path?: string }) {
  const res = await fetch(`${t.url}${init.path ?? '/graphql'}`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.body,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

beforeAll(async () => {
  t = await startTestApp({ label: 'isolation', clock: () => now, env: { AUTH_SECRET: SECRET, FLUSH_INTERVAL_MS: '3600000' } });
  for (const tenant of ['acme', 'globex']) {
    tok[`${tenant}:admin`] = await t.token(tenant, 'admin');
    tok[`${tenant}:read`] = await t.token(tenant, 'read');
    tok[`${tenant}:ingest`] = await t.token(tenant, 'ingest');
  }
  expect((await t.post(tok['globex:ingest']!, JSON.stringify(Array.from({ length: 20 }, (_, i) => ev('globex', i))))).status).toBe(202);
  expect((await t.post(tok['acme:ingest']!, JSON.stringify(Array.from({ length: 20 }, (_, i) => ev('acme', i))))).status).toBe(202);
  // A dead letter of globex's own, with its marks in the raw payload.
  await t.post(tok['globex:ingest']!, JSON.stringify([ev('globex', 99, { amount: 'lots' })]));
  await t.app.aggregator.flush();
});

afterAll(async () => {
  await t?.app.stop();
});

describe('tenant isolation', () => {
  it('globex’s data is really there (the marks would show if leaked)', async () => {
    const res = await t.gql(tok['globex:admin']!, DASHBOARD);
    expect(JSON.stringify(res)).toMatch(/7777\.77/);
    expect(JSON.stringify(res)).toMatch(/GBP/);
  });

  it('acme’s token reads only acme, whatever the query asks for', async () => {
    const res = await t.gql<Record<string, unknown>>(tok['acme:admin']!, DASHBOARD);
    record('dashboard', res);
    expect(res.errors).toBeUndefined();
    expect(JSON.stringify(res.data)).toMatch(/"total":"210"/); // 20 × 10.5 USD
  });

  it('has no argument that names a tenant', async () => {
    for (const q of [
      `{ series(input: { metric: REVENUE, currency: "GBP", tenantId: "globex", ${RANGE}, granularity: DAY }) { total } }`,
      `{ series(tenantId: "globex", input: { metric: REVENUE, currency: "GBP", ${RANGE}, granularity: DAY }) { total } }`,
      `{ freshness(tenant: "globex") { lastEventAt } }`,
      `{ deadLetters(first: 10, tenantId: "globex") { edges { node { rawExcerpt } } } }`,
    ]) {
      const res = await t.gql(tok['acme:admin']!, q);
      record('argument', res);
      expect(res.errors?.[0]?.message, q).toMatch(/is not defined|Unknown argument/);
    }
  });

  it('aliases all resolve for the token’s tenant', async () => {
    const fields = Array.from({ length: 40 }, (_, i) => `a${i}: series(input: { metric: REVENUE, currency: "${i % 2 ? 'GBP' : 'USD'}", ${RANGE}, granularity: HOUR }) { total points { traceIds } }`);
    const res = await t.gql<Record<string, { total: string }>>(tok['acme:read']!, `{ ${fields.join('\n')} }`);
    record('aliases', res);
    expect(res.data!.a1!.total).toBe('0');
  });

  it('batched operations all run as the token’s tenant', async () => {
    const body = JSON.stringify([{ query: DASHBOARD.replace(/dead:.*\n/, '') }, { query: '{ freshness { lastEventAt } }' }, { query: `{ s: series(input: { metric: PURCHASES, ${RANGE}, granularity: DAY }) { total } }` }]);
    const res = await raw({ headers: { authorization: `Bearer ${tok['acme:read']}` }, body });
    record('batch', res.json);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json) && res.json).toHaveLength(3);
    expect(JSON.stringify(res.json)).toMatch(/"total":"20"/); // acme's 20 purchases
  });

  it('ignores tenant headers, query parameters and cookies', async () => {
    const attempts: { headers: Record<string, string>; path?: string }[] = [
      { headers: { 'x-tenant-id': 'globex' } },
      { headers: { 'x-tenant': 'globex', 'x-forwarded-user': 'globex', 'x-auth-request-user': 'globex' } },
      { headers: { cookie: 'tenant=globex' } },
      { headers: {}, path: '/graphql?tenant=globex&tenantId=globex' },
    ];
    for (const a of attempts) {
      const res = await raw({ ...a, headers: { authorization: `Bearer ${tok['acme:admin']}`, ...a.headers }, body: JSON.stringify({ query: DASHBOARD }) });
      record(`headers ${JSON.stringify(a)}`, res.json);
      expect(res.status).toBe(200);
    }
    // Without a token, a tenant header is worth nothing.
    const anonymous = await raw({ headers: { 'x-tenant-id': 'globex' }, body: JSON.stringify({ query: DASHBOARD }) });
    record('anonymous with header', anonymous.json);
    expect(anonymous.status).toBe(401);
  });

  it('refuses forged, re-signed, unsigned, expired and wrong-algorithm tokens with 401', async () => {
    const acme = tok['acme:admin']!;
    const [h, p] = acme.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const key = (s: string) => new TextEncoder().encode(s);
    const sign = (c: Record<string, unknown>, secret: string, alg = 'HS256') =>
      new SignJWT(c).setProtectedHeader({ alg }).setIssuer('tilecast').setAudience('tilecast').setExpirationTime('5m').sign(key(secret));
    const forged: [string, string][] = [
      ['payload switched to globex', `${h}.${b64({ ...claims, tenant: 'globex' })}.${acme.split('.')[2]}`],
      ['re-signed with a guessed secret', await sign({ tenant: 'globex', scope: 'admin' }, 'secret'.repeat(8))],
      ['re-signed with HS512 and the right secret', await sign({ tenant: 'globex', scope: 'admin' }, SECRET.repeat(2), 'HS512')],
      ['alg none', new UnsecuredJWT({ tenant: 'globex', scope: 'admin' }).setIssuer('tilecast').setAudience('tilecast').setExpirationTime('5m').encode()],
      ['alg none, signature kept', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, tenant: 'globex' })}.${acme.split('.')[2]}`],
      [
        'expired globex token with the right secret',
        await new SignJWT({ tenant: 'globex', scope: 'admin' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('tilecast')
          .setAudience('tilecast')
          .setExpirationTime(Math.floor(now / 1000) - 3600)
          .sign(key(SECRET)),
      ],
      ['empty', ''],
    ];
    for (const [name, token] of forged) {
      const res = await raw({ headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ query: DASHBOARD }) });
      record(name, res.json);
      expect(res.status, name).toBe(401);
      expect(JSON.stringify(res.json), name).toMatch(/UNAUTHENTICATED/);
    }
    for (const header of [`Bearer ${acme}, Bearer ${tok['globex:admin']}`, `Basic ${Buffer.from('globex:x').toString('base64')}`, `bearer  ${tok['globex:admin']}x`]) {
      const res = await raw({ headers: { authorization: header }, body: JSON.stringify({ query: DASHBOARD }) });
      record(`authorization ${header.slice(0, 20)}`, res.json);
      expect(res.status).toBe(401);
    }
  });

  it('needs the admin scope for dead letters and shows only the tenant’s own', async () => {
    const read = await t.gql(tok['acme:read']!, '{ deadLetters { edges { node { rawExcerpt } } } }');
    expect(read.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const admin = await t.gql(tok['acme:admin']!, '{ deadLetters(first: 100) { edges { node { rawExcerpt } } } }');
    record('dead letters', admin);
    expect(admin.errors).toBeUndefined();
  });

  it('ingest: an acme token cannot write globex events', async () => {
    const res = await t.post(tok['acme:ingest']!, JSON.stringify([ev('globex', 500, { amount: '1', currency: 'GBP', userId: 'x' })]));
    expect(res.json).toMatchObject({ accepted: 0, rejected: [{ index: 0, reason: 'tenant_mismatch' }] });
    const res2 = await fetch(`${t.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tok['acme:ingest']}`, 'x-tenant-id': 'globex' },
      body: JSON.stringify([ev('acme', 501)]),
    });
    expect(res2.status).toBe(202);
    await t.app.aggregator.flush();
    const globex = await t.gql<{ s: { total: string } }>(tok['globex:read']!, `{ s: series(input: { metric: PURCHASES, ${RANGE}, granularity: DAY }) { total } }`);
    expect(globex.data!.s.total).toBe('20'); // unchanged
  });

  it('subscriptions: acme sees no globex window, whatever the connection params say', async () => {
    const got: unknown[] = [];
    const client = createClient({
      url: `${t.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tok['acme:read']}`, tenantId: 'globex', 'x-tenant-id': 'globex' },
    });
    let connected = false;
    client.on('connected', () => (connected = true));
    const off = client.subscribe({ query: 'subscription { windows { metric currency value traceIds } }' }, { next: (m) => void got.push(m), error: () => undefined, complete: () => undefined });
    await waitFor(() => connected, { what: 'websocket connected' });
    now += 60_000;
    await t.post(tok['globex:ingest']!, JSON.stringify([ev('globex', 700), ev('globex', 701)]));
    await t.post(tok['acme:ingest']!, JSON.stringify([ev('acme', 700)]));
    await t.app.aggregator.flush();
    await waitFor(() => got.length > 0, { what: 'acme’s own update' });
    off();
    await client.dispose();
    record('subscription', got);
    expect(JSON.stringify(got)).toMatch(/USD/);

    // A forged token cannot open a socket at all.
    const [h, p, s] = tok['acme:read']!.split('.') as [string, string, string];
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), tenant: 'globex' })).toString('base64url')}.${s}`;
    const code = await new Promise<number>((resolve) => {
      const c = createClient({
        url: `${t.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${forged}` },
        retryAttempts: 0,
        on: { closed: (e) => resolve((e as { code: number }).code) },
      });
      c.subscribe({ query: 'subscription { windows { value } }' }, { next: (m) => record('forged subscription', m), error: () => undefined, complete: () => undefined });
    });
    expect(code).toBe(4403);
  });

  it('found 0 leaks', () => {
    expect(leaks).toBe(0);
  });
});
