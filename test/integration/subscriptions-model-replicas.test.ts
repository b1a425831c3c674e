/**
 * Live `windows` subscriptions of models/saas.yaml across two API replicas over a real
 * Redis, as deployed: events POSTed to replica A go to Kafka, one worker aggregates them,
 * writes the windows to a shared ClickHouse (scripts/chdb-server.ts) and publishes them
 * with their cells on Redis; subscribers on A and on B must end with the brute-force values
 * (test/helpers/saas-truth.ts) — per currency window, and per merged minute for metrics
 * without currency, which each replica reads back from the shared storage.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { diff, expected, FIELDS, latest, type Msg } from '../helpers/saas-live.ts';
import { saasStream, truthOf } from '../helpers/saas-truth.ts';
import { testSeed } from '../helpers/seed.ts';
import { waitFor } from '../helpers/wait.ts';
import { scratch, startTilecast, type Proc } from './fanout-harness.ts';
import { createTopics, kafkaBrokers, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';

const RUN = randomUUID().slice(0, 8);
const SECRET = randomBytes(32).toString('hex');
const tokens = createTokenService(SECRET);
const MIN = 60_000;
const TENANT = `saas-${RUN}`;
const START = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
const { items, accepted } = saasStream({ seed: testSeed(), tenants: [TENANT], count: 400, start: START, spanMs: 20 * MIN, latenessMs: 10_000 });
const truth = truthOf(accepted);
const METRICS = ['trials', 'trial_to_paid', 'gross_revenue', 'arppu'];

let redis: RedisServer;
let chdb: ChdbServer;
let worker: WorkerProcess;
let A: Proc;
let B: Proc;
const clients: Client[] = [];

function subscribe(url: string, token: string): Msg[] {
  const messages: Msg[] = [];
  const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  clients.push(client);
  client.subscribe(
    { query: `subscription { windows(metrics: [${METRICS.map((m) => m.toUpperCase()).join(', ')}]) { ${FIELDS} } }` },
    { next: (m) => void messages.push((m.data as { windows: Msg }).windows), error: () => undefined, complete: () => undefined },
  );
  return messages;
}

beforeAll(async () => {
  redis = await startRedisServer({ label: 'subs-model' });
  const [brokers, server] = await Promise.all([kafkaBrokers(), startChdbServer()]);
  chdb = server;
  const topic = `tilecast.subs-model.${RUN}`;
  await createTopics(brokers, [
    { topic, partitions: 1 },
    { topic: `${topic}.dlq`, partitions: 1 },
  ]);
  const env = {
    TILECAST_MODEL: 'models/saas.yaml',
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `subs-model-${RUN}`,
    KAFKA_TOPIC_PARTITIONS: '1',
    CLICKHOUSE_URL: chdb.url,
    REDIS_URL: redis.url,
    REDIS_CHANNEL_PREFIX: `t-subs-${RUN}`,
    AUTH_SECRET: SECRET,
    FLUSH_INTERVAL_MS: '200',
    ALLOWED_LATENESS_MS: String(60 * MIN),
  };
  worker = await startWorker('subs-model', env);
  [A, B] = await Promise.all([startTilecast({ ...env, DATA_DIR: scratch('subs-a') }, 'api'), startTilecast({ ...env, DATA_DIR: scratch('subs-b') }, 'api')]);
}, 240_000);

afterAll(async () => {
  for (const c of clients) await c.dispose();
  await Promise.all([A?.stop(), B?.stop(), worker?.stop()]);
  await chdb?.stop();
  await redis?.close();
});

describe('model subscriptions on two API replicas', { timeout: 180_000 }, () => {
  it('subscribers of both replicas end with the brute-force values', async () => {
    const token = await tokens.mint({ tenantId: TENANT, scope: 'admin', ttlSeconds: 3600 });
    const onA = subscribe(A.url, token);
    const onB = subscribe(B.url, token);
    // Both replicas receive the tenant's channel before anything is published.
    await waitFor(async () => (await fetch(`${B.url}/metrics`).then((r) => r.text())).includes('tilecast_active_subscriptions 1'), { what: 'B subscribed' });
    await waitFor(async () => (await fetch(`${A.url}/metrics`).then((r) => r.text())).includes('tilecast_active_subscriptions 1'), { what: 'A subscribed' });
    for (let i = 0; i < items.length; i += 100) {
      const res = await fetch(`${A.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(items.slice(i, i + 100).map((x) => x.body)),
      });
      expect(res.status).toBe(202);
    }
    const want = expected(truth, TENANT, METRICS);
    expect(want.size).toBeGreaterThan(100);
    for (const [name, messages] of [['A', onA], ['B', onB]] as const) {
      await waitFor(() => diff(latest(messages), want).length === 0, { timeoutMs: 90_000, what: `replica ${name} converged` }).catch(() => undefined);
      expect(diff(latest(messages), want).slice(0, 20), `replica ${name}`).toEqual([]);
    }
    expect(onA.some((m) => m.currency === '')).toBe(true); // merged minutes came too
  });
});
