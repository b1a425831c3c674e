/**
 * What each API replica receives from Redis when tenants far outnumber the tenants a
 * replica serves: 2 replicas, `--tenants` tenants (1,000) with window updates, and
 * subscribers of `--subscribed` tenants (10) on replica 1 only. Not a test: it prints figures.
 *
 *   node --import tsx bench/fanout.ts [--tenants 1000] [--subscribed 10] [--seconds 10] [--rate 5]
 *
 * Two `tilecast start` processes (embedded ClickHouse each, REDIS_URL set, one channel
 * prefix) play the replicas; this process plays the worker: `--rate` times a second it
 * publishes, through the Redis bus as a worker's flush does, one window update for every
 * tenant (one Redis message per tenant) and one progress tick. Per replica over
 * `--seconds`: the window updates and progress ticks its bus received (its /metrics) and
 * its CPU time. Beside it, the design this replaces: every replica PSUBSCRIBEd
 * `<prefix>:windows:*` (to track each tenant's newest event time), so it received every
 * tenant's updates whatever it served — measured here by one such pattern subscription,
 * which is what each replica received then.
 *
 * Redis: TILECAST_TEST_REDIS_URL, or a private redis-server for the run.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createTokenService } from '../src/auth/tokens.ts';
import type { WindowUpdate } from '../src/contracts/window.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createRedisBus } from '../src/realtime/redis-bus.ts';
import { startRedisServer } from '../test/helpers/redis.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { scratch, startTilecast, subscriberCount, windowsSubscriber, type Proc } from '../test/integration/fanout-harness.ts';

const { values: args } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    subscribed: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5' },
  },
});
const TENANTS = Number(args.tenants);
const SUBSCRIBED = Number(args.subscribed);
const SECONDS = Number(args.seconds);
const RATE = Number(args.rate);
const MINUTE = 60_000;

const privateRedis = process.env.TILECAST_TEST_REDIS_URL ? null : await startRedisServer({ label: 'bench-fanout' });
const REDIS_URL = process.env.TILECAST_TEST_REDIS_URL ?? privateRedis!.url;
const PREFIX = `bench-fanout-${randomUUID().slice(0, 8)}`;
const SECRET = randomBytes(32).toString('hex');
const tokens = createTokenService(SECRET);
const tenants = Array.from({ length: TENANTS }, (_, i) => `fan-${i}`);

/** CPU time (user + system) of a process so far, ms. */
const cpuOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};

/** The bus's receive counters of a replica: window updates and progress ticks received from Redis. */
async function received(url: string): Promise<{ windows: number; progress: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (channel: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('tilecast_bus_messages_received_total{') && l.includes(`channel="${channel}"`))
      .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
  return { windows: sum('windows'), progress: sum('progress') };
}

const replicaEnv = (label: string) => ({ DATA_DIR: scratch(label), AUTH_SECRET: SECRET, REDIS_URL, REDIS_CHANNEL_PREFIX: PREFIX, FLUSH_INTERVAL_MS: '1000' });
const replicas: Proc[] = await Promise.all([startTilecast(replicaEnv('bench-fanout-1')), startTilecast(replicaEnv('bench-fanout-2'))]);

// Subscribers of the first SUBSCRIBED tenants, all on replica 1.
const subs = await Promise.all(tenants.slice(0, SUBSCRIBED).map(async (t) => windowsSubscriber(replicas[0]!.url, await tokens.mint({ tenantId: t, scope: 'read', ttlSeconds: 3600 }))));
await waitFor(async () => (await Promise.all(tenants.slice(0, SUBSCRIBED).map((t) => subscriberCount(REDIS_URL, `${PREFIX}:windows:${t}`)))).every((n) => n === 1), {
  timeoutMs: 60_000,
  what: 'replica 1 subscribed to its tenants',
});

// The old design's view: one pattern subscription, counting messages and the updates in them.
const pattern = new Redis(REDIS_URL);
const old = { messages: 0, windows: 0 };
let counting = false;
pattern.on('pmessage', (_p: string, _channel: string, raw: string) => {
  if (!counting) return;
  old.messages += 1;
  old.windows += (JSON.parse(raw) as { updates?: unknown[] }).updates?.length ?? 0;
});
await pattern.psubscribe(`${PREFIX}:windows:*`);

