/**
 * Issue 16 item 6: with REDIS_URL the per-tenant rate holds across API replicas — two
 * replicas admit a tenant's burst once, not twice — and websocket subscribe messages take
 * from the same bucket as HTTP requests. While Redis is down each replica falls back to
 * its own bucket (the limit holds per replica, requests are still answered), counted in
 * tilecast_rate_limit_decisions_total{store="local"}; once Redis is back it decides again.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp, type App } from '../../src/app/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { freshDataDir } from '../helpers/app.ts';
import { parseScrape } from '../helpers/prom.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { startChdbServer, type ChdbServer } from './kafka-harness.ts';

const BURST = 6;
const RUN = `rate${process.pid}`;
let redis: RedisServer;
let chdb: ChdbServer;
const replicas: { app: App; url: string }[] = [];
const wsClients: Client[] = [];

beforeAll(async () => {
  redis = await startRedisServer({ label: 'rate' });
  chdb = await startChdbServer();
  // A refill of one token per 1,000 s: nothing refills during the test, so counts are exact.
  // Replicas share the secret that signs tokens, as they would in a deployment.
  const env = { AUTH_SECRET: `rate-test-secret-${'x'.repeat(32)}`, CLICKHOUSE_URL: chdb.url, REDIS_URL: redis.url, REDIS_CHANNEL_PREFIX: RUN, RATE_LIMIT_PER_SECOND: '0.001', RATE_LIMIT_BURST: String(BURST), PORT: '0', LOG_LEVEL: 'silent' };
  for (const name of ['a', 'b']) {
    const app = await createApp({ config: loadConfig({ ...env, DATA_DIR: freshDataDir(`rate-${name}`) }) });
    replicas.push({ app, url: (await app.start()).url });
  }
}, 180_000);

afterAll(async () => {
  for (const c of wsClients) await c.dispose();
  for (const r of replicas) await r.app.stop();
  await chdb?.stop();
  await redis?.close();
});

const token = (tenantId: string) => replicas[0]!.app.tokens.mint({ tenantId, scope: 'read', ttlSeconds: 3600 });
const hit = async (replica: number, tok: string) =>
  (await fetch(`${replicas[replica]!.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tok}` }, body: JSON.stringify({ query: '{ __typename }' }) })).status;
const decisions = async (replica: number) => {
  const scrape = parseScrape(await (await fetch(`${replicas[replica]!.url}/metrics`)).text());
  const n = (store: string) => scrape.value('tilecast_rate_limit_decisions_total', { store }) ?? 0;
  return { redis: n('redis'), local: n('local') };
};

describe('rate limits across replicas (REDIS_URL)', () => {
  it("two replicas admit one tenant's burst once; other tenants keep theirs", async () => {
    const t = await token('shared');
    const statuses: number[] = [];
    for (let i = 0; i < 2 * BURST; i++) statuses.push(await hit(i % 2, t));
    expect(statuses.filter((s) => s === 200)).toHaveLength(BURST);
    expect(statuses.slice(BURST)).toEqual(Array(BURST).fill(429));
    expect(await hit(1, await token('other'))).toBe(200);
  });

  it('websocket subscribe messages take from the same bucket as HTTP requests', async () => {
    const t = await token('ws');
    for (let i = 0; i < BURST - 2; i++) expect(await hit(0, t)).toBe(200);
    const c = createClient({ url: `${replicas[1]!.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${t}` }, retryAttempts: 0 });
    wsClients.push(c);
    const attempt = async () => {
      const it = c.iterate<{ freshness: { isStale: boolean } }>({ query: 'subscription { freshness { isStale } }' });
      try {
        const first = await it.next();
        return first.value?.errors ? `error: ${(first.value.errors as { message: string }[])[0]!.message}` : 'subscribed';
      } catch (err) {
        return `error: ${Array.isArray(err) ? (err as { message: string }[])[0]?.message : JSON.stringify(err)}`;
      } finally {
        await it.return?.();
      }
    };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await attempt());
    expect(results.slice(0, 2)).toEqual(['subscribed', 'subscribed']);
    expect(results.slice(2)).toEqual(Array(2).fill(expect.stringMatching(/^error: Too many requests for this tenant/)));
    // The bucket is the one HTTP uses: empty now on both replicas.
    expect(await hit(0, t)).toBe(429);
  });

  it('Redis down: each replica limits on its own (still answering), and Redis decides again once it is back', async () => {
    const before = await decisions(0);
    await redis.stop();
    try {
      const t = await token('outage');
      const statuses: number[] = [];
      for (let i = 0; i < BURST + 2; i++) statuses.push(await hit(0, t));
      // Per replica: this replica's own burst, then 429 — never an error, never unlimited.
      expect(statuses).toEqual([...Array(BURST).fill(200), 429, 429]);
      expect((await decisions(0)).local - before.local).toBe(BURST + 2);
    } finally {
      await redis.start();
    }
    const t = await token('after');
    await waitFor(async () => (await hit(0, t)) === 200 && (await decisions(0)).redis > before.redis, { what: 'Redis deciding again', timeoutMs: 15_000, intervalMs: 200 });
  });
});
