/**
 * Issue 4, done-when 1 and 2: live fan-out across API replicas through a real Redis.
 *
 * Processes, as deployed: two API replicas (`tilecast api`), one worker (`tilecast
 * worker`), a Kafka broker, one ClickHouse shared over HTTP (scripts/chdb-server.ts) and
 * Redis. Events are POSTed to replica A, which produces them to Kafka; the worker
 * aggregates, writes the windows and publishes them to Redis; both replicas fan them out
 * to their subscribers. Each run uses its own topic, group, channel prefix and tenants.
 *
 * Redis is a private redis-server of this file (test/helpers/redis.ts), never the
 * machine's shared one, whatever TILECAST_TEST_REDIS_URL says: the restart tests stop it
 * and start it again on the same port.
 *
 * A third replica, C, runs in this process (createApiApp) so a test can pass it a hook:
 * its catch-up read after a Redis restart waits until the test lets it go, which is where
 * the lost-update race of issue 16 happens (a live update arriving while the read waits).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp, type ApiApp } from '../../src/app/api.ts';
import { createTokenService } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { CatchUpHooks } from '../../src/resolvers/subscription-catchup.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  asRevisionValues,
  events,
  expectedFromDb,
  openWindowsReader,
  postEvents,
  scratch,
  startTilecast,
  subscriberCount,
  windowsSubscriber,
  type Proc,
  type WindowMsg,
  type WindowsSubscriber,
} from './fanout-harness.ts';
import { createProgressStore } from '../../src/storage/progress-store.ts';
import { createTopics, kafkaBrokers, openClickHouse, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';

const RUN = randomUUID().slice(0, 8);
const PREFIX = `t-fanout-${RUN}`;
const SECRET = randomBytes(32).toString('hex');
const tokens = createTokenService(SECRET);
const token = (tenantId: string) => tokens.mint({ tenantId, scope: 'admin', ttlSeconds: 3600 });
const MINUTE = 60_000;
const DAY_AGO = Date.now() - 86_400_000;

let redis: RedisServer;
let chdb: ChdbServer;
let worker: WorkerProcess;
let A: Proc;
let B: Proc;
let C: { app: ApiApp; url: string };
let db: Awaited<ReturnType<typeof openWindowsReader>>;
const subscribers: WindowsSubscriber[] = [];
const subscribe = (...args: Parameters<typeof windowsSubscriber>) => {
  const s = windowsSubscriber(...args);
  subscribers.push(s);
  return s;
};

beforeAll(async () => {
  redis = await startRedisServer({ label: 'fanout' });
  const [brokers, server] = await Promise.all([kafkaBrokers(), startChdbServer()]);
  chdb = server;
  const topic = `tilecast.fanout.${RUN}`;
  await createTopics(brokers, [
    { topic, partitions: 2 },
    { topic: `${topic}.dlq`, partitions: 1 },
  ]);
  const env = {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `fanout-${RUN}`,
    KAFKA_TOPIC_PARTITIONS: '2',
    CLICKHOUSE_URL: chdb.url,
    REDIS_URL: redis.url,
    REDIS_CHANNEL_PREFIX: PREFIX,
    AUTH_SECRET: SECRET,
    FLUSH_INTERVAL_MS: '200',
    // Windows stay partial during the test: the data is minutes old, the lateness longer.
    ALLOWED_LATENESS_MS: String(60 * MINUTE),
  };
  worker = await startWorker('fanout', env); // migrates the shared ClickHouse first
  // Progress rows no source of this deployment writes any more (docs/freshness.md): they must not hold dataAsOf back.
  const seed = await openClickHouse(chdb.url);
  for (const source of ['http', `kafka:tilecast.fanout.old-${RUN}:0`]) await createProgressStore(seed).save({ source, processedThrough: DAY_AGO, watermark: DAY_AGO, checkpointSeq: 1 });
  await seed.close();
  [A, B] = await Promise.all([startTilecast({ ...env, DATA_DIR: scratch('replica-a') }, 'api'), startTilecast({ ...env, DATA_DIR: scratch('replica-b') }, 'api')]);
  const app = await createApiApp({ config: loadConfig({ ...env, DATA_DIR: scratch('replica-c'), HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' }), subscriptionHooks: slowRestoredRead.hooks });
  C = { app, url: (await app.start()).url };
  db = await openWindowsReader(chdb.url);
}, 240_000);

afterAll(async () => {
  for (const s of subscribers) await s.close();
  slowRestoredRead.open();
  await Promise.all([A?.stop(), B?.stop(), C?.app.stop(), worker?.stop()]);
  await db?.close();
  await chdb?.stop();
  await redis?.close();
});

const numsub = (channel: string) => subscriberCount(redis.url, channel);

/** C's catch-up reads after a restart (`restored`) wait, once armed, until open() (the injected delay). */
const slowRestoredRead = (() => {
  let gate: { promise: Promise<void>; open: () => void } | null = null;
  let waiting = false;
  const hooks: CatchUpHooks = {
    async beforeRead({ reason }) {
      if (reason !== 'restored' || !gate) return;
      waiting = true;
      await gate.promise;
    },
  };
  return {
    hooks,
    arm() {
      let open: () => void = () => undefined;
      const promise = new Promise<void>((r) => (open = r));
      gate = { promise, open };
      waiting = false;
    },
    waiting: () => waiting,
    open() {
      gate?.open();
      gate = null;
    },
  };
})();

