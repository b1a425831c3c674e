/**
 * Real processes for the Kafka integration tests: the broker (scripts/kafka/kafka.sh,
 * or TILECAST_TEST_KAFKA_BROKERS when CI already started one), one chdb-server that
 * every process shares through CLICKHOUSE_URL, `tilecast worker` processes, and
 * helpers to produce the stream, read the dead-letter topic and read stored windows.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { z } from 'zod';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createClickHouse, type ClickHouse } from '../../src/storage/clickhouse.ts';
import { migrate } from '../../src/storage/migrations.ts';
import { waitFor } from '../helpers/wait.ts';
import type { StreamRecord, WindowValues } from './kafka-stream.ts';
import { windowKey } from './kafka-stream.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/**
 * The broker to test against: TILECAST_TEST_KAFKA_BROKERS (CI starts one), else the
 * local broker from scripts/kafka/kafka.sh, started here if needed (flock: test files
 * run in parallel). It is left running for the other test files; `kafka.sh stop` ends it.
 */
export async function kafkaBrokers(): Promise<string> {
  const fromEnv = process.env.TILECAST_TEST_KAFKA_BROKERS;
  if (fromEnv) return fromEnv;
  const { stdout } = await run('flock', [join(tmpdir(), 'tilecast-kafka-start.lock'), 'bash', 'scripts/kafka/kafka.sh', 'start'], {
    cwd: ROOT,
    timeout: 180_000,
  });
  const brokers = stdout.trim().split('\n').at(-1) ?? '';
  if (!/^[\w.-]+:\d+/.test(brokers)) throw new Error(`kafka.sh start printed no bootstrap address: ${stdout}`);
  return brokers;
}

export function kafkaClient(brokers: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });
}

export async function createTopics(brokers: string, topics: { topic: string; partitions: number }[]): Promise<void> {
  const admin = kafkaClient(brokers, 'tilecast-test-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions })) });
  } finally {
    await admin.disconnect();
  }
}

