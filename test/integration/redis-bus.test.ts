/**
 * The Redis update bus against a real Redis: tenant isolation, validation on receipt,
 * one SUBSCRIBE per tenant channel, and what happens around an outage. Outages are
 * made with a TCP proxy in front of Redis, so the shared Redis itself stays up
 * (test/integration/fanout-replicas.test.ts restarts a private one).
 */
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { WindowUpdate } from '../../src/contracts/window.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { BusGap, UpdateBus } from '../../src/realtime/bus.ts';
import { createBusMetrics } from '../../src/realtime/metrics.ts';
import { createRedisBus } from '../../src/realtime/redis-bus.ts';
import { testRedisUrl } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS_URL = testRedisUrl();
const RUN = randomUUID().slice(0, 8);
const logger = createLogger('silent');
const admin = new Redis(REDIS_URL);
const closers: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  admin.disconnect();
});

function bus(prefix: string, url = REDIS_URL) {
  const registry = new Registry();
  const b = createRedisBus({ redisUrl: url, channelPrefix: prefix, logger, metrics: createBusMetrics(registry) });
  closers.push(() => b.close());
  const count = async (name: string, labels: Record<string, string>) => {
    const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
  };
  return { bus: b, count };
}

let windowSeq = 0;
function update(tenantId: string, o: Partial<WindowUpdate> = {}): WindowUpdate {
  const windowStart = Date.UTC(2026, 0, 1) + 60_000 * ++windowSeq;
  return {
    tenantId, currency: 'USD', windowStart, windowEnd: windowStart + 60_000, revision: 1, final: false, kind: 'partial',
    revenue: '12.5', purchases: 1, signups: 0, upgrades: 0, churns: 0, activeUsers: 1, lastEventAt: windowStart + 5, traceSample: [], ...o,
  };
}

const numsub = async (channel: string) => Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);

function collect<T>() {
  const items: T[] = [];
  return { items, push: (x: T) => void items.push(x) };
}