const publisher = createRedisBus({ redisUrl: REDIS_URL, channelPrefix: PREFIX, logger: createLogger('silent') });
const windowStart = Math.floor(Date.now() / MINUTE) * MINUTE;
let revision = 0;
function tick(): Promise<void> {
  revision += 1;
  const now = Date.now();
  const updates: WindowUpdate[] = tenants.map((tenantId) => ({
    tenantId, currency: 'USD', windowStart, windowEnd: windowStart + MINUTE, revision, final: false, kind: 'partial',
    revenue: `${revision}.00`, purchases: revision, signups: 0, upgrades: 0, churns: 0, activeUsers: 1, lastEventAt: now, traceSample: [],
  }));
  const lastEventAt = Object.fromEntries(tenants.map((t) => [t, now]));
  return publisher.publishProgress({ source: 'bench-worker', processedThrough: now, watermark: 0, lastEventAt }).then(() => publisher.publishWindows(updates));
}

// The publisher drops (and marks) what it publishes before its connection is up: wait until a tick of its own comes back.
let publisherUp = false;
pattern.on('message', (_channel: string, raw: string) => void (publisherUp ||= raw.includes('"bench-worker"')));
await pattern.subscribe(`${PREFIX}:progress`);
await waitFor(
  async () => {
    await publisher.publishProgress({ source: 'bench-worker', processedThrough: Date.now(), watermark: 0 });
    return publisherUp;
  },
  { timeoutMs: 30_000, intervalMs: 200, what: 'the publisher connected' },
);
await tick(); // warm-up: first window messages through
await new Promise((r) => setTimeout(r, 500));
const before = await Promise.all(replicas.map(async (r) => ({ ...(await received(r.url)), cpu: cpuOf(r.pid) })));
counting = true;
const started = Date.now();
for (let i = 0; i < SECONDS * RATE; i++) {
  await tick();
  const next = started + ((i + 1) * 1000) / RATE;
  await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
}
await new Promise((r) => setTimeout(r, 500)); // the last messages in flight
counting = false;
const elapsed = (Date.now() - started) / 1000;
const after = await Promise.all(replicas.map(async (r) => ({ ...(await received(r.url)), cpu: cpuOf(r.pid) })));
const expectedFrames = SUBSCRIBED * 6 * (SECONDS * RATE + 1);
const delivered = () => subs.reduce((s, x) => s + x.messages.length, 0);
await waitFor(() => delivered() >= expectedFrames, { timeoutMs: 10_000 }).catch(() => undefined);
const missing = subs.map((x) => [...Array(SECONDS * RATE + 1).keys()].map((i) => i + 1).filter((r) => !x.messages.some((m) => m.revision === r)));

const perSec = (n: number) => (n / elapsed).toFixed(0).padStart(9);
console.log(`fan-out: ${TENANTS} tenants, ${TENANTS * RATE} window updates/s published (1 per tenant, ${RATE}×/s) + ${RATE} progress ticks/s, ${SECONDS} s`);
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; tilecast's own aggregators add their progress ticks (1/s each)\n`);
console.log(`${'replica'.padEnd(12)}${'tenants served'.padStart(16)}${'windows/s'.padStart(11)}${'progress/s'.padStart(12)}${'CPU ms/s'.padStart(10)}   old design (PSUBSCRIBE): windows/s  messages/s`);
replicas.forEach((_, i) => {
  const [b, a] = [before[i]!, after[i]!];
  console.log(
    `${`replica ${i + 1}`.padEnd(12)}${String(i === 0 ? SUBSCRIBED : 0).padStart(16)}${perSec(a.windows - b.windows).padStart(11)}${perSec(a.progress - b.progress).padStart(12)}` +
      `${((a.cpu - b.cpu) / elapsed).toFixed(0).padStart(10)}   ${perSec(old.windows).padStart(31)}${perSec(old.messages).padStart(12)}`,
  );
});
console.log(`\nframes received by the ${SUBSCRIBED} subscribers on replica 1: ${delivered()} (${SUBSCRIBED} tenants × 6 metrics × ${SECONDS * RATE + 1} ticks = ${expectedFrames} expected)`);
if (missing.some((m) => m.length > 0)) console.log(`revisions missing per subscriber: ${JSON.stringify(missing)}`);

for (const s of subs) await s.close();
pattern.disconnect();
await publisher.close();
await Promise.all(replicas.map((r) => r.stop()));
await privateRedis?.close();
process.exit(0);
