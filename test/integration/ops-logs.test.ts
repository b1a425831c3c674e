/**
 * Logs at info level are structured JSON with the request id and tenant, and carry
 * neither the bearer token nor anything of the payload (event fields, a rejected item's
 * raw text), whatever happens to the request.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { freshDataDir } from '../helpers/app.ts';

const TENANT = 'opslogs';
const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
let app: App;
let url: string;

beforeAll(async () => {
  const config = loadConfig({ DATA_DIR: freshDataDir('ops-logs'), PORT: '0', LOG_LEVEL: 'info', FLUSH_INTERVAL_MS: '100' });
  app = await createApp({ config, logger: createLogger('info', sink) });
  ({ url } = await app.start());
});
afterAll(async () => {
  await app?.stop();
});

describe('logs', () => {
  it('name the request and tenant, and never hold the token or the payload', async () => {
    const token = await app.tokens.mint({ tenantId: TENANT, scope: 'admin', ttlSeconds: 600 });
    const marker = 'payload-marker-7f3a';
    const good = { eventType: 'purchase', userId: `user-${marker}`, tenantId: TENANT, amount: '4321.987654', currency: 'CHF', traceId: 'abcdef0123456789abcdef0123456789', timestamp: Date.now() - 60_000 };
    const bad = { ...good, userId: `bad-${marker}`, currency: 'chf' };
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'ops-logs-ingest' };
    const res = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify([good, bad]) });
    expect(res.status).toBe(202);
    const notJson = await fetch(`${url}/v1/events`, { method: 'POST', headers: { ...headers, 'x-request-id': 'ops-logs-broken' }, body: `{"broken": "${marker}"` });
    expect(notJson.status).toBe(400);
    const gql = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { ...headers, 'x-request-id': 'ops-logs-graphql' },
      body: JSON.stringify({ query: `query Logs { series(input: { metric: REVENUE, currency: "CHF", from: "2020-01-01T00:00:00Z", to: "2020-01-02T00:00:00Z", granularity: DAY }) { total } }` }),
    });
    expect(gql.status).toBe(200);
    const unauthorized = await fetch(`${url}/v1/events`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}x`, 'x-request-id': 'ops-logs-401' }, body: JSON.stringify([good]) });
    expect(unauthorized.status).toBe(401);
    await app.aggregator.flush();

    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[2]!); // not even the signature
    expect(all).not.toContain(marker);
    expect(all).not.toContain('4321.987654');

    const request = (id: string) => records.find((r) => r.msg === 'request' && r.requestId === id);
    expect(request('ops-logs-ingest')).toMatchObject({ level: 30, tenant: TENANT, method: 'POST', path: '/v1/events', status: 202 });
    expect(request('ops-logs-broken')).toMatchObject({ tenant: TENANT, status: 400 });
    expect(request('ops-logs-graphql')).toMatchObject({ tenant: TENANT, path: '/graphql', operations: ['query Logs'], status: 200 });
    expect(request('ops-logs-401')).toMatchObject({ status: 401 });
    expect(request('ops-logs-401')!.tenant).toBeUndefined();
    for (const r of records) expect(typeof r.time === 'number' && typeof r.level === 'number' && r.service === 'tilecast').toBe(true);
  });

  it('redacts secret- and payload-shaped fields wherever code logs them', () => {
    const captured: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c: Buffer, _e, done) => void (captured.push(c.toString()), done()) }));
    logger.info({ authorization: 'Bearer abc', token: 't0k', req: { headers: { authorization: 'Bearer def' } }, body: '{"amount":1}', raw: 'raw-line', item: { raw: 'nested-raw', password: 'pw' } }, 'x');
    expect(captured.join('')).not.toMatch(/abc|def|t0k|amount|raw-line|nested-raw|"pw"/);
  });
});
