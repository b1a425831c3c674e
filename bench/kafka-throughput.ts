/**
 * One worker's throughput from Kafka to committed windows, beside the in-process
 * ceiling (parse + validate + aggregate, no I/O) measured on the same records in the
 * same run. Not a test: it prints figures.
 *
 *   node --import tsx bench/kafka-throughput.ts [--events 300000] [--clickhouse server|embedded] [--formats batched] [--profile /tmp/kafka]
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
 *
 * Under `npm run bench` (bench/run.ts) one process is one measurement of one side: it
 * drives the src/ of `--target DIR` and sends its figures to the harness instead of
 * printing them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance as perfHooks } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { z } from 'zod';
import { BENCH_TENANTS, benchEvents, createBenchTopic, encodeRecords, produceRecords, type Rec } from './harness/kafka-records.ts';
import { startProfile } from './harness/profile.ts';
import { reportResult, underHarness } from './harness/side.ts';
import { HERE_ROOT, loadKafkaTarget, targetRoot } from './harness/target.ts';

const eventLoopUtilization = perfHooks.eventLoopUtilization.bind(perfHooks);
const ROOT = targetRoot();
const target = await loadKafkaTarget(ROOT);
const { createWindowEngine, createWorkerApp, loadConfig, decodeMessage, createLogger } = target;
const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '300000' }, clickhouse: { type: 'string', default: 'server' }, formats: { type: 'string', default: 'batched,single' }, profile: { type: 'string' }, target: { type: 'string' } },
});
const N = Number(args.events);
const PARTITIONS = 4;
const TENANTS = BENCH_TENANTS;
const run = `${Date.now().toString(36)}-${process.pid}`;

function brokers(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  return execFileSync('bash', ['scripts/kafka/kafka.sh', 'start'], { cwd: HERE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Parse + validate + aggregate on the same records, partitioned like Kafka would, no I/O. */
function ceiling(recs: readonly Rec[]): number {
  const messages = recs.map((r, i) => ({ key: Buffer.from(r.key), value: r.value, headers: r.headers, offset: String(i), timestamp: '0' }));
  const best: number[] = [];
  for (let round = 0; round < 3; round++) {
    const engines = Array.from({ length: PARTITIONS }, () => createWindowEngine({ allowedLatenessMs: 10_000 }));
    const now = Date.now();
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < messages.length; i++) {
      for (const d of decodeMessage(messages[i]!)) {
        if (!d.ok) continue;
        engines[i % PARTITIONS]!.add(d.event, now);
        n += 1;
      }
    }
    best.push(n / ((performance.now() - t0) / 1000));
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

const MAIN_THREAD = 'main (JS)';

/** CPU seconds per thread name of this process (Linux /proc; empty elsewhere). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]); // utime + stime
      const key = tid === String(process.pid) ? MAIN_THREAD : name.replace(/[\d:]+$/, '');
      out.set(key, (out.get(key) ?? 0) + ticks / 100);
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** Produces `recs` to a fresh topic, then times one worker from owning all partitions to committed windows. */
async function runWorker(kafka: Kafka, bootstrap: string, server: { url: string } | null, label: string, recs: Rec[]) {
  const topic = `tilecast.bench.${run}.${label}`;
  await createBenchTopic(kafka, topic, PARTITIONS);
  await produceRecords(kafka, topic, recs);

  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'tilecast-bench-')),
    ...(server ? { CLICKHOUSE_URL: server.url } : {}),
    KAFKA_BROKERS: bootstrap,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `bench-${run}-${label}`,
    WORKER_PORT: '0',
    FLUSH_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
  });
  const app = await createWorkerApp({ config, logger: createLogger('warn') });
  await app.start();
  const ready = () => app.worker.partitions().length === PARTITIONS && app.worker.partitions().every((p) => p.status === 'running');
  while (!ready()) await new Promise((r) => setTimeout(r, 20));
  const statements = async () => {
    const m = (await app.metrics.registry.getMetricsAsJSON()).find((x) => x.name === 'tilecast_clickhouse_queries_total');
    const out = new Map<string, number>();
    for (const v of m?.values ?? []) out.set(String(v.labels.query_id), (out.get(String(v.labels.query_id)) ?? 0) + Number(v.value));
    return out;
  };
  const statements0 = await statements();
  const t0 = performance.now();
  const elu0 = eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const threads0 = threadCpu();
  const profiler = args.profile ? await startProfile() : null;
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
  const elu = eventLoopUtilization(elu0).utilization;
  const cpu = process.cpuUsage(cpu0);
  const allThreads = [...threadCpu()].map(([name, sec]) => [name, sec - (threads0.get(name) ?? 0)] as const);
  const threads = allThreads.filter(([, sec]) => sec > 0.05).sort((a, b) => b[1] - a[1]);
  const mainThread = allThreads.find(([name]) => name === MAIN_THREAD)?.[1] ?? 0;
  const otherThreads = allThreads.reduce((a, [name, sec]) => (name === MAIN_THREAD ? a : a + sec), 0);
  const statements1 = await statements();
  const calls = [...statements1].map(([id, n]) => [id, n - (statements0.get(id) ?? 0)] as const).filter(([, n]) => n > 0);
  if (profiler) writeFileSync(`${args.profile}.${label}.cpuprofile`, JSON.stringify(await profiler()));
  const [row] = await app.db.query({
    queryId: 'bench.count',
    sql: 'SELECT sum(purchases + signups + upgrades + churns) AS n FROM windows FINAL WHERE tenant_id IN {t:Array(String)}',
    params: { t: TENANTS },
    row: z.object({ n: z.coerce.number() }),
  });
  if (row?.n !== N) throw new Error(`windows hold ${row?.n} events, expected ${N}`);
  const accepted = await value('tilecast_kafka_records_total', ['outcome', 'accepted']);
  if (accepted !== N) throw new Error(`the worker accepted ${accepted} events, expected ${N}`);

  // Where the worker's time went, from its own metrics.
  const metrics = await app.metrics.registry.getMetricsAsJSON();
  const sums = (name: string) =>
    (metrics.find((m) => m.name === name)?.values ?? []).filter((v) => nameOf(v, name).endsWith('_sum')).map((v) => [String(v.labels.query_id ?? ''), Number(v.value)] as const);
  await app.stop();
  return {
    rate: N / seconds,
    seconds,
    elu,
    threads,
    cpuPerEvent: (cpu.user + cpu.system) / N,
    mainCpuPerEvent: (mainThread * 1e6) / N,
    otherCpuPerEvent: (otherThreads * 1e6) / N,
    calls,
    records: recs.length, clickhouse: sums('tilecast_clickhouse_query_duration_seconds'), batch: sums('tilecast_kafka_batch_duration_seconds')[0]?.[1] ?? 0 };
}

