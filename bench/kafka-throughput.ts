/**
 * One worker's throughput from Kafka to committed windows, beside the in-process
 * ceiling (parse + validate + aggregate, no I/O) measured on the same records in the
 * same run. Not a test: it prints figures.
 *
 *   node --import tsx bench/kafka-throughput.ts [--events 300000] [--clickhouse server|embedded]
 *
 * - Broker: KAFKA_BROKERS, else the local one (scripts/kafka/kafka.sh start).
 * - ClickHouse: `server` (default) spawns scripts/chdb-server.ts and the worker talks
 *   HTTP to it, as a deployed worker talks to a ClickHouse server; `embedded` runs chdb
 *   inside the worker process (its engine calls then share the worker's CPU).
 * - The records (valid Event v1 over 20 tenants, 4 partitions) are produced first; the
 *   clock starts once the worker owns and has recovered all partitions and stops when
 *   every event is in a window write that completed ("committed windows": the worker
 *   accepted all N and every partition finished a flush after that). The bench then
 *   checks the `windows` table holds exactly N events (untimed, so polling ClickHouse
 *   does not slow the worker down).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { z } from 'zod';
import { createWindowEngine } from '../src/aggregate/window-engine.ts';
import { createWorkerApp } from '../src/app/worker.ts';
import { loadConfig } from '../src/config/index.ts';
import { decodeRecord } from '../src/ingest/kafka/decode.ts';
import { createLogger } from '../src/observability/logger.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({ options: { events: { type: 'string', default: '300000' }, clickhouse: { type: 'string', default: 'server' } } });
const N = Number(args.events);
const PARTITIONS = 4;
const TENANTS = Array.from({ length: 20 }, (_, i) => `bench-t${i}`);
const run = Date.now().toString(36);
const topic = `tilecast.bench.${run}`;

function brokers(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  return execFileSync('bash', ['scripts/kafka/kafka.sh', 'start'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Valid events, ~250 bytes each, spread over 10 minutes of event time. */
function records(): { key: string; value: Buffer }[] {
  const start = Date.now() - 11 * 60_000;
  const currencies = ['USD', 'EUR', 'JPY'];
  const types = ['purchase', 'purchase', 'signup', 'upgrade', 'churn'] as const;
  return Array.from({ length: N }, (_, i) => {
    const tenantId = TENANTS[i % TENANTS.length]!;
    const currency = currencies[(i * 7) % 3]!;
    const eventType = types[(i * 13) % types.length]!;
    const event = {
      eventId: randomUUID(),
      eventType,
      userId: `user-${(i * 31) % 5000}`,
      tenantId,
      currency,
      ...(eventType === 'purchase' ? { amount: currency === 'JPY' ? String(100 + (i % 9000)) : `${(i % 500) + 1}.${String(i % 100).padStart(2, '0')}` } : {}),
      traceId: randomUUID().replaceAll('-', ''),
      timestamp: start + Math.floor((i / N) * 10 * 60_000),
    };
    return { key: tenantId, value: Buffer.from(JSON.stringify(event)) };
  });
}

/** Parse + validate + aggregate on the same records, partitioned like Kafka would, no I/O. */
function ceiling(recs: { key: string; value: Buffer }[]): number {
  const messages = recs.map((r, i) => ({ key: Buffer.from(r.key), value: r.value, offset: String(i), timestamp: '0' }));
  const best: number[] = [];
  for (let round = 0; round < 3; round++) {
    const engines = Array.from({ length: PARTITIONS }, () => createWindowEngine({ allowedLatenessMs: 10_000 }));
    const now = Date.now();
    const t0 = performance.now();
    for (let i = 0; i < messages.length; i++) {
      const d = decodeRecord(messages[i]!);
      if (d.ok) engines[i % PARTITIONS]!.add(d.event, now);
    }
    best.push(messages.length / ((performance.now() - t0) / 1000));
  }
  return Math.max(...best);
}

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