/** A TCP proxy in front of Redis that can cut every connection and refuse new ones. */
async function redisProxy(): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('redis bus', () => {
  it('delivers each tenant’s updates to its handlers only, validates on receipt, and SUBSCRIBEs once per tenant (no pattern subscription)', async () => {
    const prefix = `t-bus-${RUN}-a`;
    const publisher = bus(prefix).bus;
    const { bus: receiver, count } = bus(prefix);
    const [acme1, acme2, globex] = [collect<WindowUpdate>(), collect<WindowUpdate>(), collect<WindowUpdate>()];
    // onActive: once Redis confirmed the SUBSCRIBE; at once for a tenant already subscribed.
    const active: string[] = [];
    const offAcme1 = receiver.subscribeWindows('acme', acme1.push, () => active.push('acme1'));
    receiver.subscribeWindows('globex', globex.push, () => active.push('globex'));
    await waitFor(() => active.length === 2, { what: 'both subscriptions active' });
    // Two local handlers, one Redis subscription; the second handler of a subscribed tenant is active at once.
    const offAcme2 = receiver.subscribeWindows('acme', acme2.push, () => active.push('acme2'));
    expect(active.sort()).toEqual(['acme1', 'acme2', 'globex']);
    expect([await numsub(`${prefix}:windows:acme`), await numsub(`${prefix}:windows:globex`)]).toEqual([1, 1]);
    // No pattern subscription on the receiver's subscriber connection (CLIENT LIST `psub`).
    const subscriber = String(await admin.client('LIST')).split('\n').find((l) => l.includes(` name=tilecast-sub:${prefix} `));
    expect(subscriber).toMatch(/ psub=0 /);
    const raw = (tenant: string, body: string) => admin.publish(`${prefix}:windows:${tenant}`, body);
    await raw('acme', 'not json');
    await raw('acme', JSON.stringify({ type: 'windows', updates: 'nope' }));
    // A valid update of another tenant on acme's channel must not reach acme's handlers.
    await raw('acme', JSON.stringify({ type: 'windows', updates: [update('globex'), { ...update('acme'), revenue: 12.5 }] }));
    const sent = [update('acme', { revision: 1 }), update('globex'), update('acme', { revision: 2, kind: 'final', final: true })];
    await publisher.publishWindows(sent);

    await waitFor(() => acme1.items.length === 2 && globex.items.length === 1, { what: 'deliveries' });
    // Per tenant in publish order; tenants are separate channels, so no order across them.
    expect(acme1.items).toEqual([sent[0], sent[2]]);
    expect(acme2.items).toEqual(acme1.items);
    expect(globex.items).toEqual([sent[1]]);
    expect(await count('tilecast_bus_messages_received_total', { channel: 'windows', outcome: 'ok' })).toBe(3);
    // not-json, bad envelope, wrong-tenant item, non-string revenue (the first two once, the last two per item).
    expect(await count('tilecast_bus_messages_received_total', { channel: 'windows', outcome: 'invalid' })).toBe(4);

    offAcme1();
    expect(await numsub(`${prefix}:windows:acme`)).toBe(1);
    offAcme2();
    await waitFor(async () => (await numsub(`${prefix}:windows:acme`)) === 0, { what: 'unsubscribe after the last handler' });
  });

  it('signals lost → restored around a subscriber outage, and ioredis resubscribes by itself', async () => {
    const prefix = `t-bus-${RUN}-b`;
    const proxy = await redisProxy();
    closers.push(() => proxy.close());
    const publisher = bus(prefix).bus;
    const receiver = bus(prefix, proxy.url).bus;
    const got = collect<WindowUpdate>();
    const gaps = collect<BusGap>();
    receiver.subscribeGaps(gaps.push);
    receiver.subscribeWindows('acme', got.push);
    const progress = collect<unknown>();
    receiver.subscribeProgress(progress.push);
    await waitFor(async () => (await numsub(`${prefix}:windows:acme`)) === 1);

    proxy.cut();
    await waitFor(() => gaps.items.some((g) => g.kind === 'lost'), { what: 'lost' });
    await waitFor(async () => (await numsub(`${prefix}:windows:acme`)) === 0);
    await publisher.publishWindows([update('acme')]); // nobody listening: lost for good
    // Subscribed while down: active only once the reconnect's SUBSCRIBE is confirmed.
    let initechActive = false;
    receiver.subscribeWindows('initech', () => undefined, () => (initechActive = true));
    proxy.restore();
    const restoredBy = Date.now() + 5_000;
    await waitFor(() => gaps.items.some((g) => g.kind === 'restored'), { what: 'restored', timeoutMs: 5_000 });
    expect(Date.now()).toBeLessThan(restoredBy);
    expect(gaps.items.map((g) => g.kind)).toEqual(['lost', 'restored']);
    await waitFor(() => initechActive, { what: 'initech active' });
    expect(await numsub(`${prefix}:windows:initech`)).toBe(1);

    // Resubscribed without any call from the bus (autoResubscribe): the next update arrives.
    expect(await numsub(`${prefix}:windows:acme`)).toBe(1);
    const after = update('acme', { revision: 7 });
    await publisher.publishWindows([after]);
    await publisher.publishProgress({ source: 'test', processedThrough: 1, watermark: 0 });
    await waitFor(() => got.items.length === 1 && progress.items.length === 1, { what: 'delivery after restore' });
    expect(got.items).toEqual([after]);
  });

  it('a publisher that could not publish tells every subscriber of the tenant when Redis is back', async () => {
    const prefix = `t-bus-${RUN}-c`;
    const proxy = await redisProxy();
    closers.push(() => proxy.close());
    const { bus: publisher, count } = bus(prefix, proxy.url);
    const receiver: UpdateBus = bus(prefix).bus;
    const gaps = collect<BusGap>();
    receiver.subscribeGaps(gaps.push);
    receiver.subscribeWindows('acme', () => undefined);
    await waitFor(async () => (await numsub(`${prefix}:windows:acme`)) === 1);
    await waitFor(async () => {
      await publisher.publishProgress({ source: 'test', processedThrough: 1_000, watermark: 0 });
      return (await count('tilecast_bus_messages_published_total', { channel: 'progress', outcome: 'ok' })) > 0;
    });

    proxy.cut();
    // Publishing while down returns at once (no waiting for a reconnect) and marks the tenant.
    await waitFor(async () => {
      const started = Date.now();
      await publisher.publishWindows([update('acme'), update('globex')]);
      expect(Date.now() - started).toBeLessThan(2_500);
      const notSent = (await count('tilecast_bus_messages_published_total', { outcome: 'dropped_disconnected' })) + (await count('tilecast_bus_messages_published_total', { outcome: 'failed' }));
      return notSent > 0;
    });
    proxy.restore();
    await waitFor(() => gaps.items.length > 0, { what: 'dropped marker' });
    expect(gaps.items).toEqual([{ kind: 'dropped', tenantId: 'acme', since: 1_000 }]);
  });
});
