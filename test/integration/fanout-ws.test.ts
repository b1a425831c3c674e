/**
 * The websocket edge of subscriptions on a real embedded app (chdb, in-process bus,
 * real graphql-ws sockets): auth on connection_init, the connection limit, the
 * per-tenant cap, freshness heartbeats, and a socket that stops reading being dropped
 * once its unsent bytes pass WS_MAX_BUFFERED_BYTES (ws `bufferedAmount`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

const MINUTE = 60_000;
const MAX_CONNECTIONS = 3;
const TENANT_CAP = 60;
let t: TestApp;
const open: WebSocket[] = [];

beforeAll(async () => {
  t = await startTestApp({
    label: 'fanout-ws',
    env: {
      MAX_WS_CONNECTIONS: String(MAX_CONNECTIONS),
      MAX_SUBSCRIPTIONS_PER_TENANT: String(TENANT_CAP),
      WS_MAX_BUFFERED_BYTES: String(64 * 1024),
      HEARTBEAT_INTERVAL_MS: '200',
      FLUSH_INTERVAL_MS: '100',
      ALLOWED_LATENESS_MS: String(24 * 60 * MINUTE),
    },
  });
}, 120_000);

afterAll(async () => {
  for (const ws of open) ws.terminate();
  await t?.app.stop();
});

type Frame = { type: string; id?: string; payload?: unknown };

/** A raw graphql-transport-ws connection (the protocol graphql-ws speaks), recording frames and the close code. */
async function connect(token: string | null): Promise<{ ws: WebSocket; tcp: () => Socket; frames: Frame[]; closed: () => number | null; subscribe(id: string, query: string): void }> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  open.push(ws);
  const frames: Frame[] = [];
  let closeCode: number | null = null;
  // The TCP socket under the websocket: the upgrade response's (ws keeps the same one privately).
  let tcp: Socket | null = null;
  ws.on('upgrade', (res) => (tcp = res.socket));
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
  ws.on('close', (code) => (closeCode = code));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
  await waitFor(() => frames.some((f) => f.type === 'connection_ack') || closeCode !== null, { what: 'ack or close' });
  return {
    ws,
    tcp: () => tcp!,
    frames,
    closed: () => closeCode,
    subscribe: (id, query) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } })),
  };
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const closeAll = async () => {
  for (const ws of open.splice(0)) ws.terminate();
  await waitFor(async () => (await metric('tilecast_active_subscriptions')) === 0, { what: 'subscriptions closed' });
};

describe('subscriptions over websockets', () => {
  it('needs a valid token on connection_init (4403 otherwise)', async () => {
    const none = await connect(null);
    const bad = await connect('not-a-token');
    await waitFor(() => none.closed() !== null && bad.closed() !== null);
    expect([none.closed(), bad.closed()]).toEqual([4403, 4403]);
    await closeAll();
  });

  it('refuses connections over MAX_WS_CONNECTIONS with 1013 (try again later)', async () => {
    const token = await t.token('conn-limit', 'read');
    const ok = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect(token)));
    expect(ok.every((c) => c.frames.some((f) => f.type === 'connection_ack'))).toBe(true);
    const refused = await connect(token);
    await waitFor(() => refused.closed() !== null);
    expect(refused.closed()).toBe(1013);
    await closeAll();
  });

  it('refuses the subscription past MAX_SUBSCRIPTIONS_PER_TENANT with TOO_MANY_SUBSCRIPTIONS; other tenants are unaffected', async () => {
    const c = await connect(await t.token('capped', 'read'));
    for (let i = 0; i < TENANT_CAP; i++) c.subscribe(`s${i}`, 'subscription { windows { value } }');
    await waitFor(async () => (await metric('tilecast_active_subscriptions')) === TENANT_CAP);
    c.subscribe('one-too-many', 'subscription { freshness { isStale } }');
    // graphql-ws sends a failed subscribe as a `next` with errors, then `complete`; the socket stays open.
    const refused = await waitFor(() => c.frames.find((f) => f.id === 'one-too-many' && f.type === 'next'));
    expect((refused.payload as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    await waitFor(() => c.frames.some((f) => f.id === 'one-too-many' && f.type === 'complete'));
    expect(c.closed()).toBe(null);
    const other = await connect(await t.token('not-capped', 'read'));
    other.subscribe('f', 'subscription { freshness { isStale } }');
    await waitFor(() => other.frames.some((f) => f.id === 'f' && f.type === 'next'));
    await closeAll();
  });

  it('heartbeats: the freshness subscription says "live, nothing new" every HEARTBEAT_INTERVAL_MS while the aggregator runs', async () => {
    const c = await connect(await t.token('idle-tenant', 'read'));
    c.subscribe('f', 'subscription { freshness { isStale ageMs dataAsOf } }');
    const beats = () => c.frames.filter((f) => f.id === 'f' && f.type === 'next').map((f) => (f.payload as { data: { freshness: { isStale: boolean; dataAsOf: string } } }).data.freshness);
    await waitFor(() => beats().length >= 4, { timeoutMs: 5_000 });
    expect(beats().every((b) => !b.isStale)).toBe(true);
    // dataAsOf advances for a tenant without any event (progress ticks drive it).
    expect(Date.parse(beats().at(-1)!.dataAsOf)).toBeGreaterThan(Date.parse(beats()[0]!.dataAsOf));
    await closeAll();
  });

  it('drops a socket that stops reading once its unsent bytes pass WS_MAX_BUFFERED_BYTES; a reading socket keeps getting everything', async () => {
    const tenant = `slow-${randomUUID().slice(0, 6)}`;
    const token = await t.token(tenant);
    const query = 'subscription { windows { metric currency windowStart windowEnd value final revision kind traceIds replayed freshness { dataAsOf lastEventAt ageMs isStale } } }';
    const slow = await connect(token);
    const reader = await connect(token);
    for (let i = 0; i < 50; i++) slow.subscribe(`s${i}`, query);
    reader.subscribe('r', query);
    await waitFor(async () => (await metric('tilecast_active_subscriptions')) === 51);
    slow.tcp().pause(); // the client stops reading: TCP buffers fill, then ws buffers

    // 200 windows × 6 metrics: 1,200 frames for the reader, 60,000 (~30 MB) for the stalled socket.
    const from = Math.floor(Date.now() / MINUTE) * MINUTE - 300 * MINUTE;
    const events = Array.from({ length: 200 }, (_, i) => ({
      eventId: randomUUID(), eventType: 'signup', userId: `u${i}`, tenantId: tenant, currency: 'USD',
      traceId: randomBytes(16).toString('hex'), timestamp: from + i * MINUTE,
    }));
    expect((await t.post(token, JSON.stringify(events))).status).toBe(202);

    await waitFor(async () => (await metric('tilecast_slow_consumers_dropped_total', '{mode="shared"}')) >= 1, { timeoutMs: 20_000, what: 'slow consumer dropped' });
    await waitFor(async () => (await metric('tilecast_active_subscriptions')) === 1, { what: 'its 50 subscriptions closed' });
    await waitFor(() => reader.frames.filter((f) => f.id === 'r' && f.type === 'next').length === events.length * 6, { what: 'reader got every frame' });
    slow.tcp().resume();
    await waitFor(() => slow.closed() !== null, { what: 'client sees the close' });
    expect(reader.closed()).toBe(null);
    await closeAll();
  });
});