async function measure() {
  const bootstrap = brokers();
  const { batched, single } = encodeRecords(target, benchEvents(N));
  const kafka = new Kafka({ clientId: 'tilecast-bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const ceilings = { batched: ceiling(batched), single: ceiling(single) };
  const server = args.clickhouse === 'server' ? await chdbServer() : null;
  const results = {
    batched: await runWorker(kafka, bootstrap, server, 'batched', batched),
    single: args.formats === 'batched' ? null : await runWorker(kafka, bootstrap, server, 'single', single),
  };
  server?.stop();
  return { ceilings, results };
}

async function main() {
  const { ceilings, results } = await measure();
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`\nKafka → committed windows, one worker, ${f(N)} events, ${PARTITIONS} partitions, ClickHouse ${args.clickhouse}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);
  for (const kind of ['batched', 'single'] as const) {
    const r = results[kind];
    if (!r) continue;
    console.log(`\n  ${kind === 'batched' ? `batch records (as tilecast api sends them: ${f(N / r.records)} events per record)` : 'one record per event'}`);
    console.log(`    worker throughput       ${f(r.rate).padStart(10)} events/s   (${r.seconds.toFixed(2)} s)`);
    console.log(`    in-process ceiling      ${f(ceilings[kind]).padStart(10)} events/s   (parse + validate + aggregate the same records, no I/O)`);
    console.log(`    ratio                   ${(r.rate / ceilings[kind]).toFixed(2).padStart(10)}`);
    console.log('    time in ClickHouse calls (s, summed over calls):');
    for (const [id, sec] of [...r.clickhouse].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`      ${id.padEnd(34)} ${sec.toFixed(2)}`);
    console.log(`    ClickHouse calls while timed: ${r.calls.reduce((a, [, n]) => a + n, 0)} (${[...r.calls].sort((a, b) => b[1] - a[1]).map(([id, n]) => `${id} ${n}`).join(', ')})`);
    console.log(`    batch processing (s)    ${r.batch.toFixed(2)}   (summed over partitions, ClickHouse waits included)`);
    console.log(`    CPU per event           ${r.cpuPerEvent.toFixed(1).padStart(9)} µs   (this process, all threads${args.clickhouse === 'embedded' ? ', chdb included' : ''}; ceiling: ${(1e6 / ceilings[kind]).toFixed(1)} µs)`);
    console.log(`    CPU per event by thread  main (JS) ${r.mainCpuPerEvent.toFixed(1)} µs, all other threads (chdb, libuv, V8 GC helpers) ${r.otherCpuPerEvent.toFixed(1)} µs`);
    console.log(`    CPU by thread (µs/event) ${r.threads.map(([name, sec]) => `${name} ${((sec * 1e6) / N).toFixed(1)}`).join(', ')}`);
    console.log(`    main thread busy        ${(100 * r.elu).toFixed(0).padStart(9)} %   (event-loop utilisation while timed)`);
  }
  process.exit(0);
}

if (underHarness()) {
  await reportResult(async () => ({ events: N, target: ROOT, ...(await measure()) }));
  process.exit(); // kafkajs may keep timers of its own
} else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
