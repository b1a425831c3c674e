/**
 * Issue 5, done-when 2: abusive requests — depth 50, 10,000 aliases, huge bodies, deep and
 * exploding fragments, floods — get clear errors while the server keeps answering normal
 * queries. Also: 401 before any parsing, introspection and GraphiQL (HTTP methods and CORS:
 * api-clients.test.ts).
 */
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp;
let token: string;
const NORMAL = '{ freshness { isStale } s: series(input: { metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: HOUR }) { total } }';

/** A refused document: a GraphQL error with the message, no data (yoga answers 200 to plain-JSON clients, 400 to graphql-response+json ones). */
const refused = (r: { status: number; text: string }, message: RegExp) => {
  expect([200, 400]).toContain(r.status);
  const body = JSON.parse(r.text) as { data?: unknown; errors: { message: string }[] };
  expect(body.data ?? null).toBeNull();
  expect(body.errors.map((e) => e.message).join('\n')).toMatch(message);
};

async function send(body: string, o: { token?: string | null; headers?: Record<string, string>; method?: string; path?: string } = {}) {
  const started = performance.now();
  const res = await fetch(`${t.url}${o.path ?? '/graphql'}`, {
    method: o.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...(o.token === null ? {} : { authorization: `Bearer ${o.token ?? token}` }), ...o.headers },
    body: o.method === 'GET' ? undefined : body,
  });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - started, headers: res.headers };
}
const query = (q: string) => JSON.stringify({ query: q });
const normalWorks = async () => {
  const r = await send(query(NORMAL));
  expect(r.status).toBe(200);
  expect(JSON.parse(r.text)).toEqual({ data: { freshness: { isStale: expect.any(Boolean) }, s: { total: '0' } } });
  return r.ms;
};

