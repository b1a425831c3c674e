/**
 * The schema registry unreachable while framed records arrive: the worker dead-letters
 * nothing and loses nothing — the partitions holding records of ids it has not resolved yet
 * pause and retry with backoff, /readyz answers 503 naming the registry, and
 * tilecast_schema_registry_up is 0 — then it catches up when the registry answers again.
 * The outage is a TCP proxy in front of the real registry that stops accepting connections.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsJsonSchemaText } from '../../src/model/json-schema.ts';
import { loadPlan } from '../helpers/model.ts';
import { frame } from '../../src/ingest/registry/wire.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, openClickHouse, readWindows, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { diffWindows, generateStream } from './kafka-stream.ts';
import { produceBuffers, registerSchema, schemaRegistryUrl } from './registry-harness.ts';

const run = `outage${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${run}`;
const DLQ = `${TOPIC}.dlq`;
const tenants = Array.from({ length: 4 }, (_, i) => `${run}-t${i}`);
const stream = generateStream({ seed: 15_003, tenants, count: 4_000, start: Date.now() - 12 * 60_000, spanMs: 10 * 60_000, allowedLatenessMs: 10_000, malformedRate: 0 });

/** Forwards 127.0.0.1:<port> to the registry; `down()` refuses connections (and cuts open ones) until `up()`. */
function registryProxy(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  return {
    url: () => `http://127.0.0.1:${port}${target.pathname}`,
    up: listen,
    async down() {
      const s = server;
      server = null;
      for (const x of sockets) x.destroy();
      await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    },
  };
}

let brokers: string;
let chdb: ChdbServer;
let db: ClickHouse;
let worker: WorkerProcess | null = null;
let proxy: ReturnType<typeof registryProxy>;
let id: number;

beforeAll(async () => {
  let url: string;
  [url, brokers] = await Promise.all([schemaRegistryUrl(), kafkaBrokers()]);
  id = await registerSchema(url, `${TOPIC}-value`, eventsJsonSchemaText(loadPlan()));
  proxy = registryProxy(new URL(url));
  await proxy.up();
  chdb = await startChdbServer();
  db = await openClickHouse(chdb.url);
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 4 },
    { topic: DLQ, partitions: 1 },
  ]);
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  await proxy?.down();
  await db?.close();
  await chdb?.stop();
});

describe('schema registry outage', () => {
  it('pauses without dead letters, says why, and catches up exactly', async () => {
    worker = await startWorker('a', {
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: TOPIC,
      KAFKA_DLQ_TOPIC: DLQ,
      KAFKA_GROUP_ID: `${run}-workers`,
      CLICKHOUSE_URL: chdb.url,
      ALLOWED_LATENESS_MS: '10000',
      FLUSH_INTERVAL_MS: '500',
      SCHEMA_REGISTRY_URL: proxy.url(),
    });
    const w = worker;
    await waitFor(async () => (await fetch(`${w.url}/readyz`)).status === 200, { timeoutMs: 60_000, what: 'worker ready' });
    await proxy.down();

    // Every fourth record plain JSON, the rest framed with an id the worker has not resolved.
    await produceBuffers(
      brokers,
      TOPIC,
      stream.records.map((r, i) => ({ key: r.key, value: i % 4 === 0 ? r.value : frame(id, r.value) })),
    );

    const readyz = await waitFor(
      async () => {
        const res = await fetch(`${w.url}/readyz`);
        const body = (await res.json()) as { checks: Record<string, { ok: boolean; detail: string }> };
        // Both in one answer: between retries a waiting partition resumes to fetch again, so
        // the kafka check alternates while the registry is down; the registry check does not.
        return res.status === 503 && body.checks.schemaRegistry?.ok === false && body.checks.kafka?.ok === false ? body : null;
      },
      { timeoutMs: 60_000, what: '/readyz to say the registry is unreachable and partitions are paused' },
    );
    expect(readyz.checks.schemaRegistry!.detail).toContain('unreachable');
    expect(await w.metric('tilecast_schema_registry_up')).toBe(0);
    // Retries with backoff while down, and concludes nothing about the records.
    await waitFor(async () => (await w.metric('tilecast_schema_registry_lookups_total', { outcome: 'unavailable' })) >= 3, { timeoutMs: 60_000, what: 'retries' });
    expect(await w.metric('tilecast_kafka_records_total', { outcome: 'dead_lettered' })).toBe(0);
    expect(diffWindows(stream.truth, await readWindows(db, tenants)).count).toBeGreaterThan(0);

    await proxy.up();
    let last = { count: -1, sample: [] as string[] };
    await waitFor(
      async () => {
        last = diffWindows(stream.truth, await readWindows(db, tenants));
        return last.count === 0;
      },
      { timeoutMs: 120_000, intervalMs: 1_000, what: `windows to equal the ground truth (${last.count} differ)` },
    );
    expect(await w.metric('tilecast_kafka_records_total', { outcome: 'dead_lettered' })).toBe(0);
    expect(await w.metric('tilecast_schema_registry_up')).toBe(1);
    expect(await w.metric('tilecast_schema_registry_lookups_total', { outcome: 'resolved' })).toBe(1);
    await waitFor(async () => (await fetch(`${w.url}/readyz`)).status === 200, { timeoutMs: 30_000, what: '/readyz 200 again' });
  }, 300_000);
});
