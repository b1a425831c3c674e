/**
 * /readyz with REDIS_URL: the Redis dependency is reported, turns not-ready (503, with
 * how long ago) while the bus's subscriber connection is down, and ready again once it
 * is back. Redis itself stays up: a TCP proxy in front of it cuts the connections.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { testRedisUrl } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS = new URL(testRedisUrl());
const sockets = new Set<Socket>();
let down = false;
const proxy: Server = createServer((client) => {
  if (down) return void client.destroy();
  const upstream = connect(Number(REDIS.port || 6379), REDIS.hostname);
  for (const s of [client, upstream]) {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  }
  client.pipe(upstream).pipe(client);
});
let t: TestApp;

beforeAll(async () => {
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const { port } = proxy.address() as { port: number };
  t = await startTestApp({ label: 'ops-readiness', env: { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CHANNEL_PREFIX: `ops-ready-${process.pid}` } });
});
afterAll(async () => {
  down = false;
  await t?.app.stop();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => proxy.close(() => r()));
});

const readyz = async () => {
  const res = await fetch(`${t.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> } };
};

describe('/readyz with Redis', () => {
  it('reports the bus connection, down while it is lost and up once it is restored', async () => {
    const up = await waitFor(async () => ((await readyz()).status === 200 ? readyz() : null), { timeoutMs: 60_000, what: 'ready' });
    // The bus's subscriber is up once progress makes the round trip through Redis (the
    // aggregator publishes it, the freshness tracker hears it): only then can it be lost.
    await waitFor(async () => {
      const age = /^tilecast_freshness_age_seconds (\S+)$/m.exec(await (await fetch(`${t.url}/metrics`)).text())?.[1];
      return age !== undefined && Number(age) < 5;
    }, { timeoutMs: 60_000, what: 'progress through Redis' });
    expect(up.body.checks.redis).toEqual({ ok: true, detail: 'subscribed' });

    down = true;
    for (const s of sockets) s.destroy();
    const lost = await waitFor(async () => {
      const r = await readyz();
      return r.status === 503 ? r : null;
    }, { timeoutMs: 30_000, what: 'not ready while Redis is unreachable' });
    expect(lost.body.ready).toBe(false);
    expect(lost.body.checks.redis?.ok).toBe(false);
    expect(lost.body.checks.redis?.detail).toMatch(/^subscriber connection lost \d+ s ago$/);
    expect(lost.body.checks.clickhouse?.ok).toBe(true);

    down = false;
    const back = await waitFor(async () => {
      const r = await readyz();
      return r.status === 200 ? r : null;
    }, { timeoutMs: 30_000, what: 'ready again after Redis is back' });
    expect(back.body.checks.redis).toEqual({ ok: true, detail: 'subscribed' });
  });
});
