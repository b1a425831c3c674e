/**
 * Operability of the distributed path: `tilecast api` and `tilecast worker` (in-process,
 * sharing a chdb-server as they would share a ClickHouse server) each serve /metrics with
 * the documented series and exact values after a run (produced, consumed, dead-lettered,
 * consumer lag back to 0), and /readyz with per-dependency detail including Kafka.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp, type ApiApp } from '../../src/app/api.ts';
import { createWorkerApp, type WorkerApp } from '../../src/app/worker.ts';
import { loadConfig } from '../../src/config/index.ts';
import { freshDataDir } from '../helpers/app.ts';
import { parseScrape } from '../helpers/prom.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, kafkaClient, startChdbServer, startWorker, type ChdbServer } from './kafka-harness.ts';
import { testRedisUrl } from '../helpers/redis.ts';

const RUN = `ops${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${RUN}`;
const DLQ = `${TOPIC}.dlq`;
const TENANT = `${RUN}-t`;
// `tilecast api` refuses to start without the Redis its workers publish to.
const REDIS_URL = testRedisUrl();
let chdb: ChdbServer;
let api: ApiApp;
let apiUrl: string;
let worker: WorkerApp;
let workerUrl: string;
let brokers: string;
let env: Record<string, string>;

beforeAll(async () => {
  brokers = await kafkaBrokers();
  chdb = await startChdbServer();
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 2 },
    { topic: DLQ, partitions: 1 },
  ]);
  env = {
    DATA_DIR: freshDataDir('ops-kafka'),
    PORT: '0',
    WORKER_PORT: '0',
    LOG_LEVEL: 'silent',
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: TOPIC,
    KAFKA_DLQ_TOPIC: DLQ,
    KAFKA_GROUP_ID: `${RUN}-workers`,
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    KAFKA_TOPIC_PARTITIONS: '2',
    CLICKHOUSE_URL: chdb.url,
    FLUSH_INTERVAL_MS: '200',
    ALLOWED_LATENESS_MS: '1000',
  };
  api = await createApiApp({ config: loadConfig({ ...env, REDIS_URL, REDIS_CHANNEL_PREFIX: RUN }) });
  ({ url: apiUrl } = await api.start());
  worker = await createWorkerApp({ config: loadConfig(env), onFatal: (err) => console.error('worker fatal', err) });
  ({ url: workerUrl } = await worker.start());
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await chdb?.stop();
});

const scrape = async (url: string) => parseScrape(await (await fetch(`${url}/metrics`)).text());

describe('distributed path: metrics and readiness on every process', () => {
  it('/readyz names ClickHouse, migrations and Kafka on both processes', async () => {
    const a = (await (await fetch(`${apiUrl}/readyz`)).json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
    expect(a.ready).toBe(true);
    expect(a.checks.kafka).toEqual({ ok: true, detail: `${TOPIC}: 2 partitions` });
    expect(a.checks.clickhouse).toEqual({ ok: true, detail: 'server' });
    expect(a.checks.migrations?.ok).toBe(true);
    expect(a.checks.redis?.ok).toBe(true);
    const w = await waitFor(async () => {
      const res = await fetch(`${workerUrl}/readyz`);
      const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }>; partitions: unknown[] };
      return res.status === 200 && body.partitions.length === 2 ? body : null;
    }, { timeoutMs: 60_000, what: 'the worker to own both partitions' });
    expect(Object.keys(w.checks).sort()).toEqual(['clickhouse', 'kafka', 'migrations']);
    expect(w.checks.kafka).toEqual({ ok: true, detail: '2 partitions consuming' });
  });

  it('counts produced, consumed and dead-lettered records exactly; lag returns to 0', async () => {
    const token = await api.tokens.mint({ tenantId: TENANT, scope: 'admin', ttlSeconds: 600 });
    const events = Array.from({ length: 120 }, (_, i) => ({
      eventId: `00000000-0000-4000-a000-${String(i).padStart(12, '0')}`,
      eventType: 'signup',
      userId: `u${i}`,
      tenantId: TENANT,
      currency: 'USD',
      traceId: (i + 1).toString(16).padStart(32, 'f'),
      timestamp: Date.now() - 60_000 + i,
    }));
    const res = await fetch(`${apiUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify([...events, { ...events[0], currency: 'nope' }]) });
    expect(res.status).toBe(202);
    // Two records no API would produce: they reach the worker's dead-letter path.
    const producer = kafkaClient(brokers, 'ops-kafka-raw').producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, messages: [{ key: TENANT, value: '{not json' }, { key: TENANT, value: JSON.stringify({ ...events[1], amount: 'x' }) }] });
    await producer.disconnect();

    const a = await scrape(apiUrl);
    expect(a.value('tilecast_kafka_produced_total', { topic_kind: 'events' })).toBe(120);
    expect(a.value('tilecast_ingest_items_total', { outcome: 'accepted' })).toBe(120);
    expect(a.value('tilecast_ingest_items_total', { outcome: 'rejected', reason: 'schema_violation' })).toBe(1);

    const w = await waitFor(async () => {
      const s = await scrape(workerUrl);
      // `consumed` and `dead_lettered` are counted before the batch's log append, `accepted` after it: wait for all three.
      const n = (outcome: string) => s.value('tilecast_kafka_records_total', { outcome }) ?? 0;
      const done = n('consumed') === 122 && n('dead_lettered') === 2 && n('accepted') + n('duplicate') === 120;
      return done && s.value('tilecast_kafka_consumer_lag') === 0 ? s : null;
    }, { timeoutMs: 60_000, what: 'the worker to consume everything' });
    expect(w.value('tilecast_kafka_records_total', { outcome: 'accepted' })).toBe(120);
    expect(w.value('tilecast_kafka_records_total', { outcome: 'dead_lettered' })).toBe(2);
    expect(w.value('tilecast_window_lateness_seconds_count')).toBe(120);
    expect(w.value('tilecast_clickhouse_query_duration_seconds_count', { query_id: 'event_log.append' })).toBeGreaterThan(0);
    expect(w.has('tilecast_flush_duration_seconds_bucket')).toBe(true);
  });

  it('`tilecast worker` exits 0 on SIGTERM while records flow, and loses nothing it consumed', async () => {
    // Six tenants (a record's key must be its tenant): their partitions spread over both workers.
    const tenants = Array.from({ length: 6 }, (_, k) => `${RUN}-s${k}`);
    const { DATA_DIR: _d, PORT: _p, ...workerEnv } = env;
    const proc = await startWorker('sigterm', workerEnv);
    // The rebalance is over on both sides: one partition each.
    await waitFor(
      async () => worker.worker.partitions().length === 1 && ((await (await fetch(`${proc.url}/readyz`)).json()) as { partitions: unknown[] }).partitions.length === 1,
      { timeoutMs: 60_000, what: 'the partitions to be split between the two workers' },
    );
    const exited = new Promise<number | null>((resolve) => proc.proc.once('exit', (code) => resolve(code)));
    const producer = kafkaClient(brokers, 'ops-kafka-load').producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const N = 600;
    const send = async (from: number, to: number) =>
      producer.send({
        topic: TOPIC,
        acks: -1,
        messages: Array.from({ length: to - from }, (_, k) => {
          const i = from + k;
          const tenant = tenants[i % tenants.length]!;
          return { key: tenant, value: JSON.stringify({ eventId: `00000000-0000-4000-b000-${String(i).padStart(12, '0')}`, eventType: 'signup', userId: `u${i}`, tenantId: tenant, currency: 'USD', traceId: (i + 1).toString(16).padStart(32, 'b'), timestamp: Date.now() - 30_000 }) };
        }),
      });
    await send(0, 300);
    // Both workers have been through the first 300 (which of them logged a record is the group's business).
    const consumedByBoth = async () => (await proc.metric('tilecast_kafka_records_total', { outcome: 'consumed' })) + (parseScrape(await (await fetch(`${workerUrl}/metrics`)).text()).value('tilecast_kafka_records_total', { outcome: 'consumed' }) ?? 0);
    await waitFor(async () => (await consumedByBoth()) >= 122 + 300, { timeoutMs: 60_000, what: 'the first records consumed' });
    proc.proc.kill('SIGTERM');
    await send(300, N); // while it stops
    await producer.disconnect();
    expect(await exited).toBe(0);

    // The in-process worker takes the partition over and catches up: every record counted once.
    const tokens = await Promise.all(tenants.map((tenantId) => api.tokens.mint({ tenantId, scope: 'read', ttlSeconds: 600 })));
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    let seen = '';
    await waitFor(async () => {
      const totals = await Promise.all(
        tokens.map(async (token) => {
          const res = await fetch(`${apiUrl}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: `{ s: series(input: { metric: SIGNUPS, currency: "USD", from: "${from}", to: "${to}", granularity: HOUR }) { total } }` }),
          });
          return Number(((await res.json()) as { data?: { s: { total: string } } }).data?.s.total);
        }),
      );
      seen = totals.join(',');
      if (totals.some((n) => n > N / tenants.length)) throw new Error(`counted twice: ${seen}`);
      return totals.every((n) => n === N / tenants.length);
    }, { timeoutMs: 90_000, intervalMs: 500, what: `all ${N} signups in the windows` }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; last total ${seen}; in-process: ${await (await fetch(`${workerUrl}/readyz`)).text()}\n${proc.output()}`);
    });
  }, 180_000);
});
