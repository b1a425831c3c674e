/**
 * What the schema registry's wire format costs the worker: one worker's throughput from
 * Kafka to committed windows and its CPU per event, for the same events as plain JSON,
 * registry-framed JSON (JSON Schema) and registry-framed Avro, one record per event each
 * (the wire format carries one event per record), measured in one run. Beside it, the
 * decode step alone (decode.ts with the resolver, no I/O) per format. Not a test: it
 * prints figures.
 *
 *   node --import tsx bench/registry.ts [--events 100000] [--passes 2]
 *
 * The formats take turns (plain, JSON, Avro, plain, …) for `--passes` rounds and the best
 * round of each is printed, so a load spike on the shared machine does not land on one
 * format only; the decode step alone is timed the same way (5 rounds, formats in turn).
 *
 * Broker: KAFKA_BROKERS, else scripts/kafka/kafka.sh start. Registry: SCHEMA_REGISTRY_URL,
 * else scripts/schema-registry/registry.sh start. ClickHouse: a chdb-server the worker
 * talks HTTP to (as in bench/kafka-throughput.ts, whose method this follows: produce first,
 * time from "all partitions running" to "every event in a completed window write").
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import avro from 'avsc';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { z } from 'zod';
import { createWorkerApp } from '../src/app/worker.ts';
import { loadConfig } from '../src/config/index.ts';
import type { EventV1 } from '../src/contracts/event.ts';
import { decodeRecord } from '../src/ingest/kafka/decode.ts';
import { isRejected, validate } from '../src/ingest/pipeline/steps.ts';
import { encodeEvent } from '../src/ingest/kafka/producer.ts';
import { createRegistryClient } from '../src/ingest/registry/client.ts';
import { eventsJsonSchemaText } from '../src/model/json-schema.ts';
import { createSchemaResolver } from '../src/ingest/registry/resolver.ts';
import { frame } from '../src/ingest/registry/wire.ts';
import { requireModel } from '../src/model/compile.ts';
import { createLogger } from '../src/observability/logger.ts';
import { avroEventSchema } from '../test/helpers/avro.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({ options: { events: { type: 'string', default: '100000' }, passes: { type: 'string', default: '2' } } });
const N = Number(args.events);
const PARTITIONS = 4;
const run = Date.now().toString(36);
const FORMATS = ['plain', 'json', 'avro'] as const;
type Format = (typeof FORMATS)[number];
const LABEL: Record<Format, string> = { plain: 'plain JSON', json: 'framed JSON (JSON Schema)', avro: 'framed Avro' };

const AVRO_SCHEMA = avroEventSchema('bench');

const started = (cmd: string[], env: string | undefined) =>
  env ?? execFileSync('bash', cmd, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }).trim().split('\n').at(-1)!;

/** Each format's run has tenants of its own: windows are keyed by tenant, not by topic. */
const tenantsOf = (f: string) => Array.from({ length: 20 }, (_, i) => `bench-${run}-${f}-t${i}`);

function events(tenants: readonly string[]): EventV1[] {
  const start = Date.now() - 11 * 60_000;
  const currencies = ['USD', 'EUR', 'JPY'];
  const types = ['purchase', 'purchase', 'signup', 'upgrade', 'churn'] as const;
  return Array.from({ length: N }, (_, i) => {
    const currency = currencies[(i * 7) % 3]!;
    const eventType = types[(i * 13) % types.length]!;
    return {
      eventId: randomUUID(),
      eventType,
      userId: `user-${(i * 31) % 5000}`,
      tenantId: tenants[i % tenants.length]!,
      currency,
      ...(eventType === 'purchase' ? { amount: currency === 'JPY' ? String(100 + (i % 9000)) : `${(i % 500) + 1}.${String(i % 100).padStart(2, '0')}` } : {}),
      traceId: randomUUID().replaceAll('-', ''),
      timestamp: start + Math.floor((i / N) * 10 * 60_000),
    };
  });
}

type Rec = { key: string; value: Buffer };

async function chdbServer(): Promise<{ url: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'tilecast-bench-ch-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/chdb-server.ts', '--path', dir, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^(http:\/\/[\d.]+:\d+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`chdb-server exited ${code}`)));
  });
  return { url, stop: () => proc.kill('SIGTERM') };
}