/** Produces records in order (acks=all), `chunk` per send; `pace` records/s when given. */
export async function produce(brokers: string, topic: string, records: readonly StreamRecord[], o: { chunk?: number; pace?: number; onProgress?: (sent: number) => void } = {}) {
  const producer = kafkaClient(brokers, 'tilecast-test-producer').producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const chunk = o.chunk ?? 5_000;
  const started = Date.now();
  // `pace` and `chunk` count events (a batch record carries one per line).
  const eventsOf = records.map((r) => (r.kind === 'batch' ? r.value.split('\n').length : 1));
  let sentEvents = 0;
  try {
    for (let i = 0; i < records.length; ) {
      if (o.pace) {
        const dueAt = started + (sentEvents / o.pace) * 1000;
        if (dueAt > Date.now()) await new Promise((r) => setTimeout(r, dueAt - Date.now()));
      }
      // Up to `chunk` events, and under the broker's 1 MiB record-batch limit.
      let j = i;
      let events = 0;
      let bytes = 0;
      while (j < records.length && (j === i || (events + eventsOf[j]! <= chunk && bytes + records[j]!.value.length <= 768 * 1024))) {
        events += eventsOf[j]!;
        bytes += records[j]!.value.length;
        j++;
      }
      await producer.send({ topic, acks: -1, messages: records.slice(i, j).map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
      sentEvents += events;
      i = j;
      o.onProgress?.(j);
    }
  } finally {
    await producer.disconnect();
  }
}

/** Reads the whole dead-letter topic until `expected` records arrived: value → reasons, plus the source header of each. */
export async function readDeadLetters(brokers: string, topic: string, expected: number, timeoutMs = 60_000) {
  const consumer = kafkaClient(brokers, 'tilecast-test-dlq').consumer({ groupId: `dlq-reader-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100 });
  const byValue = new Map<string, Set<string>>();
  const sources = new Set<string>();
  let total = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        total += 1;
        const value = message.value?.toString() ?? '';
        const reason = message.headers?.['tilecast-reason']?.toString() ?? '';
        sources.add(message.headers?.['tilecast-source']?.toString() ?? '');
        byValue.set(value, (byValue.get(value) ?? new Set()).add(reason));
      },
    });
    await waitFor(() => byValue.size >= expected, { timeoutMs, intervalMs: 200, what: `${expected} distinct dead letters (have ${byValue.size})` });
  } finally {
    await consumer.disconnect();
  }
  return { byValue, sources, total };
}

export interface ChdbServer {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A chdb-server on a fresh data directory (migrated), for CLICKHOUSE_URL. */
export async function startChdbServer(): Promise<ChdbServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tilecast-kafka-ch-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/chdb-server.ts', '--path', dir, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  const url = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`chdb-server exited ${proc.exitCode}: ${err}`);
      return /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1];
    },
    { timeoutMs: 60_000, what: 'chdb-server URL' },
  );
  return {
    url,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, { timeoutMs: 30_000, what: 'chdb-server exit' });
    },
  };
}

export async function openClickHouse(url: string): Promise<ClickHouse> {
  const db = await createClickHouse({ config: { kind: 'server', url }, logger: createLogger('silent'), metrics: createMetrics() });
  await migrate(db);
  return db;
}

const windowRow = z.object({
  tenant_id: z.string(),
  currency: z.string(),
  window_start_ms: z.coerce.number(),
  revenue: z.string(),
  purchases: z.coerce.number(),
  signups: z.coerce.number(),
  upgrades: z.coerce.number(),
  churns: z.coerce.number(),
  active_users: z.coerce.number(),
});

/** The newest snapshot of every window of these tenants, keyed like the ground truth. */
export async function readWindows(db: ClickHouse, tenants: readonly string[]): Promise<Map<string, WindowValues>> {
  const rows = await db.query({
    queryId: 'test.kafka.windows',
    sql: `SELECT tenant_id, currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms, toString(revenue) AS revenue,
                 purchases, signups, upgrades, churns, active_users
          FROM windows FINAL WHERE tenant_id IN {tenants:Array(String)}`,
    params: { tenants },
    row: windowRow,
  });
  const canonical = (d: string) => (d.includes('.') ? d.replace(/0+$/, '').replace(/\.$/, '') : d);
  return new Map(
    rows.map((r) => [
      windowKey(r.tenant_id, r.currency, r.window_start_ms),
      { revenue: canonical(r.revenue), purchases: r.purchases, signups: r.signups, upgrades: r.upgrades, churns: r.churns, activeUsers: r.active_users },
    ]),
  );
}

export interface WorkerProcess {
  readonly name: string;
  proc: ChildProcess;
  url: string;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGKILL, and wait for the process to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), with a deadline. */
  stop(): Promise<void>;
  output(): string;
}

/** Starts `tilecast worker` with `env` on top of this process's environment. */
export async function startWorker(name: string, env: Record<string, string>): Promise<WorkerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', WORKER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-20_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`worker ${name} exited ${proc.exitCode}: ${out}`);
      return /Metrics \/ health\s+(http:\/\/[\d.]+:\d+)\/metrics/.exec(out)?.[1];
    },
    { timeoutMs: 120_000, what: `worker ${name} to start` },
  );
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    name,
    proc,
    url,
    async metric(metricName, labels = {}) {
      const text = await (await fetch(`${url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(metricName)) continue;
        const m = /^(\w+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (!m || m[1] !== metricName) continue;
        if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
      }
      return sum;
    },
    async kill() {
      if (!gone()) proc.kill('SIGKILL');
      await waitFor(gone, { timeoutMs: 10_000, what: `worker ${name} to die` });
    },
    async stop() {
      if (!gone()) proc.kill('SIGTERM');
      await waitFor(gone, { timeoutMs: 30_000, what: `worker ${name} to stop` }).catch(() => proc.kill('SIGKILL'));
    },
    output: () => out,
  };
}

/** Resident memory of a process in bytes (Linux /proc), 0 once it is gone. */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}
