/** Issue 5: request rate per tenant — the in-process token bucket (no REDIS_URL; own file: its own app and limits). Across replicas: api-rate-replicas.test.ts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';

let limited: TestApp;
const query = (q: string) => JSON.stringify({ query: q });

beforeAll(async () => {
  // A frozen clock: no refill during the test, so the count is exact.
  limited = await startTestApp({ label: 'rate', env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '5' }, clock: () => 0 });
});
afterAll(async () => {
  // The storage was closed on purpose by the last test; stopping may complain about it.
  await limited?.app.stop().catch(() => undefined);
});

describe('rate per tenant', () => {
  it('answers 429 with Retry-After past the burst, and other tenants are unaffected', async () => {
      const a = await limited.token('a', 'read');
      const b = await limited.token('b', 'read');
      const hit = (tok: string) => fetch(`${limited.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tok}` }, body: query('{ __typename }') });
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await hit(a)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const refused = await hit(a);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.text()).toMatch(/Too many requests for this tenant/);
      expect((await hit(b)).status).toBe(200);
  });

  it('masks unexpected errors: no internals reach the client', async () => {
    const c = await limited.token('c', 'read');
    await limited.app.db.close(); // every ClickHouse call fails from here on
    const res = await fetch(`${limited.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${c}` },
      body: query('{ series(input: { metric: PURCHASES, from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: HOUR }) { total } }'),
    });
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    expect(text).not.toMatch(/ClickHouse|chdb|series\.read|SELECT/i);
  });
});