/** The decode step alone, µs per event (ids resolved beforehand, as in the worker): one round over the records. */
async function decoder(recs: readonly Rec[], registryUrl: string, subject: string): Promise<() => number> {
  const plan = await requireModel('models/default.yaml');
  const messages = recs.map((r, i) => ({ key: Buffer.from(r.key), value: r.value, offset: String(i), timestamp: '0' }));
  const resolver = createSchemaResolver({ client: createRegistryClient({ url: registryUrl }), subject });
  await resolver.prepare(messages.map((m) => m.value));
  return () => {
    const t0 = performance.now();
    let ok = 0;
    for (const m of messages) for (const d of decodeRecord(m, undefined, resolver)) ok += !isRejected(d) && !isRejected(validate(plan, d.value)) ? 1 : 0;
    if (ok !== messages.length) throw new Error(`decoded ${ok} of ${messages.length}`);
    return ((performance.now() - t0) * 1000) / messages.length;
  };
}

async function runWorker(kafka: Kafka, bootstrap: string, registryUrl: string, chdb: string, topic: string, subject: string, recs: Rec[], tenants: readonly string[]) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }, { topic: `${topic}.dlq`, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0, j = 0; i < recs.length; i = j) {
    for (let bytes = 0; j < recs.length && (j === i || bytes + recs[j]!.value.length < 768 * 1024); j++) bytes += recs[j]!.value.length;
    await producer.send({ topic, acks: -1, messages: recs.slice(i, j) });
  }
  await producer.disconnect();

  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'tilecast-bench-')),
    CLICKHOUSE_URL: chdb,
    KAFKA_BROKERS: bootstrap,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `bench-${topic}`,
    WORKER_PORT: '0',
    FLUSH_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
    // Every run has the registry configured; plain records simply never need it.
    SCHEMA_REGISTRY_URL: registryUrl,
    SCHEMA_SUBJECT: subject,
  });
  const app = await createWorkerApp({ config, logger: createLogger('warn') });
  await app.start();
  const ready = () => app.worker.partitions().length === PARTITIONS && app.worker.partitions().every((p) => p.status === 'running');
  while (!ready()) await new Promise((r) => setTimeout(r, 20));
  const value = async (name: string, label?: [string, string]) =>
    ((await app.metrics.registry.getSingleMetric(name)?.get())?.values ?? [])
      .filter((v) => !label || v.labels[label[0]] === label[1])
      .filter((v) => {
        const n = (v as { metricName?: string }).metricName ?? name;
        return !n.endsWith('_bucket') && !n.endsWith('_sum');
      })
      .reduce((a, v) => a + Number(v.value), 0);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const flushes = () => value('tilecast_flush_duration_seconds');
  while ((await value('tilecast_kafka_records_total', ['outcome', 'accepted'])) < N) await new Promise((r) => setTimeout(r, 5));
  const flushesAtAccepted = await flushes();
  while ((await flushes()) < flushesAtAccepted + 2 * PARTITIONS) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const [row] = await app.db.query({
    queryId: 'bench.count',
    sql: 'SELECT sum(purchases + signups + upgrades + churns) AS n FROM windows FINAL WHERE tenant_id IN {t:Array(String)}',
    params: { t: tenants },
    row: z.object({ n: z.coerce.number() }),
  });
  const dead = await value('tilecast_kafka_records_total', ['outcome', 'dead_lettered']);
  await app.stop();
  return { rate: N / seconds, seconds, cpuPerEvent: (cpu.user + cpu.system) / N, stored: row?.n ?? 0, dead };
}