beforeAll(async () => {
  t = await startTestApp({ label: 'abuse', env: { RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000', GRAPHQL_MAX_BODY_BYTES: '262144' } });
  token = await t.token('acme', 'read');
});
afterAll(() => t?.app.stop());

describe('abusive documents get clear errors', () => {
  it('depth 50', async () => {
    // The schema is not recursive, so depth comes from nesting a field in itself.
    const deep = `{ ${'series(input: {metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: DAY}) { comparison { points { '.repeat(17)} start ${'} } }'.repeat(17)} }`;
    // Whichever of the depth and cost limits is checked first names itself.
    refused(await send(query(deep)), /Query depth limit of 10 exceeded, found 5\d|Query Cost limit of 20000 exceeded/);
  });

  it('introspection: __schema is exempt from depth and cost, __type is not, circular introspection is refused by graphql-js', async () => {
    // GraphiQL's introspection query nests its fragments far deeper than 10 under __schema.
    const full = JSON.parse((await send(JSON.stringify({ query: getIntrospectionQuery() }))).text) as { data?: { __schema: { types: unknown[] } }; errors?: unknown };
    expect(full.errors).toBeUndefined();
    expect(full.data?.__schema.types.length).toBeGreaterThan(20);
    // __type counts like any field: 11 levels.
    const typeRef = `{ __type(name: "Query") { fields { type { ${'ofType { '.repeat(7)}name${' }'.repeat(7)} } } } }`;
    refused(await send(query(typeRef)), /Query depth limit of 10 exceeded, found 11/);
    // Lists of types inside types (fields → type → fields …) three deep: graphql-js's MaxIntrospectionDepthRule.
    refused(await send(query('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }')), /Maximum introspection depth exceeded/);
    refused(await send(query('{ __type(name: "Query") { fields { type { fields { type { fields { name } } } } } } }')), /Maximum introspection depth exceeded/);
  });

  it('10,000 aliases', async () => {
    refused(await send(query(`{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`)), /Token limit of 10000 exceeded/);
    // Under the token limit, the alias limit speaks.
    refused(await send(query(`{ ${Array.from({ length: 500 }, (_, i) => `a${i}: freshness { ageMs }`).join(' ')} }`)), /Aliases limit of 120 exceeded, found 500/);
  });

  it('more series than a request may ask for', async () => {
    const fields = Array.from({ length: 30 }, (_, i) => `s${i}: series(input: { metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: HOUR, compareTo: PREVIOUS_PERIOD }) { total }`);
    const r = JSON.parse((await send(query(`{ ${fields.join('\n')} }`))).text) as { errors: { message: string }[] };
    expect(r.errors[0]!.message).toMatch(/more than 50 series .* split it into several requests/);
  });

  it('a huge body', async () => {
    const r = await send(query(`{ __typename } #${'x'.repeat(2_000_000)}`));
    expect(r.status).toBe(413);
    expect(r.text).toMatch(/Request body too large/);
  });

  it('deep fragment chains and exploding fragments', async () => {
    // 60 fragments each spreading the next: every spread counts as a level of depth.
    const chain = Array.from({ length: 60 }, (_, i) => `fragment F${i} on Series { comparison { points { value } } ${i < 59 ? `...F${i + 1}` : ''} }`).join('\n');
    const r1 = await send(query(`{ series(input: { metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: DAY }) { ...F0 } }\n${chain}`));
    refused(r1, /Query depth limit of 10 exceeded/);
    // Each fragment spreads the next twice: 2^40 fields if expanded.
    const bomb = Array.from({ length: 40 }, (_, i) => `fragment B${i} on Query { ${i < 39 ? `...B${i + 1} ...B${i + 1}` : 'freshness { ageMs }'} }`).join('\n');
    const r2 = await send(query(`{ ...B0 }\n${bomb}`));
    expect(r2.ms).toBeLessThan(5_000);
    refused(r2, /Query Cost limit of 20000 exceeded/);
    // A cycle is refused by GraphQL validation itself.
    refused(await send(query('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }')), /Cannot spread fragment "A" within itself/);
  });

  it('keeps answering normal queries while abuse goes on', async () => {
    const abuse = Array.from({ length: 20 }, (_, i) =>
      i % 2 ? send(query(`{ ${Array.from({ length: 10_000 }, (_, k) => `a${k}: __typename`).join(' ')} }`)) : send(query(`{ __typename } #${'x'.repeat(1_000_000)}`)),
    );
    const normal = Array.from({ length: 10 }, () => normalWorks());
    const [abused, times] = await Promise.all([Promise.all(abuse), Promise.all(normal)]);
    expect(abused.map((r) => (r.status === 413 ? 'too large' : /Token limit/.test(r.text) ? 'token limit' : r.text.slice(0, 80)))).toEqual(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? 'token limit' : 'too large')),
    );
    expect(Math.max(...times)).toBeLessThan(5_000);
    await normalWorks();
  });
});

describe('HTTP edges', () => {
  it('401 without a token, before looking at the document', async () => {
    const r = await send(`{ "query": "{ ${'x'.repeat(10)}` /* not even JSON */, { token: null });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(r.text)).toEqual({ errors: [{ message: expect.stringMatching(/Missing bearer token/), extensions: { code: 'UNAUTHENTICATED' } }] });
    const intro = await send(query('{ __schema { types { name } } }'), { token: null });
    expect(intro.status).toBe(401);
  });

  it('accepts time zones in any case and answers with the canonical name', async () => {
    const r = JSON.parse((await send(query('{ s: series(input: { metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: DAY, timeZone: "europe/berlin" }) { timeZone total } }'))).text);
    expect(r).toEqual({ data: { s: { timeZone: 'Europe/Berlin', total: '0' } } });
  });

  it('introspection and GraphiQL for analysts', async () => {
    const intro = JSON.parse((await send(query('{ __schema { queryType { fields { name } } } }'))).text) as { data: { __schema: { queryType: { fields: { name: string }[] } } } };
    expect(intro.data.__schema.queryType.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['series', 'derivedSeries', 'breakdown', 'metrics', 'deadLetters']));
    // The page itself is static and needs no token: the analyst pastes theirs into the headers tab.
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('GraphiQL');
    // Offline: every script and style is inline (no CDN); the websocket client and the fetcher that gives subscriptions the token are in it.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+rel="stylesheet"/);
    expect(html).toContain('window.tilecastGraphiQLFetcher');
  });
});
