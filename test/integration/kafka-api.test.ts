/**
 * Distributed ingest end to end: `tilecast api` (in-process here) validates POST
 * /v1/events and produces to Kafka, answering 202 only once the broker has the
 * events; a `tilecast worker` process aggregates them into ClickHouse (chdb-server),
 * where the API's GraphQL reads them. Rejected HTTP items are rows in dead_letters.
 * The typed emitter services import validates before sending anything.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiApp, type ApiApp } from '../../src/app/api.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createBusinessEventEmitter, InvalidEventError } from '../../src/producer/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, kafkaClient, openClickHouse, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { testRedisUrl } from '../helpers/redis.ts';

const RUN = `api${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${RUN}`;
const DLQ = `${TOPIC}.dlq`;
const TENANT = `${RUN}-acme`;
// `tilecast api` refuses to start without the Redis its workers publish to.
const REDIS_URL = testRedisUrl();
const MINUTE = 60_000;
const T0 = Math.floor((Date.now() - 5 * MINUTE) / MINUTE) * MINUTE;

let brokers: string;
let chdb: ChdbServer;
let db: ClickHouse;
let api: ApiApp;
let url: string;
let worker: WorkerProcess;

const purchase = (i: number, extra: Record<string, unknown> = {}) => ({
  eventId: randomUUID(),
  eventType: 'purchase' as const,
  userId: `u${i % 7}`,
  tenantId: TENANT,
  amount: `${i + 1}.25`,
  currency: 'USD',
  traceId: randomUUID().replaceAll('-', ''),
  timestamp: T0 + i * 1000,
  ...extra,
});

/** Records in the topic (sum of partition log ends). */
async function topicSize(): Promise<number> {
  const admin = kafkaClient(brokers, 'tilecast-test-offsets').admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(TOPIC)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  brokers = await kafkaBrokers();
  chdb = await startChdbServer();
  db = await openClickHouse(chdb.url);
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 4 },
    { topic: DLQ, partitions: 1 },
  ]);
  const env = { KAFKA_BROKERS: brokers, KAFKA_TOPIC: TOPIC, KAFKA_DLQ_TOPIC: DLQ, KAFKA_GROUP_ID: `${RUN}-workers`, CLICKHOUSE_URL: chdb.url, FLUSH_INTERVAL_MS: '300', REDIS_URL, REDIS_CHANNEL_PREFIX: RUN };
  worker = await startWorker('w', { ...env, KAFKA_SESSION_TIMEOUT_MS: '10000' });
  api = await createApiApp({
    config: loadConfig({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'tilecast-kafka-api-')), PORT: '0', LOG_LEVEL: 'silent' }),
  });
  url = (await api.start()).url;
}, 180_000);

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  await db?.close();
  await chdb?.stop();
});

describe('tilecast api → Kafka → tilecast worker', () => {
  it('answers 202 once Kafka has the events, dead-letters rejects, and the worker stores what GraphQL then reads', async () => {
    const token = await api.tokens.mint({ tenantId: TENANT, scope: 'admin', ttlSeconds: 600 });
    const events = Array.from({ length: 40 }, (_, i) => purchase(i));
    const body = [...events, events[3], purchase(99, { amount: 'free' })];
    const before = await topicSize();
    const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    expect(res.status).toBe(202);
    const json = (await res.json()) as { accepted: number; duplicates: number; rejected: { index: number; reason: string }[] };
    expect(json).toMatchObject({ accepted: 40, duplicates: 1, rejected: [{ index: 41, reason: 'schema_violation' }] });
    // Acknowledged before the answer: the 40 distinct events are already in the log end,
    // as one NDJSON batch record (one per request and tenant).
    expect((await topicSize()) - before).toBe(1);

    const letters = z.object({ n: z.coerce.number() });
    const [dead] = await db.query({
      queryId: 'test.dead_letters',
      sql: "SELECT count() AS n FROM dead_letters WHERE tenant_id = {t:String} AND source = 'http' AND reason = 'schema_violation'",
      params: { t: TENANT },
      row: letters,
    });
    expect(dead?.n).toBe(1);

    // The worker aggregates them; the API reads the windows it wrote.
    const expectedRevenue = events.reduce((cents, e) => cents + Math.round(Number(e.amount) * 100), 0) / 100;
    const query = `query($from: DateTime!, $to: DateTime!) { series(input: { metric: REVENUE, currency: "USD", from: $from, to: $to, granularity: MINUTE }) { total } }`;
    const variables = { from: new Date(T0 - MINUTE).toISOString(), to: new Date(T0 + 10 * MINUTE).toISOString() };
    await waitFor(
      async () => {
        const r = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
        const data = (await r.json()) as { data?: { series: { total: string } } };
        return Number(data.data?.series.total) === expectedRevenue;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `revenue ${expectedRevenue} through GraphQL` },
    );
  });

  it('the typed emitter rejects an invalid batch without sending any of it, and delivers a valid one', async () => {
    const emitter = createBusinessEventEmitter({ brokers: brokers.split(','), topic: TOPIC, logger: createLogger('silent') });
    try {
      const before = await topicSize();
      const err = await emitter.emitBusinessEvent([purchase(200), purchase(201, { currency: 'usd' })]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidEventError);
      const issues = (err as InvalidEventError).issues;
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.every((i) => i.index === 1 && i.path === 'currency')).toBe(true);
      expect(await topicSize()).toBe(before);
      await emitter.emitBusinessEvent(purchase(202));
      expect(await topicSize()).toBe(before + 1);
      await waitFor(async () => (await worker.metric('tilecast_kafka_records_total', { outcome: 'accepted' })) >= 41, { timeoutMs: 30_000, what: 'the worker to accept the emitted event' });
    } finally {
      await emitter.close();
    }
  });
});
