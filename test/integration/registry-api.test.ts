/**
 * Tilecast's producers with SCHEMA_REGISTRY_URL write the registry's wire format: `tilecast
 * api`'s POST /v1/events (in-process here) and `tilecast simulate --target kafka` frame
 * each event, one per record, with the id `tilecast schema push` registered for the
 * events' schema; before the push the API refuses to accept events rather than sending
 * records no registry-aware consumer could read.
 */
import { mkdtempSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp, type ApiApp } from '../../src/app/api.ts';
import { loadConfig } from '../../src/config/index.ts';
import { readFrame } from '../../src/ingest/registry/wire.ts';
import { testRedisUrl } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, kafkaClient } from './kafka-harness.ts';
import { schemaRegistryUrl, tilecast } from './registry-harness.ts';

const RUN = `regapi${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${RUN}`;
const TENANT = `${RUN}-acme`;

let brokers: string;
let registry: string;
let api: ApiApp;
let url: string;
let env: Record<string, string>;

/** Every record of the topic from the start: key, value. */
async function readTopic(expected: number): Promise<{ key: string; value: Buffer }[]> {
  const out: { key: string; value: Buffer }[] = [];
  const consumer = kafkaClient(brokers, 'tilecast-test-reader').consumer({ groupId: `${RUN}-reader-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void out.push({ key: message.key?.toString() ?? '', value: message.value! }) });
    await waitFor(() => out.length >= expected, { timeoutMs: 60_000, what: `${expected} records (have ${out.length})` });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

beforeAll(async () => {
  [brokers, registry] = await Promise.all([kafkaBrokers(), schemaRegistryUrl()]);
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 4 },
    { topic: `${TOPIC}.dlq`, partitions: 1 },
  ]);
  env = { KAFKA_BROKERS: brokers, KAFKA_TOPIC: TOPIC, KAFKA_DLQ_TOPIC: `${TOPIC}.dlq`, REDIS_URL: testRedisUrl(), REDIS_CHANNEL_PREFIX: RUN, SCHEMA_REGISTRY_URL: registry };
  api = await createApiApp({ config: loadConfig({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'tilecast-registry-api-')), PORT: '0', LOG_LEVEL: 'silent' }) });
  url = (await api.start()).url;
}, 600_000);

afterAll(async () => {
  await api?.stop();
});

const event = (i: number) => ({
  eventId: randomUUID(),
  eventType: 'purchase',
  userId: `u${i}`,
  tenantId: TENANT,
  amount: `${i + 1}.5`,
  currency: 'EUR',
  traceId: randomUUID().replaceAll('-', ''),
  timestamp: Date.now() - 60_000 + i,
});

describe('producers with a schema registry', () => {
  it('POST /v1/events: refused until the schema is pushed, then one framed record per event with the pushed id', async () => {
    const token = await api.tokens.mint({ tenantId: TENANT, scope: 'ingest', ttlSeconds: 600 });
    const post = (body: unknown) => fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const early = await post([event(0)]);
    expect(early.status).toBeGreaterThanOrEqual(500);

    const push = await tilecast(['schema', 'push'], env);
    expect(push.code, push.stderr).toBe(0);
    const id = Number(/id (\d+)/.exec(push.stdout)![1]);

    const events = Array.from({ length: 25 }, (_, i) => event(i + 1));
    const res = await post(events);
    expect(res.status).toBe(202);
    const records = await readTopic(events.length);
    expect(records).toHaveLength(events.length);
    for (const r of records) {
      expect(r.key).toBe(TENANT);
      expect(readFrame(r.value)!.schemaId).toBe(id);
    }
    const bodies = records.map((r) => JSON.parse(readFrame(r.value)!.body.toString()) as { eventId: string });
    expect(new Set(bodies.map((b) => b.eventId))).toEqual(new Set(events.map((e) => e.eventId)));

    // `tilecast simulate --target kafka` frames the same way.
    const sim = await tilecast(['simulate', '--target', 'kafka', '--rate', '50', '--duration', '1', '--tenants', '2'], env);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    const all = await readTopic(events.length + 50);
    expect(all.every((r) => readFrame(r.value)?.schemaId === id)).toBe(true);
  }, 300_000);
});