async function main() {
  const bootstrap = started(['scripts/kafka/kafka.sh', 'start'], process.env.KAFKA_BROKERS);
  const registryUrl = started(['scripts/schema-registry/registry.sh', 'start'], process.env.SCHEMA_REGISTRY_URL);
  const registry = createRegistryClient({ url: registryUrl });
  const topics = Object.fromEntries(FORMATS.map((f) => [f, `tilecast.bench.${run}.${f}`])) as Record<Format, string>;
  for (const f of ['json', 'avro'] as const) await registry.setCompatibility(`${topics[f]}-value`, 'BACKWARD');
  const jsonId = await registry.register(`${topics.json}-value`, eventsJsonSchemaText(await requireModel('models/default.yaml')), 'JSON');
  const avroId = await registry.register(`${topics.avro}-value`, JSON.stringify(AVRO_SCHEMA), 'AVRO');
  const avroType = avro.Type.forSchema(AVRO_SCHEMA as avro.Schema);

  // The same kind of events for each format and pass, each with tenants of its own.
  const encoders: Record<Format, (e: EventV1) => Buffer> = {
    plain: (e) => Buffer.from(encodeEvent(e)),
    json: (e) => frame(jsonId, encodeEvent(e)),
    avro: (e) => frame(avroId, avroType.toBuffer({ eventId: null, amount: null, ...e })),
  };
  const recordsOf = (f: Format, tenants: readonly string[]): Rec[] => events(tenants).map((e) => ({ key: e.tenantId, value: encoders[f](e) }));
  const recs = Object.fromEntries(FORMATS.map((f) => [f, recordsOf(f, tenantsOf(f))])) as Record<Format, Rec[]>;
  const decoders = {} as Record<Format, () => number>;
  for (const f of FORMATS) decoders[f] = await decoder(recs[f], registryUrl, `${topics[f]}-value`);
  const decode = { plain: Infinity, json: Infinity, avro: Infinity } as Record<Format, number>;
  for (let round = 0; round < 5; round++) for (const f of FORMATS) decode[f] = Math.min(decode[f], decoders[f]());

  const kafka = new Kafka({ clientId: 'tilecast-bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const server = await chdbServer();
  type Result = Awaited<ReturnType<typeof runWorker>>;
  const results = {} as Record<Format, Result>;
  const all = { plain: [], json: [], avro: [] } as Record<Format, Result[]>;
  for (let pass = 0; pass < Number(args.passes); pass++) {
    for (const f of FORMATS) {
      // A fresh topic and tenants per pass: every run starts from an empty log.
      const tenants = tenantsOf(`${f}${pass}`);
      const r = await runWorker(kafka, bootstrap, registryUrl, server.url, `${topics[f]}.${pass}`, `${topics[f]}-value`, recordsOf(f, tenants), tenants);
      if (r.stored !== N || r.dead !== 0) throw new Error(`${f}: windows hold ${r.stored} events (expected ${N}), ${r.dead} dead letters`);
      all[f].push(r);
      if (!results[f] || r.rate > results[f].rate) results[f] = r;
    }
  }
  server.stop();

  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const pct = (x: number, base: number) => `${x >= base ? '+' : ''}${(((x - base) / base) * 100).toFixed(0)}%`;
  console.log(`\nKafka → committed windows, one worker, ${fmt(N)} events per format (one record per event), ${PARTITIONS} partitions, ClickHouse server (chdb-server), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);
  console.log(`\n  ${'format'.padEnd(28)}${'events/s'.padStart(10)}${'vs plain'.padStart(10)}${'CPU µs/event'.padStart(14)}${'vs plain'.padStart(10)}${'decode µs/event'.padStart(17)}`);
  for (const f of FORMATS) {
    const r = results[f];
    const p = results.plain;
    console.log(
      `  ${LABEL[f].padEnd(28)}${fmt(r.rate).padStart(10)}${(f === 'plain' ? '' : pct(r.rate, p.rate)).padStart(10)}${r.cpuPerEvent.toFixed(1).padStart(14)}${(f === 'plain' ? '' : pct(r.cpuPerEvent, p.cpuPerEvent)).padStart(10)}${decode[f].toFixed(2).padStart(17)}`,
    );
  }
  for (const f of FORMATS) console.log(`  ${LABEL[f]} passes: ${all[f].map((r) => `${fmt(r.rate)}/s ${r.cpuPerEvent.toFixed(1)} µs`).join(', ')}`);
  console.log('\n  best pass per format; decode = decode.ts alone on the same records (JSON.parse or Avro decode, registered-schema check, contract, key rule), best of 5 rounds taken in turn');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