/** Window values offered to C's subscriptions so far (delivered or held during a catch-up). */
async function offeredOnC(): Promise<number> {
  const m = await C.app.metrics.registry.getSingleMetric('tilecast_subscription_deliveries_total')?.get();
  return (m?.values ?? []).filter((v) => v.labels.topic === 'windows').reduce((sum, v) => sum + v.value, 0);
}

/** CLIENT LIST lines of the connections named `name` (CLIENT SETNAME) on the private Redis. */
async function connectionsNamed(name: string): Promise<string[]> {
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    return String(await admin.client('LIST')).split('\n').filter((line) => line.includes(` name=${name} `));
  } finally {
    admin.disconnect();
  }
}

const windowAndMetric = (m: WindowMsg) => `${m.currency}|${Date.parse(m.windowStart)}|${m.metric}`;

/** Revisions per window × metric in arrival order. */
function revisionsByWindow(messages: readonly WindowMsg[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of messages) out.set(windowAndMetric(m), [...(out.get(windowAndMetric(m)) ?? []), m.revision]);
  return out;
}

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

async function matchesDb(tenantId: string, latest: Map<string, WindowMsg>): Promise<boolean> {
  const expected = expectedFromDb(await db.windows(tenantId));
  return expected.size > 0 && JSON.stringify([...asRevisionValues(latest)].sort()) === JSON.stringify([...expected].sort());
}

