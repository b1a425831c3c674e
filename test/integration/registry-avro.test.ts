/**
 * An Avro producer outside Tilecast (@kafkajs/confluent-schema-registry, optional fields as
 * ["null", T], amounts as strings) on a topic of its own (the registry refuses Avro and JSON
 * versions under one subject), while workers are killed with SIGKILL mid-stream: every window
 * still equals the ground truth. A v2 of the Avro schema adds an optional `coupon` (BACKWARD
 * compatible for the registry); v2 records that leave it null count, those that set it are
 * dead-lettered (the contract does not declare it), as are bodies that do not decode.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/ingest/registry/client.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { prng } from '../helpers/dataset.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, openClickHouse, readDeadLetters, readWindows, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { diffWindows, generateStream } from './kafka-stream.ts';
import { asAvro, avroEventSchema, produceBuffers, schemaRegistryUrl } from './registry-harness.ts';

const run = `avro${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${run}`;
const DLQ = `${TOPIC}.dlq`;
const SUBJECT = `${TOPIC}-value`;
const tenants = Array.from({ length: 10 }, (_, i) => `${run}-t${i}`);
const stream = generateStream({ seed: 15_002, tenants, count: 30_000, start: Date.now() - 12 * 60_000, spanMs: 10 * 60_000, allowedLatenessMs: 10_000, malformedRate: 0 });
const SEED = testSeed();
const random = prng(SEED);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let brokers: string;
let chdb: ChdbServer;
let db: ClickHouse;
let env: Record<string, string>;
let workers: WorkerProcess[] = [];
let external: SchemaRegistry;
let v1: number;
let v2: number;

beforeAll(async () => {
  let url: string;
  [url, brokers] = await Promise.all([schemaRegistryUrl(), kafkaBrokers()]);
  chdb = await startChdbServer();
  db = await openClickHouse(chdb.url);
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 4 },
    { topic: DLQ, partitions: 1 },
  ]);
  external = new SchemaRegistry({ host: url });
  await createRegistryClient({ url }).setCompatibility(SUBJECT, 'BACKWARD');
  ({ id: v1 } = await external.register({ type: SchemaType.AVRO, schema: JSON.stringify(avroEventSchema(`test.${run}`)) }, { subject: SUBJECT }));
  const coupon = { name: 'coupon', type: ['null', 'string'], default: null };
  ({ id: v2 } = await external.register({ type: SchemaType.AVRO, schema: JSON.stringify(avroEventSchema(`test.${run}`, [coupon])) }, { subject: SUBJECT }));
  env = {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: TOPIC,
    KAFKA_DLQ_TOPIC: DLQ,
    KAFKA_GROUP_ID: `${run}-workers`,
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    CLICKHOUSE_URL: chdb.url,
    ALLOWED_LATENESS_MS: '10000',
    FLUSH_INTERVAL_MS: '500',
    SCHEMA_REGISTRY_URL: url,
  };
  workers = await Promise.all([startWorker('a', env), startWorker('b', env)]);
}, 600_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await db?.close();
  await chdb?.stop();
});

describe('an external Avro producer', () => {
  it('is counted exactly while workers are killed with SIGKILL', () =>
    withSeed(SEED, async () => {
      console.log(`registry-avro: kill schedule from TILECAST_TEST_SEED=${SEED}`);
      const records = await Promise.all(
        stream.records.map(async (rec) => {
          const e = JSON.parse(rec.value) as Record<string, unknown>;
          const useV2 = random.next() < 0.5;
          return { key: rec.key, value: await external.encode(useV2 ? v2 : v1, asAvro(e, useV2 ? { coupon: null } : {})) };
        }),
      );
      const base = JSON.parse(stream.records[0]!.value) as Record<string, unknown>;
      const refusedOf = async (body: Record<string, unknown>) => external.encode(v2, asAvro({ ...base, eventId: crypto.randomUUID(), ...body }, { coupon: 'WELCOME' }));
      const couponed = await Promise.all(Array.from({ length: 5 }, () => refusedOf({})));
      const truncated = (await external.encode(v1, asAvro({ ...base, eventId: crypto.randomUUID() }))).subarray(0, 30);
      const refused = [...couponed.map((value) => ({ value, reason: 'schema_violation' })), { value: truncated, reason: 'registered_schema_violation' }];
      // Spread the refusals through the stream.
      const all = [...records];
      refused.forEach((x, i) => all.splice(Math.floor(((i + 1) * all.length) / (refused.length + 1)), 0, { key: String(base.tenantId), value: x.value }));

      let produced = 0;
      const production = produceBuffers(brokers, TOPIC, all, { chunk: 500, pace: 2_000, onProgress: (n) => (produced = n) });
      const kills: string[] = [];
      for (let i = 0; i < 3; i++) {
        await sleep(1_500 + random.next() * 3_000);
        const index = random.int(0, workers.length - 1);
        const victim = workers[index]!;
        await victim.kill();
        kills.push(`${victim.name} at ${produced}`);
        await sleep(100 + random.next() * 1_500);
        workers[index] = await startWorker(victim.name, env);
      }
      await production;

      let last = { count: -1, sample: [] as string[] };
      await waitFor(
        async () => {
          last = diffWindows(stream.truth, await readWindows(db, tenants));
          return last.count === 0;
        },
        { timeoutMs: 240_000, intervalMs: 2_000, what: 'windows to equal the ground truth' },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; ${last.count} windows differ, e.g. ${last.sample.join(' | ')}; kills: ${kills.join(', ')}`);
      });
      const dlq = await readDeadLetters(brokers, DLQ, refused.length);
      for (const x of refused) expect(dlq.byValue.get(x.value.toString()), x.reason).toEqual(new Set([x.reason]));
      expect(dlq.byValue.size).toBe(refused.length);
    }), 480_000);
});
