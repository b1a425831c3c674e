/**
 * Scale-out of the Kafka workers: the same N records (bench/harness/kafka-records.ts, as
 * bench/kafka-throughput.ts sends them) on a 4-partition topic, consumed by 1 and then by
 * 2 `tilecast worker` processes of one consumer group over one ClickHouse (a chdb-server
 * per scenario, fresh data). Prints each worker's share (partitions owned, events, ev/s,
 * CPU µs/event) and the total, and checks the stored totals equal the events sent. Not a
 * test: it prints figures.
 *
 *   node --import tsx bench/kafka-scaleout.ts [--events 300000] [--workers 2] [--restart] [--format batched|single]
 *
 * - Timing: the workers join the group on the empty topic and wait until every partition
 *   is owned and running; then they are held (SIGSTOP) while the records are produced,
 *   released (SIGCONT), and the clock runs until the group's committed offsets reach the
 *   log end of every partition (a worker commits after the flush that wrote the windows
 *   and progress; read from the broker, so nothing polls ClickHouse while timed).
 * - `--restart`: one more 2-worker run where the second worker is SIGKILLed once half the
 *   events are accepted and started again: the stored totals must still be exact (no event
 *   counted twice across the rebalance). Its time is not a throughput figure.
 * - CPU is per process (/proc): each worker, and the chdb-server beside them (ClickHouse's
 *   share); the broker is shared with other users and not counted.
 *
 * Broker: KAFKA_BROKERS, else the local one (scripts/kafka/kafka.sh start). Under
 * `npm run bench` (bench/entries/scaleout.ts) it drives the checkout of `--target DIR` and
 * sends its figures to the harness.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { BENCH_TENANTS, benchEvents, createBenchTopic, encodeRecords, produceRecords, type Rec } from './harness/kafka-records.ts';
import { reportResult, underHarness } from './harness/side.ts';
import { HERE_ROOT, loadKafkaTarget, targetRoot } from './harness/target.ts';
import { cpuSeconds, startChdbServer, startWorker, until, type ChdbServer, type WorkerProcess } from './harness/worker-group.ts';

const ROOT = targetRoot();
const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '300000' }, workers: { type: 'string', default: '2' }, restart: { type: 'boolean', default: false }, format: { type: 'string', default: 'batched' }, target: { type: 'string' } },
});
const N = Number(args.events);
const WORKERS = Number(args.workers);
const PARTITIONS = 4;
const run = `${Date.now().toString(36)}-${process.pid}`;
if (!(N > 0) || !(WORKERS >= 2 && WORKERS <= PARTITIONS) || !['batched', 'single'].includes(args.format)) {
  console.error('--events N > 0, --workers 2..4, --format batched|single');
  process.exit(2);
}

export interface WorkerShare { name: string; partitions: number[]; events: number; seconds: number; rate: number; cpuPerEvent: number }
export interface Scenario {
  workers: number; restart: boolean; events: number; seconds: number; rate: number; produceSeconds: number;
  /** CPU µs per event sent: the worker processes together, and the chdb-server. */
  cpuWorkers: number; cpuClickHouse: number;
  /** ClickHouse calls the workers made while timed (timed runs only): writes (inserts, INSERT … SELECT) and reads. */
  clickhouseCalls: { writes: number; reads: number };
  shares: WorkerShare[]; stored: { windows: number; eventLog: number }; accepted: number;
}