describe('fan-out across replicas', () => {
  it('a subscriber on replica B receives every update produced from events sent to replica A (via Kafka and the worker), in revision order per window, and nothing of other tenants', async () => {
    const acme = `acme-${RUN}`;
    const globex = `globex-${RUN}`;
    const [acmeToken, globexToken] = [await token(acme), await token(globex)];
    const acmeOnB = subscribe(B.url, acmeToken);
    const globexOnB = subscribe(B.url, globexToken);
    await waitFor(async () => (await numsub(`${PREFIX}:windows:${acme}`)) >= 1 && (await numsub(`${PREFIX}:windows:${globex}`)) >= 1, {
      what: 'B subscribed to both tenants',
    });

    const from = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE;
    for (let batch = 0; batch < 6; batch++) {
      const seen = acmeOnB.messages.length;
      await postEvents(A.url, acmeToken, events(acme, { count: 30, from, minutes: 3, currencies: ['USD', 'EUR'] }));
      await postEvents(A.url, globexToken, events(globex, { count: 30, from, minutes: 3, currencies: ['GBP', 'JPY'] }));
      // At least one flush per batch, so windows get several revisions.
      await waitFor(() => acmeOnB.messages.length > seen, { what: `updates of batch ${batch}` });
    }

    // B ends with exactly what the database holds...
    await waitFor(async () => (await matchesDb(acme, acmeOnB.latest())) && (await matchesDb(globex, globexOnB.latest())), { timeoutMs: 20_000, what: 'B == database' });
    // ...having received every revision of every window, in order: 1, 2, …, newest (the aggregator numbers them without gaps).
    for (const sub of [acmeOnB, globexOnB]) {
      const byWindow = revisionsByWindow(sub.messages);
      expect(byWindow.size).toBeGreaterThanOrEqual(6 * 6); // ≥ 3 minutes × 2 currencies, × 6 metrics
      for (const [key, revisions] of byWindow) expect(revisions, key).toEqual(revisions.map((_, i) => i + 1));
      expect(Math.max(...[...byWindow.values()].map((r) => r.length))).toBeGreaterThan(1);
      expect(sub.messages.every((m) => !m.replayed)).toBe(true);
    }
    // Nothing of the other tenant (each sells in its own currencies).
    expect(new Set(acmeOnB.messages.map((m) => m.currency))).toEqual(new Set(['USD', 'EUR']));
    expect(new Set(globexOnB.messages.map((m) => m.currency))).toEqual(new Set(['GBP', 'JPY']));
  });

  it('each replica subscribes only to the tenants it has subscribers for, and still knows every tenant’s freshness (from the progress ticks; sources of other deployments retired)', async () => {
    const hooli = `hooli-${RUN}`;
    const tok = await token(hooli);
    // No pattern subscription on any replica's subscriber connection, and nobody on hooli's channel.
    const subscribers = await connectionsNamed(`tilecast-sub:${PREFIX}`);
    expect(subscribers.length).toBeGreaterThanOrEqual(4); // worker, A, B, C
    for (const l of subscribers) expect(l).toMatch(/ psub=0 /);
    expect(await numsub(`${PREFIX}:windows:${hooli}`)).toBe(0);

    const from = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE;
    const items = events(hooli, { count: 10, from, minutes: 2, currencies: ['USD'] });
    await postEvents(A.url, tok, items);
    const newest = Math.max(...items.map((e) => e.timestamp));
    for (const replica of [A.url, B.url]) {
      await waitFor(
        async () => {
          const res = await fetch(`${replica}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tok}` }, body: JSON.stringify({ query: '{ freshness { lastEventAt dataAsOf isStale } }' }) });
          const body = (await res.json()) as { data?: { freshness: { lastEventAt: string | null; dataAsOf: string; isStale: boolean } } };
          const f = body.data?.freshness;
          // dataAsOf follows this topic's partitions, not the day-old rows seeded in beforeAll.
          return f?.lastEventAt === new Date(newest).toISOString() && Date.parse(f.dataAsOf) > Date.now() - MINUTE && !f.isStale;
        },
        { what: `lastEventAt of ${hooli} on ${replica}` },
      );
    }
    // A subscriber comes and goes: its replica subscribes to the tenant's channel, then unsubscribes.
    const s = windowsSubscriber(B.url, tok);
    await waitFor(async () => (await numsub(`${PREFIX}:windows:${hooli}`)) === 1, { what: 'B subscribed to hooli' });
    await s.close();
    await waitFor(async () => (await numsub(`${PREFIX}:windows:${hooli}`)) === 0, { what: 'B unsubscribed from hooli' });
  });

  it('Redis restarted under connected subscribers: updates flow again within 5 s, and a client resuming from its last dataAsOf ends with exactly the database’s windows', async () => {
    const tenant = `initech-${RUN}`;
    const tok = await token(tenant);
    const batch = () => events(tenant, { count: 20, from: Math.floor(Date.now() / MINUTE) * MINUTE - 4 * MINUTE, minutes: 3, currencies: ['USD'] });
    const liveOnB = subscribe(B.url, tok);
    const liveOnA = subscribe(A.url, tok);
    const before = subscribe(B.url, tok); // the resuming client, first connection
    await waitFor(async () => (await numsub(`${PREFIX}:windows:${tenant}`)) >= 2, { what: 'A and B subscribed' });
    await postEvents(A.url, tok, batch());
    await waitFor(() => liveOnB.messages.length > 0 && liveOnA.messages.length > 0 && before.messages.length > 0, { what: 'first updates' });

    let lastSeen: string;
    try {
      await redis.stop();
      // The resuming client drops off during the outage, remembering where it was.
      lastSeen = before.messages.at(-1)!.freshness.dataAsOf;
      await before.close();
      // Accepted and stored while Redis is down; the publish is lost.
      const stored = (await db.windows(tenant)).reduce((s, w) => s + w.revision, 0);
      await postEvents(A.url, tok, batch());
      await waitFor(async () => (await db.windows(tenant)).reduce((s, w) => s + w.revision, 0) > stored, { what: 'outage batch stored' });
    } finally {
      await redis.start();
    }

    // Live again within 5 s of Redis answering: an update published after the restart reaches
    // every replica's subscriber. Posting goes on until both have one, so a replica that was
    // late to resubscribe is not left with a loss no later update repairs.
    const restartedAt = Date.now();
    const liveAgain = (s: WindowsSubscriber) => s.messages.some((m) => !m.replayed && m.at > restartedAt);
    await waitFor(
      async () => {
        await postEvents(A.url, tok, batch().slice(0, 3));
        return liveAgain(liveOnB) && liveAgain(liveOnA);
      },
      { timeoutMs: 5_000, intervalMs: 300, what: 'a live update after the restart on A and on B' },
    );
    expect(Date.now() - restartedAt).toBeLessThan(5_000);

    const resumed = subscribe(B.url, tok, { since: lastSeen });
    const resumedView = () => {
      const merged = before.latest();
      for (const [k, m] of resumed.latest()) if ((merged.get(k)?.revision ?? 0) < m.revision) merged.set(k, m);
      return merged;
    };
    // Convergence, not latency (that is the 5 s check above): every query of the worker, both
    // replicas and this poll queues on the one-query-at-a-time chdb-server, and each 200 ms
    // flush also recomputes the model's hours, so under a full parallel test run it can take longer.
    await waitFor(async () => (await matchesDb(tenant, resumedView())) && (await matchesDb(tenant, liveOnB.latest())) && (await matchesDb(tenant, liveOnA.latest())), {
      timeoutMs: 45_000,
      what: 'every client == database',
    });
    // The resumed subscription got what it missed from storage; the connected ones got it from their server's catch-up.
    expect(resumed.messages.some((m) => m.replayed)).toBe(true);
    expect(liveOnB.messages.some((m) => m.replayed)).toBe(true);
    for (const sub of [liveOnB, liveOnA, resumed]) for (const [key, revisions] of revisionsByWindow(sub.messages)) expect(increasing(revisions), key).toBe(true);
  }, 90_000);

  it('Redis restarted while a replica’s catch-up read is slow: the update that arrived live meanwhile (and is in the read too) still reaches its subscribers', async () => {
    const tenant = `umbrella-${RUN}`;
    const tok = await token(tenant);
    const from = Math.floor(Date.now() / MINUTE) * MINUTE - 4 * MINUTE;
    const onC = subscribe(C.url, tok);
    await waitFor(async () => (await numsub(`${PREFIX}:windows:${tenant}`)) >= 1, { what: 'C subscribed' });
    await postEvents(A.url, tok, events(tenant, { count: 20, from, minutes: 3, currencies: ['USD'] }));
    await waitFor(async () => matchesDb(tenant, onC.latest()), { what: 'C == database before the restart' });

    slowRestoredRead.arm();
    await redis.stop();
    await redis.start();
    await waitFor(() => slowRestoredRead.waiting(), { timeoutMs: 20_000, what: 'C resubscribed, its catch-up waiting to read' });
    // The worker and every replica publish again (the worker must not drop the next update).
    await waitFor(async () => (await connectionsNamed(`tilecast-pub:${PREFIX}`)).length >= 4, { timeoutMs: 20_000, what: 'publishers reconnected' });

    // One event: one window, one new revision, written by the worker, then published; C holds it.
    const offered = await offeredOnC();
    const stored = (await db.windows(tenant)).reduce((sum, w) => sum + w.revision, 0);
    await postEvents(A.url, tok, events(tenant, { count: 1, from, minutes: 1, currencies: ['USD'] }));
    await waitFor(async () => (await offeredOnC()) > offered, { timeoutMs: 20_000, what: 'the update offered to C (held)' });
    expect((await db.windows(tenant)).reduce((sum, w) => sum + w.revision, 0)).toBe(stored + 1);
    slowRestoredRead.open();

    // Nothing else is posted: a revision lost here would stay lost.
    await waitFor(async () => matchesDb(tenant, onC.latest()), { timeoutMs: 20_000, what: 'C’s client == database' });
    for (const [key, revisions] of revisionsByWindow(onC.messages)) expect(increasing(revisions), key).toBe(true);
  }, 90_000);
});
