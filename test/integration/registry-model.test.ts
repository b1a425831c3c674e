/**
 * The registry follows the metric model, against the real registry and broker:
 *
 * - default model: `tilecast schema check` / `push` accept the model's events' schema as the
 *   next version after what earlier releases registered (Event v1's schema, kept verbatim in
 *   test/fixtures), so existing deployments push again; the shapes the generator avoids (a
 *   root `oneOf` per event type, `if`/`then` per type) are refused by this registry after it;
 * - models/saas.yaml on a topic of its own: `tilecast schema push` registers the saas schema,
 *   a worker running the saas model counts saas events framed with its id, and dead-letters a
 *   field the registered schema allows but the model does not on that type (schema_violation)
 *   and a field no type declares (registered_schema_violation).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRegistryClient } from '../../src/ingest/registry/client.ts';
import { frame } from '../../src/ingest/registry/wire.ts';
import { eventsJsonSchema } from '../../src/model/json-schema.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { loadPlan } from '../helpers/model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, openClickHouse, readDeadLetters, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { produceBuffers, registerSchema, schemaRegistryUrl, tilecast } from './registry-harness.ts';

const run = `regmodel${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${run}`;
const DLQ = `${TOPIC}.dlq`;
const TENANT = `${run}-t`;
const EVENT_V1_SCHEMA = readFileSync('test/fixtures/event-v1-registered-schema.json', 'utf8').trim();

let url: string;
let brokers: string;
let chdb: ChdbServer;
let db: ClickHouse;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  [url, brokers] = await Promise.all([schemaRegistryUrl(), kafkaBrokers()]);
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  await db?.close();
  await chdb?.stop();
});

describe('the default model after what earlier releases registered', () => {
  const subject = `${run}-default-value`;

  it('schema check and push accept the model schema as the next version', async () => {
    const first = await registerSchema(url, subject, EVENT_V1_SCHEMA);
    const env = { SCHEMA_REGISTRY_URL: url, SCHEMA_SUBJECT: subject, TILECAST_MODEL: 'models/default.yaml' };
    const check = await tilecast(['schema', 'check'], env);
    expect(check.stdout + check.stderr).toContain('compatible: ');
    expect(check.code).toBe(0);
    const push = await tilecast(['schema', 'push'], env);
    expect(push.stderr).toBe('');
    expect(push.stdout).toMatch(/version 2 \(compatibility BACKWARD\)/);
    const latest = await createRegistryClient({ url }).latest(subject);
    expect(latest.id).not.toBe(first);
    expect(JSON.parse(latest.schema)).toEqual(eventsJsonSchema(loadPlan()));
  }, 120_000);

  it('a root oneOf or if/then per event type is refused after it (why the generator emits one object)', async () => {
    const other = `${run}-shapes-value`;
    await registerSchema(url, other, EVENT_V1_SCHEMA);
    const model = eventsJsonSchema(loadPlan()) as { properties: Record<string, unknown>; required: string[] };
    const { $schema, title, ...object } = model as Record<string, unknown>;
    const types = (model.properties.eventType as { enum: string[] }).enum;
    const oneOf = { $schema, title, oneOf: types.map((t) => ({ ...object, properties: { ...model.properties, eventType: { const: t } } })) };
    const ifThen = { ...model, allOf: types.map((t) => ({ if: { properties: { eventType: { const: t } } }, then: { required: model.required } })) };
    const client = createRegistryClient({ url });
    for (const shape of [oneOf, ifThen]) {
      const r = await client.checkCompatibility(other, JSON.stringify(shape), 'JSON');
      expect(r.compatible).toBe(false);
      expect(r.reason).toContain('SUBSCHEMA_TYPE_CHANGED');
    }
    expect(await client.checkCompatibility(other, JSON.stringify(model), 'JSON')).toEqual({ compatible: true, reason: expect.any(String) as string });
  });
});

describe('models/saas.yaml framed with the pushed saas schema', () => {
  it('is counted by a saas worker; what the model refuses is dead-lettered with its reason', async () => {
    chdb = await startChdbServer();
    db = await openClickHouse(chdb.url);
    await createTopics(brokers, [
      { topic: TOPIC, partitions: 2 },
      { topic: DLQ, partitions: 1 },
    ]);
    const env = {
      TILECAST_MODEL: 'models/saas.yaml',
      SCHEMA_REGISTRY_URL: url,
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: TOPIC,
      KAFKA_DLQ_TOPIC: DLQ,
      KAFKA_GROUP_ID: `${run}-workers`,
      CLICKHOUSE_URL: chdb.url,
      FLUSH_INTERVAL_MS: '300',
    };
    const push = await tilecast(['schema', 'push'], env);
    expect(push.stderr).toBe('');
    const id = Number(/: id (\d+), version 1 /.exec(push.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(JSON.parse((await createRegistryClient({ url }).latest(`${TOPIC}-value`)).schema)).toEqual(eventsJsonSchema(loadPlan('models/saas.yaml')));
    worker = await startWorker('saas', env);

    const t0 = Date.now() - 60_000;
    const base = { userId: 'u1', tenantId: TENANT, currency: 'EUR', plan: 'pro', country: 'FR' };
    const trace = (n: number) => `${String(n + 1).padStart(8, '0')}${'ab'.repeat(12)}`;
    const accepted = [
      { eventType: 'trial_started', ...base },
      { eventType: 'subscription_started', ...base, amount: '49.90', from_trial: true },
      { eventType: 'renewal', ...base, plan: 'enterprise', amount: 199 },
      { eventType: 'refund', ...base, amount: '10.5', reason: 'requested' },
      { eventType: 'churn', ...base, country: 'DE', reason: 'service_issue' },
    ].map((e, i) => ({ ...e, eventId: crypto.randomUUID(), traceId: trace(i), timestamp: t0 + i * 1_000 }));
    const refused = [
      // Declared on subscription_started only: the registered schema allows it, the model does not on a renewal.
      { body: { eventType: 'renewal', ...base, amount: '5', from_trial: true }, reason: 'schema_violation' },
      // Required on refunds: the registered schema cannot say so per type, the model does.
      { body: { eventType: 'refund', ...base }, reason: 'schema_violation' },
      // Declared by no type: the registered schema itself refuses it.
      { body: { eventType: 'trial_started', ...base, coupon: 'WELCOME' }, reason: 'registered_schema_violation' },
    ].map((x, i) => ({ ...x, value: frame(id, JSON.stringify({ ...x.body, eventId: crypto.randomUUID(), traceId: trace(100 + i), timestamp: t0 + i * 1_000 })) }));
    await produceBuffers(brokers, TOPIC, [
      ...accepted.map((e) => ({ key: TENANT, value: frame(id, JSON.stringify(e)) })),
      ...refused.map((x) => ({ key: TENANT, value: x.value })),
    ]);

    const row = z.object({ event_key: z.string(), event_type: z.string(), fields: z.record(z.string(), z.string()) });
    let rows: z.infer<typeof row>[] = [];
    await waitFor(
      async () => {
        rows = await db.query({ queryId: 'test.registry_model.events', sql: 'SELECT event_key, event_type, fields FROM events WHERE tenant_id = {t:String} ORDER BY event_time_ms', params: { t: TENANT }, row });
        return rows.length >= accepted.length;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'the saas events in the event log' },
    );
    expect(rows.map((r) => [r.event_key, r.event_type])).toEqual(accepted.map((e) => [e.eventId, e.eventType]));
    expect(rows[1]!.fields).toEqual({ currency: 'EUR', plan: 'pro', country: 'FR', amount: '49.9', from_trial: 'true' });
    expect(rows[3]!.fields).toMatchObject({ amount: '10.5', reason: 'requested' });

    const dlq = await readDeadLetters(brokers, DLQ, refused.length);
    for (const x of refused) expect(dlq.byValue.get(x.value.toString()), x.reason).toEqual(new Set([x.reason]));
    expect(dlq.total).toBe(refused.length);
  }, 300_000);
});