function brokers(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  return execFileSync('bash', ['scripts/kafka/kafka.sh', 'start'], { cwd: HERE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

const accepted = (w: WorkerProcess) => w.metric('tilecast_kafka_records_total', { outcome: 'accepted' });
const callsOf = async (ws: readonly WorkerProcess[], kind: 'insert' | 'command' | 'read') => (await Promise.all(ws.map((w) => w.metric('tilecast_clickhouse_queries_total', { kind })))).reduce((a, b) => a + b, 0);
/** ClickHouse calls of the workers so far: writes = inserts + commands (the rollups' INSERT … SELECT). */
const calls = async (ws: readonly WorkerProcess[]) => ({ writes: (await callsOf(ws, 'insert')) + (await callsOf(ws, 'command')), reads: await callsOf(ws, 'read') });

/** Until every partition is owned by exactly one worker, running, each worker owning some, for 1 s in a row. */
async function stableAssignment(workers: readonly WorkerProcess[]): Promise<Map<string, number[]>> {
  let since = 0;
  return until(async () => {
    const lists = await Promise.all(workers.map((w) => w.partitions()));
    const owned = lists.flat();
    const ok = owned.length === PARTITIONS && new Set(owned.map((p) => p.partition)).size === PARTITIONS && owned.every((p) => p.status === 'running') && lists.every((l) => l.length > 0);
    if (!ok) return (since = 0), undefined;
    since ||= Date.now();
    return Date.now() - since >= 1000 ? new Map(workers.map((w, i) => [w.name, lists[i]!.map((p) => p.partition).sort()])) : undefined;
  }, 'a stable assignment of every partition');
}

/** Polls the group's committed offsets until each partition reaches `ends`; returns when each got there (ms since `t0`). */
async function committedToEnd(kafka: Kafka, group: string, topic: string, ends: Map<number, number>, t0: number) {
  const admin = kafka.admin();
  await admin.connect();
  const doneAt = new Map<number, number>();
  try {
    await until(async () => {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      for (const p of t?.partitions ?? []) if (!doneAt.has(p.partition) && Number(p.offset) >= ends.get(p.partition)!) doneAt.set(p.partition, performance.now() - t0);
      return doneAt.size === ends.size;
    }, `group ${group} to commit every partition's log end`, 600_000, 50);
  } finally {
    await admin.disconnect();
  }
  return doneAt;
}

async function logEnds(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Once the workers have accepted half the events, SIGKILLs the last one and starts it again
 * in its place (same group, same ClickHouse): what it had consumed but not yet flushed is
 * consumed again by whoever owns its partitions next.
 */
async function killAtHalf(workers: WorkerProcess[], env: Record<string, string>): Promise<{ name: string; events: number; cpu: number }> {
  const victim = workers.at(-1)!;
  const cpu0 = cpuSeconds(victim.pid);
  const { events } = await until(async () => {
    const counts = await Promise.all(workers.map(accepted));
    return counts.reduce((a, b) => a + b, 0) >= N / 2 && { events: counts.at(-1)! };
  }, 'half the events accepted', 600_000, 20);
  const cpu = cpuSeconds(victim.pid) - cpu0;
  await victim.kill();
  workers[workers.length - 1] = await startWorker(ROOT, `${victim.name}-restarted`, env);
  return { name: victim.name, events, cpu };
}

/**
 * One scenario: a fresh topic and chdb-server, `k` workers in one group, N events.
 * With `restart`, the last worker is killed at half the events and started again.
 */
async function scenario(kafka: Kafka, bootstrap: string, recs: readonly Rec[], k: number, restart: boolean): Promise<Scenario> {
  const label = `w${k}${restart ? '-restart' : ''}`;
  const topic = `tilecast.scaleout.${run}.${label}`;
  const group = `bench-scaleout-${run}-${label}`;
  await createBenchTopic(kafka, topic, PARTITIONS);
  const ch: ChdbServer = await startChdbServer(ROOT);
  // Timed runs hold the group still while the topic fills, so the session must outlive the pause; the restart run
  // is not held, and a short session lets the killed member leave the group soon.
  const env = { CLICKHOUSE_URL: ch.url, KAFKA_BROKERS: bootstrap, KAFKA_TOPIC: topic, KAFKA_DLQ_TOPIC: `${topic}.dlq`, KAFKA_GROUP_ID: group, FLUSH_INTERVAL_MS: '1000', KAFKA_SESSION_TIMEOUT_MS: restart ? '10000' : '120000' };
  const workers: WorkerProcess[] = [];
  try {
    // One at a time: the first applies the migrations before the next opens the same server.
    for (let i = 1; i <= k; i++) workers.push(await startWorker(ROOT, `worker-${i}`, env));
    const assignment = await stableAssignment(workers);
    const calls0 = await calls(workers);
    if (!restart) for (const w of workers) w.pause();
    const cpu0 = new Map(workers.map((w) => [w.name, cpuSeconds(w.pid)]));
    const ch0 = cpuSeconds(ch.pid);
    const p0 = performance.now();
    // The restart run consumes while the records are produced, and loses its last worker midway.
    const killing = restart ? killAtHalf(workers, env) : Promise.resolve(undefined);
    await produceRecords(kafka, topic, recs);
    const produceSeconds = (performance.now() - p0) / 1000;
    const ends = await logEnds(kafka, topic);
    const t0 = restart ? p0 : performance.now();
    if (!restart) for (const w of workers) w.resume();
    const doneAt = await committedToEnd(kafka, group, topic, ends, t0);
    const killed = await killing;
    if (killed) cpu0.set(workers.at(-1)!.name, 0);
    const seconds = Math.max(...doneAt.values()) / 1000;
    const cpuClickHouse = cpuSeconds(ch.pid) - ch0;
    const calls1 = await calls(workers);
    const clickhouseCalls = { writes: calls1.writes - calls0.writes, reads: calls1.reads - calls0.reads };
    const owners = await Promise.all(workers.map((w) => w.partitions()));
    const shares: WorkerShare[] = [];
    for (const [i, w] of workers.entries()) {
      const events = await accepted(w);
      const cpu = cpuSeconds(w.pid) - (cpu0.get(w.name) ?? 0);
      // Timed runs: the assignment they ran with; the restart run: who owns what at the end.
      const partitions = restart ? owners[i]!.map((p) => p.partition).sort() : assignment.get(w.name)!;
      const secs = Math.max(0, ...partitions.map((p) => doneAt.get(p) ?? 0)) / 1000;
      shares.push({ name: w.name, partitions, events, seconds: secs, rate: events / secs, cpuPerEvent: (cpu * 1e6) / Math.max(1, events) });
    }
    if (killed) shares.push({ name: `${killed.name} (killed)`, partitions: assignment.get(killed.name) ?? [], events: killed.events, seconds: NaN, rate: NaN, cpuPerEvent: (killed.cpu * 1e6) / Math.max(1, killed.events) });
    const stored = await ch.storedTotals(BENCH_TENANTS);
    if (stored.windows !== N || stored.eventLog !== N) throw new Error(`${label}: windows hold ${stored.windows} events and the event log ${stored.eventLog}, expected ${N} each`);
    const cpuWorkers = shares.reduce((a, s) => a + s.cpuPerEvent * s.events, 0) / N;
    return { workers: k, restart, events: N, seconds, rate: N / seconds, produceSeconds, cpuWorkers, cpuClickHouse: (cpuClickHouse * 1e6) / N, clickhouseCalls, shares, stored, accepted: shares.reduce((a, s) => a + s.events, 0) };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await ch.stop();
  }
}

async function measure(): Promise<Scenario[]> {
  const bootstrap = brokers();
  const kafka = new Kafka({ clientId: 'tilecast-bench-scaleout', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const recs = encodeRecords(await loadKafkaTarget(ROOT), benchEvents(N))[args.format as 'batched' | 'single'];
  const out = [await scenario(kafka, bootstrap, recs, 1, false), await scenario(kafka, bootstrap, recs, WORKERS, false)];
  if (args.restart) out.push(await scenario(kafka, bootstrap, recs, WORKERS, true));
  return out;
}

const f = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');

function print(s: Scenario, one: Scenario): void {
  const title = s.restart ? `${s.workers} workers, the last one SIGKILLed at half the events and restarted` : `${s.workers} worker${s.workers > 1 ? 's' : ''}`;
  console.log(`\n  ${title}  (${s.restart ? 'produced while consuming' : 'topic filled while the group was held'}: ${s.produceSeconds.toFixed(1)} s)`);
  console.log(`    ${'worker'.padEnd(26)} ${'partitions'.padEnd(12)} ${'events'.padStart(9)} ${'ev/s'.padStart(9)} ${'CPU µs/ev'.padStart(10)}`);
  const cpu = (w: WorkerShare) => (w.events > 0 ? w.cpuPerEvent.toFixed(1) : '—');
  // The restart run's time includes producing and the restart: its rates are no throughput figures.
  const rate = (x: number) => (s.restart ? '—' : f(x));
  for (const w of s.shares) console.log(`    ${w.name.padEnd(26)} ${w.partitions.join(',').padEnd(12)} ${f(w.events).padStart(9)} ${rate(w.rate).padStart(9)} ${cpu(w).padStart(10)}`);
  const speedup = s.restart ? '' : s.workers > 1 ? `, ${(s.rate / one.rate).toFixed(2)}× 1 worker` : '';
  console.log(`    ${'total'.padEnd(26)} ${'0-3'.padEnd(12)} ${f(s.events).padStart(9)} ${rate(s.rate).padStart(9)} ${s.cpuWorkers.toFixed(1).padStart(10)}   (${s.seconds.toFixed(2)} s${speedup})`);
  const perSecond = (n: number) => (n / s.seconds).toFixed(1);
  const callsLine = s.restart ? '' : `; ${f(s.clickhouseCalls.writes)} writes (${perSecond(s.clickhouseCalls.writes)}/s) and ${f(s.clickhouseCalls.reads)} reads (${perSecond(s.clickhouseCalls.reads)}/s) from the workers`;
  console.log(`    ClickHouse (chdb-server)   CPU ${s.cpuClickHouse.toFixed(1)} µs/event; all processes ${(s.cpuWorkers + s.cpuClickHouse).toFixed(1)} µs/event${callsLine}`);
  if (s.restart) console.log('    (the killed worker: events accepted when last read, just before the kill; the restarted one: CPU includes its start)');
  console.log(`    stored: windows ${f(s.stored.windows)}, event log ${f(s.stored.eventLog)} = ${f(s.events)} sent${s.accepted > s.events ? ` (${f(s.accepted - s.events)} consumed again after the kill, none counted twice)` : ''}`);
}

function report(scenarios: readonly Scenario[], load0: number[]): void {
  console.log(`\nKafka scale-out: ${f(N)} events (${args.format}), ${PARTITIONS} partitions, one consumer group, one chdb-server per scenario; ${cpus().length} cores (shared), load average ${load0.map((x) => x.toFixed(1)).join(' ')} at start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at end`);
  for (const s of scenarios) print(s, scenarios[0]!);
}

async function main() {
  const load0 = loadavg();
  report(await measure(), load0);
  process.exit(0);
}

if (underHarness()) {
  // The human report goes to the harness's log too (each worker's share is not in its table).
  await reportResult(async () => {
    const load0 = loadavg();
    const scenarios = await measure();
    report(scenarios, load0);
    return { events: N, target: ROOT, scenarios };
  });
  process.exit(); // kafkajs may keep timers of its own
} else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
