/**
 * 10,000 graphql-ws subscriptions on one API process: delivery latency of bursts of
 * window updates (publish → frame received), RSS per subscription, and event accepted
 * → frame received at light load. Not a test: it prints figures.
 *
 *   node --import tsx bench/subscriptions.ts [--subscriptions 10000] [--per-socket 10]
 *     [--tenants 100] [--bursts 10] [--light 40] [--modes shared,per-subscriber]
 *
 * Per mode (SUBSCRIPTION_FANOUT) one `tilecast start` runs in its own process (embedded
 * ClickHouse, REDIS_URL set, FLUSH_INTERVAL_MS=100). Redis: TILECAST_TEST_REDIS_URL, or a
 * private redis-server for the run. This process plays the clients
 * and the worker:
 * - Clients: dashboards, one websocket each with `--per-socket` tiles (subscriptions),
 *   each tile one metric in USD; tenants get equal shares of the dashboards.
 * - Bursts: as a worker would, this process publishes through the Redis bus one window
 *   update per tenant at the same instant; every subscription gets one frame per
 *   burst. Latency = frame received here − publish call here (same clock), so it
 *   includes Redis, the server's fan-out, the sockets and this process's own parsing.
 * - Baseline in the same run: the same bursts while only 1 subscription is open.
 * - RSS per subscription: the server's RSS after opening them − before, ÷ count.
 * - Light load: one event at a time POSTed to the server; from its 202 to the frame
 *   carrying it, with all subscriptions open (flush interval 100 ms included).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createTokenService } from '../src/auth/tokens.ts';
import { METRICS } from '../src/contracts/metrics.ts';
import type { WindowUpdate } from '../src/contracts/window.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createRedisBus } from '../src/realtime/redis-bus.ts';
import { scratch, startTilecast, subscriberCount as numsub, type Proc } from '../test/integration/fanout-harness.ts';
import { startRedisServer } from '../test/helpers/redis.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { rssOf } from '../test/integration/kafka-harness.ts';

const { values: args } = parseArgs({
  options: {
    subscriptions: { type: 'string', default: '10000' },
    'per-socket': { type: 'string', default: '10' },
    tenants: { type: 'string', default: '100' },
    bursts: { type: 'string', default: '10' },
    light: { type: 'string', default: '40' },
    modes: { type: 'string', default: 'shared,per-subscriber' },
  },
});
const SUBS = Number(args.subscriptions);
const PER_SOCKET = Number(args['per-socket']);
const TENANTS = Number(args.tenants);
const BURSTS = Number(args.bursts);
const LIGHT = Number(args.light);
const MODES = args.modes.split(',') as ('shared' | 'per-subscriber')[];
const SECRET = randomBytes(32).toString('hex');
const privateRedis = process.env.TILECAST_TEST_REDIS_URL ? null : await startRedisServer({ label: 'bench' });
const REDIS_URL = process.env.TILECAST_TEST_REDIS_URL ?? privateRedis!.url;
const subscriberCount = (channel: string) => numsub(REDIS_URL, channel);
const tokens = createTokenService(SECRET);
const QUERY = `subscription Tile($m: [Metric!]) {
  windows(metrics: $m, currency: "USD") { metric value revision windowStart final kind freshness { dataAsOf isStale } }
}`;

type Next = { metric: string; value: string; revision: number; windowStart: string };
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};
/** CPU time (user + system) of a process so far, ms. */
const cpuOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 1/100 s
};
const heapOf = async (url: string) => Number(/^tilecast_nodejs_heap_size_used_bytes (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN);
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A dashboard: one graphql-ws socket of one tenant, calling `onNext` with each window frame and its arrival time. */
async function dashboard(url: string, tenant: string, onNext: (tenant: string, w: Next, at: number) => void) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const acked = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const at = performance.now();
      const f = JSON.parse(String(data)) as { type: string; payload?: { data?: { windows?: Next } } };
      if (f.type === 'connection_ack') resolve();
      else if (f.type === 'next' && f.payload?.data?.windows) onNext(tenant, f.payload.data.windows, at);
      else if (f.type === 'error' || f.payload?.data === null) throw new Error(`subscription failed: ${String(data)}`);
    });
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await tokens.mint({ tenantId: tenant, scope: 'admin', ttlSeconds: 3600 })}` } }));
  await acked;
  let n = 0;
  return {
    subscribe(metric: string) {
      ws.send(JSON.stringify({ id: String(n++), type: 'subscribe', payload: { query: QUERY, variables: { m: [metric] } } }));
    },
    close: () => ws.terminate(),
  };
}

async function activeSubscriptions(url: string): Promise<number> {
  return Number(/^tilecast_active_subscriptions (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
}

interface ModeResult {
  baseline: number[];
  loaded: number[];
  burstSpanMs: number[];
  rssPerSub: number;
  heapPerSub: number;
  light: number[];
  /** CPU ms per burst of the server and of this (client) process. */
  cpuPerBurst: { server: number; client: number };
}

async function runMode(mode: 'shared' | 'per-subscriber'): Promise<ModeResult> {
  const prefix = `bench-subs-${randomUUID().slice(0, 8)}`;
  const tenants = Array.from({ length: TENANTS }, (_, i) => `bench-${i}`);
  const server: Proc = await startTilecast({
    DATA_DIR: scratch('bench-subs'),
    AUTH_SECRET: SECRET,
    REDIS_URL,
    REDIS_CHANNEL_PREFIX: prefix,
    SUBSCRIPTION_FANOUT: mode,
    FLUSH_INTERVAL_MS: '100',
    MAX_WS_CONNECTIONS: String(SUBS + 100),
    MAX_SUBSCRIPTIONS_PER_TENANT: String(SUBS),
    // Subscribe messages take from the tenant's request rate: the bench opens them all at once.
    RATE_LIMIT_PER_SECOND: String(SUBS),
    RATE_LIMIT_BURST: String(SUBS),
  });
  const bus = createRedisBus({ redisUrl: REDIS_URL, channelPrefix: prefix, logger: createLogger('silent') });
  const published = new Map<string, number>();
  let latencies: number[] = [];
  let received = 0;
  let lastAt = 0;
  const onNext = (tenant: string, w: Next, at: number) => {
    const sent = published.get(`${tenant}|${w.revision}`);
    if (sent === undefined) return;
    latencies.push(at - sent);
    received += 1;
    lastAt = at;
  };
  let revision = 0;
  const windowStart = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
  async function burst(expected: number): Promise<number> {
    revision += 1;
    const updates: WindowUpdate[] = tenants.map((tenantId) => ({
      tenantId, currency: 'USD', windowStart, windowEnd: windowStart + 60_000, revision, final: false, kind: 'partial',
      revenue: `${revision}.5`, purchases: revision, signups: revision, upgrades: 0, churns: 0, activeUsers: revision, lastEventAt: windowStart + 1, traceSample: [],
    }));
    const target = received + expected;
    const at = performance.now();
    for (const t of tenants) published.set(`${t}|${revision}`, at);
    await bus.publishWindows(updates);
    await waitFor(() => received >= target, { timeoutMs: 60_000, intervalMs: 5, what: `burst ${revision}: ${received}/${target}` });
    return lastAt - at;
  }

  try {
    // Baseline: the same bursts with one subscription open.
    const single = await dashboard(server.url, tenants[0]!, onNext);
    single.subscribe('REVENUE');
    await waitFor(async () => (await subscriberCount(`${prefix}:windows:${tenants[0]}`)) === 1);
    for (let i = 0; i < 3; i++) await burst(1); // warm-up
    latencies = [];
    for (let i = 0; i < Math.max(BURSTS, 30); i++) await burst(1);
    const baseline = latencies;
    latencies = [];
    single.close();
    await waitFor(async () => (await activeSubscriptions(server.url)) === 0);

    await settle(2_000);
    const rssBefore = await rssOf(server.pid);
    const heapBefore = await heapOf(server.url);
    const sockets = Math.ceil(SUBS / PER_SOCKET);
    const dashboards: Awaited<ReturnType<typeof dashboard>>[] = [];
    for (let i = 0; i < sockets; i += 50) {
      dashboards.push(...(await Promise.all(Array.from({ length: Math.min(50, sockets - i) }, (_, j) => dashboard(server.url, tenants[(i + j) % TENANTS]!, onNext)))));
    }
    let opened = 0;
    for (const d of dashboards) for (let k = 0; k < PER_SOCKET && opened < SUBS; k++, opened++) d.subscribe(METRICS[k % METRICS.length]!);
    await waitFor(async () => (await activeSubscriptions(server.url)) === SUBS, { timeoutMs: 120_000, intervalMs: 250, what: 'subscriptions open' });
    const withDashboards = tenants.slice(0, Math.min(TENANTS, sockets));
    await waitFor(async () => (await Promise.all(withDashboards.map((t) => subscriberCount(`${prefix}:windows:${t}`)))).every((n) => n === 1), { what: 'Redis SUBSCRIBE per tenant' });
    await settle(2_000);
    const rssPerSub = ((await rssOf(server.pid)) - rssBefore) / SUBS;
    const heapPerSub = ((await heapOf(server.url)) - heapBefore) / SUBS;

    await burst(SUBS); // warm-up
    latencies = [];
    const burstSpanMs: number[] = [];
    let serverCpu = 0;
    let clientCpu = 0;
    for (let i = 0; i < BURSTS; i++) {
      const [s0, c0] = [cpuOf(server.pid), cpuOf(process.pid)];
      burstSpanMs.push(await burst(SUBS));
      serverCpu += cpuOf(server.pid) - s0;
      clientCpu += cpuOf(process.pid) - c0;
      await settle(200);
    }
    const loaded = latencies;

    // Light load: one event at a time, 202 → the frame that counts it.
    const lightTenant = `bench-light-${randomUUID().slice(0, 6)}`;
    const lightToken = await tokens.mint({ tenantId: lightTenant, scope: 'admin', ttlSeconds: 3600 });
    const frames: { w: Next; at: number }[] = [];
    const light = await dashboard(server.url, lightTenant, (_t, w, at) => frames.push({ w, at }));
    light.subscribe('PURCHASES');
    await waitFor(async () => (await subscriberCount(`${prefix}:windows:${lightTenant}`)) === 1);
    const perWindow = new Map<number, number>();
    const lightLatencies: number[] = [];
    for (let i = 0; i < LIGHT; i++) {
      const timestamp = Date.now();
      const start = Math.floor(timestamp / 60_000) * 60_000;
      const count = (perWindow.get(start) ?? 0) + 1;
      perWindow.set(start, count);
      const body = [{ eventId: randomUUID(), eventType: 'purchase', amount: '9.99', userId: `u${i}`, tenantId: lightTenant, currency: 'USD', traceId: randomBytes(16).toString('hex'), timestamp }];
      const res = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${lightToken}` }, body: JSON.stringify(body) });
      const acceptedAt = performance.now();
      if (res.status !== 202) throw new Error(`POST /v1/events ${res.status}`);
      const frame = await waitFor(() => frames.find((f) => Date.parse(f.w.windowStart) === start && Number(f.w.value) >= count && f.at >= acceptedAt - 1_000), { timeoutMs: 10_000, intervalMs: 2 });
      lightLatencies.push(frame.at - acceptedAt);
      frames.length = 0;
      await settle(150); // ~5 events/s
    }
    light.close();
    for (const d of dashboards) d.close();
    return { baseline, loaded, burstSpanMs, rssPerSub, heapPerSub, light: lightLatencies, cpuPerBurst: { server: serverCpu / BURSTS, client: clientCpu / BURSTS } };
  } finally {
    await bus.close();
    await server.stop();
  }
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1).padStart(8) : '       –');
const kb = (x: number) => `${(x / 1024).toFixed(1)} KB`;

