/**
 * Schema evolution end to end, against the real registry and broker with `tilecast worker`
 * processes: producers of four registered versions of the events' schema, Tilecast's own
 * producer (src/producer, framing with the id `tilecast schema push` registered) and plain
 * JSON records, interleaved on one topic, are counted exactly; framed records the worker
 * must refuse are dead-lettered with their reason; incompatible changes are refused by
 * `tilecast schema check` and by the registry.
 *
 * The versions (subject `<topic>-value`, BACKWARD):
 *   v1  the default model's fields without eventId, eventType purchase|signup
 *   v2  v1 + eventId (an optional field)
 *   v3  v2 + eventType upgrade (a new event type)
 *   v4  the default model's events' schema, pushed by `tilecast schema push` (adds churn)
 *   v5  v4 + an optional `coupon` the model does not declare
 * "A new event type" is one the worker's model already knows but earlier producers'
 * schemas did not list: the worker's model (models/default.yaml) is a fixed set, so a type
 * outside it is dead-lettered (schema_violation) whatever the registry accepted — as is a
 * v5 record that sets `coupon`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryRequestError, createRegistryClient } from '../../src/ingest/registry/client.ts';
import { eventsJsonSchema } from '../../src/model/json-schema.ts';
import { loadPlan } from '../helpers/model.ts';
import { frame } from '../../src/ingest/registry/wire.ts';
import { createBusinessEventEmitter } from '../../src/producer/index.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { prng } from '../helpers/dataset.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, openClickHouse, readDeadLetters, readWindows, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { diffWindows, generateStream } from './kafka-stream.ts';
import { produceBuffers, registerSchema, schemaRegistryUrl, tilecast } from './registry-harness.ts';

const run = `evo${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${run}`;
const DLQ = `${TOPIC}.dlq`;
const SUBJECT = `${TOPIC}-value`;
const tenants = Array.from({ length: 6 }, (_, i) => `${run}-t${i}`);
const stream = generateStream({
  seed: 15_001,
  tenants,
  count: 6_000,
  start: Date.now() - 12 * 60_000,
  spanMs: 10 * 60_000,
  allowedLatenessMs: 10_000,
  malformedRate: 0,
});

type Json = Record<string, unknown>;
type ObjectSchema = Json & { properties: Json; required: string[] };
const contract = eventsJsonSchema(loadPlan()) as ObjectSchema;
const v4 = contract;
const { eventId: _e, ...withoutEventId } = contract.properties;
const v1 = {
  ...contract,
  properties: { ...withoutEventId, eventType: { type: 'string', enum: ['purchase', 'signup'] } },
};
const v2 = { ...v1, properties: { ...v1.properties, eventId: contract.properties.eventId } };
const v3 = { ...v2, properties: { ...v2.properties, eventType: { type: 'string', enum: ['purchase', 'signup', 'upgrade'] } } };
const v5: ObjectSchema = { ...contract, properties: { ...contract.properties, coupon: { type: 'string' } } };

let url: string;
let brokers: string;
let chdb: ChdbServer;
let db: ClickHouse;
let workers: WorkerProcess[] = [];
let env: Record<string, string>;
const ids: Record<string, number> = {};
const dir = mkdtempSync(join(tmpdir(), 'tilecast-evo-'));

beforeAll(async () => {
  [url, brokers] = await Promise.all([schemaRegistryUrl(), kafkaBrokers()]);
  chdb = await startChdbServer();
  db = await openClickHouse(chdb.url);
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 4 },
    { topic: DLQ, partitions: 1 },
  ]);
  env = {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: TOPIC,
    KAFKA_DLQ_TOPIC: DLQ,
    KAFKA_GROUP_ID: `${run}-workers`,
    CLICKHOUSE_URL: chdb.url,
    ALLOWED_LATENESS_MS: '10000',
    FLUSH_INTERVAL_MS: '500',
    SCHEMA_REGISTRY_URL: url,
  };
}, 600_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await db?.close();
  await chdb?.stop();
});

describe('schema evolution on one topic', () => {
  it('registers v1–v3 and v5 as BACKWARD versions, v4 with `tilecast schema push`', async () => {
    ids.v1 = await registerSchema(url, SUBJECT, v1);
    ids.v2 = await registerSchema(url, SUBJECT, v2);
    ids.v3 = await registerSchema(url, SUBJECT, v3);
    const check = await tilecast(['schema', 'check'], env);
    expect(check.stdout).toContain('compatible');
    expect(check.code).toBe(0);
    const push = await tilecast(['schema', 'push'], env);
    expect(push.code, push.stderr).toBe(0);
    const pushed = /id (\d+), version (\d+) \(compatibility BACKWARD\)/.exec(push.stdout);
    expect(pushed?.[2]).toBe('4');
    ids.v4 = Number(pushed![1]);
    ids.v5 = await registerSchema(url, SUBJECT, v5);
    expect(new Set(Object.values(ids)).size).toBe(5);
  }, 240_000); // each `tilecast` process loads the whole app (~10–25 s on a loaded machine)

  it('refuses incompatible changes: a new required field, a removed field', async () => {
    const required = { ...v5, properties: { ...v5.properties, region: { type: 'string' } }, required: [...v5.required, 'region'] };
    const { userId: _u, ...rest } = v5.properties;
    const removed = { ...v5, properties: rest, required: v5.required.filter((f) => f !== 'userId') };
    for (const [name, schema, cause] of [
      ['required', required, 'REQUIRED_PROPERTIES_MEMBER_ADDED'],
      ['removed', removed, 'NARROWED'],
    ] as const) {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(schema));
      const check = await tilecast(['schema', 'check', '--file', file], env);
      expect(check.code, `${name}: ${check.stdout}`).toBe(1);
      expect(check.stderr).toContain(`incompatible with version 5 of ${SUBJECT}`);
      expect(check.stderr).toContain(cause);
      const push = await tilecast(['schema', 'push', '--file', file], env);
      expect(push.code).toBe(1);
      expect(push.stderr).toContain('refused by the registry');
      const direct = await createRegistryClient({ url })
        .register(SUBJECT, JSON.stringify(schema), 'JSON')
        .then(() => null, (e: unknown) => e);
      expect(direct).toBeInstanceOf(RegistryRequestError);
      expect((direct as RegistryRequestError).status).toBe(409);
      expect((direct as RegistryRequestError).message).toContain(cause);
    }
  }, 300_000);

  it('v1–v5 producers, the typed producer and plain JSON interleaved: every window exact, refusals dead-lettered', async () => {
    const r = prng(77);
    // Every valid record goes out as one of the producers that may send it.
    const emitted: Json[] = [];
    const records = stream.records.map((rec) => {
      const e = JSON.parse(rec.value) as Json;
      const allowed: (keyof typeof ids | 'plain' | 'typed')[] = ['plain', 'typed', 'v4', 'v5'];
      if (e.eventType !== 'churn') allowed.push('v3');
      if (e.eventType === 'purchase' || e.eventType === 'signup') allowed.push('v2');
      if ((e.eventType === 'purchase' || e.eventType === 'signup') && e.eventId === undefined) allowed.push('v1');
      const via = r.pick(allowed);
      if (via === 'typed') {
        emitted.push(e);
        return null;
      }
      return { key: rec.key, value: via === 'plain' ? rec.value : frame(ids[via]!, rec.value) };
    });
    const tenant = tenants[0]!;
    const base = JSON.parse(stream.records[0]!.value) as Json;
    const bad = (n: number, body: Json) => ({ key: tenant, value: frame(n, JSON.stringify({ ...base, tenantId: tenant, eventId: crypto.randomUUID(), ...body })) });
    const refused = [
      { ...bad(ids.v1!, { eventType: 'upgrade', eventId: undefined, traceId: 'a'.repeat(31) + '1' }), reason: 'registered_schema_violation' },
      { ...bad(ids.v5!, { coupon: 'WELCOME' }), reason: 'schema_violation' },
      { ...bad(ids.v4!, { eventType: 'refund' }), reason: 'registered_schema_violation' },
      { ...bad(2_000_000_000, {}), reason: 'schema_unknown' },
      { key: tenant, value: Buffer.from([0, 0, 1]), reason: 'invalid_framing' },
    ];
    // An id registered under another subject only.
    const otherId = await registerSchema(url, `${run}-elsewhere-value`, { ...v4, title: 'elsewhere' });
    refused.push({ ...bad(otherId, {}), reason: 'schema_subject_mismatch' });
    const framed = records.filter((x): x is NonNullable<typeof x> => x !== null);
    // Refusals land in the middle of the stream, between the valid records.
    const mid = Math.floor(framed.length / 2);
    const all = [...framed.slice(0, mid), ...refused.map(({ key, value }) => ({ key, value })), ...framed.slice(mid)];

    workers = await Promise.all([startWorker('a', env), startWorker('b', env)]);
    const emitter = createBusinessEventEmitter({ brokers: brokers.split(','), topic: TOPIC, schemaRegistry: { url } });
    await Promise.all([produceBuffers(brokers, TOPIC, all), emitter.emitBusinessEvent(emitted as never).finally(() => emitter.close())]);

    let last = { count: -1, sample: [] as string[] };
    await waitFor(
      async () => {
        last = diffWindows(stream.truth, await readWindows(db, tenants));
        return last.count === 0;
      },
      { timeoutMs: 180_000, intervalMs: 1_000, what: 'windows to equal the ground truth' },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; ${last.count} windows differ, e.g. ${last.sample.join(' | ')}`);
    });

    const dlq = await readDeadLetters(brokers, DLQ, refused.length);
    for (const x of refused) expect(dlq.byValue.get(x.value.toString()), x.reason).toEqual(new Set([x.reason]));
    expect(dlq.byValue.size).toBe(refused.length);
    // One lookup per schema id per worker process, not per record.
    const lookups = await Promise.all(workers.map((w) => w.metric('tilecast_schema_registry_lookups_total', { outcome: 'resolved' })));
    for (const n of lookups) expect(n).toBeLessThanOrEqual(5);
    expect(emitted.length).toBeGreaterThan(500);
  }, 420_000);
});