/** Histogram values carry their series name (`…_bucket`, `…_sum`, `…_count`); counters do not. */
const nameOf = (v: object, fallback: string): string => (v as { metricName?: string }).metricName ?? fallback;

async function main() {
  const bootstrap = brokers();
  const recs = records();
  const kafka = new Kafka({ clientId: 'tilecast-bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }, { topic: `${topic}.dlq`, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const p0 = performance.now();
  for (let i = 0; i < recs.length; i += 10_000) await producer.send({ topic, acks: -1, messages: recs.slice(i, i + 10_000) });
  const produceSeconds = (performance.now() - p0) / 1000;
  await producer.disconnect();

  const ceilingRate = ceiling(recs);

  const server = args.clickhouse === 'server' ? await chdbServer() : null;
  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'tilecast-bench-')),
    ...(server ? { CLICKHOUSE_URL: server.url } : {}),
    KAFKA_BROKERS: bootstrap,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `bench-${run}`,
    WORKER_PORT: '0',
    FLUSH_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
  });
  const app = await createWorkerApp({ config, logger: createLogger('warn') });
  await app.start();
  const ready = () => app.worker.partitions().length === PARTITIONS && app.worker.partitions().every((p) => p.status === 'running');
  while (!ready()) await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  const value = async (name: string, label?: [string, string]) =>
    ((await app.metrics.registry.getSingleMetric(name)?.get())?.values ?? [])
      .filter((v) => !label || v.labels[label[0]] === label[1])
      .filter((v) => !nameOf(v, name).endsWith('_bucket') && !nameOf(v, name).endsWith('_sum'))
      .reduce((a, v) => a + Number(v.value), 0);
  const flushes = () => value('tilecast_flush_duration_seconds');
  while ((await value('tilecast_kafka_records_total', ['outcome', 'accepted'])) < N) await new Promise((r) => setTimeout(r, 5));
  const flushesAtAccepted = await flushes();
  // Each partition flushes once per interval; PARTITIONS + PARTITIONS more completed flushes
  // guarantee one that started after the last event was fed, for every partition.
  while ((await flushes()) < flushesAtAccepted + 2 * PARTITIONS) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - t0) / 1000;
  const rate = N / seconds;
  const [row] = await app.db.query({
    queryId: 'bench.count',
    sql: 'SELECT sum(purchases + signups + upgrades + churns) AS n FROM windows FINAL WHERE tenant_id IN {t:Array(String)}',
    params: { t: TENANTS },
    row: z.object({ n: z.coerce.number() }),
  });
  if (row?.n !== N) throw new Error(`windows hold ${row?.n} events, expected ${N}`);

  // Where the worker's time went, from its own metrics.
  const metrics = await app.metrics.registry.getMetricsAsJSON();
  const sums = (name: string) =>
    (metrics.find((m) => m.name === name)?.values ?? []).filter((v) => nameOf(v, name).endsWith('_sum')).map((v) => [String(v.labels.query_id ?? ''), Number(v.value)] as const);
  await app.stop();
  server?.stop();

  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`\nKafka → committed windows, one worker, ${f(N)} events, ${PARTITIONS} partitions, ClickHouse ${args.clickhouse}`);
  console.log(`  worker throughput         ${f(rate).padStart(10)} events/s   (${seconds.toFixed(2)} s)`);
  console.log(`  in-process ceiling        ${f(ceilingRate).padStart(10)} events/s   (parse + validate + aggregate, no I/O)`);
  console.log(`  ratio                     ${(rate / ceilingRate).toFixed(2).padStart(10)}`);
  console.log(`  (producing the records:   ${f(N / produceSeconds).padStart(10)} events/s, not timed above)`);
  console.log('  time in ClickHouse calls (s, summed over calls):');
  for (const [id, s] of sums('tilecast_clickhouse_query_duration_seconds').sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`    ${id.padEnd(34)} ${s.toFixed(2)}`);
  const batch = sums('tilecast_kafka_batch_duration_seconds')[0]?.[1] ?? 0;
  console.log(`  batch processing (s)      ${batch.toFixed(2)}`);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