console.log(`Subscriptions: ${SUBS.toLocaleString('en')} (${Math.ceil(SUBS / PER_SOCKET)} sockets × ${PER_SOCKET}) over ${TENANTS} tenants; ` +
  `a burst = ${TENANTS} window updates published at once = ${SUBS.toLocaleString('en')} frames; ${BURSTS} bursts; light load = ${LIGHT} single events.\n`);
// Latency depends on what else runs: the figures are only comparable within one run.
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`machine: ${cpus().length} cores, load average ${load()} at start`);
const results = new Map<string, ModeResult>();
for (const mode of MODES) {
  const started = Date.now();
  results.set(mode, await runMode(mode));
  console.log(`  ${mode}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
console.log(`load average ${load()} at the end`);
console.log(`\n${'latency, ms'.padEnd(60)}     p50      p99      max  samples`);
for (const [mode, r] of results) {
  const row = (label: string, xs: number[]) => console.log(`${label.padEnd(60)}${ms(quantile(xs, 0.5))} ${ms(quantile(xs, 0.99))} ${ms(Math.max(...xs))}  ${String(xs.length).padStart(7)}`);
  row(`[${mode}] baseline: burst, 1 subscription`, r.baseline);
  row(`[${mode}] burst, ${SUBS} subscriptions`, r.loaded);
  row(`[${mode}] whole burst delivered (last frame)`, r.burstSpanMs);
  row(`[${mode}] event accepted → frame (light load)`, r.light);
}
console.log('\nCPU per burst (10 ms resolution)');
for (const [mode, r] of results) console.log(`[${mode}] server ${r.cpuPerBurst.server.toFixed(0)} ms, clients (this process) ${r.cpuPerBurst.client.toFixed(0)} ms`);
console.log('\nmemory per subscription (server, after − before opening them)');
for (const [mode, r] of results) console.log(`[${mode}] RSS ${kb(r.rssPerSub)}, JS heap ${kb(r.heapPerSub)}`);
await privateRedis?.close();
process.exit(0);
