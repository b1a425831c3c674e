/**
 * The setup the 200,000-event Kafka scenarios share (done-when 1–3 of issue 3): a stream
 * over 20 tenants with its ground truth (half of it in NDJSON batch records, half one
 * record per event), a fresh topic and dead-letter topic, one
 * chdb-server as the shared ClickHouse, and two `tilecast worker` processes.
 */
import { expect } from 'vitest';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, openClickHouse, readDeadLetters, readWindows, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { diffWindows, generateStream } from './kafka-stream.ts';

export const SCENARIO_LATENESS_MS = 10_000;

/** Names and the generated stream: synchronous, so a test file can build it at load time. */
export function scenarioStream(label: string, seed: number) {
  const run = `${label}${process.pid}${Date.now().toString(36)}`;
  const topic = `tilecast.test.${run}`;
  const tenants = Array.from({ length: 20 }, (_, i) => `${run}-t${i}`);
  const { records, events, truth } = generateStream({
    seed,
    tenants,
    count: 200_000,
    start: Date.now() - 12 * 60_000,
    spanMs: 10 * 60_000,
    allowedLatenessMs: SCENARIO_LATENESS_MS,
    // Half the records travel in NDJSON batch records (as `tilecast api` sends them).
    batchShare: 0.5,
  });
  return { run, topic, dlq: `${topic}.dlq`, tenants, records, events, truth, malformed: events.filter((r) => r.kind === 'malformed') };
}

export interface RunningScenario {
  brokers: string;
  chdb: ChdbServer;
  db: ClickHouse;
  /** The workers' environment (restart a worker with it). */
  env: Record<string, string>;
  /** Worker processes; tests may replace entries when they restart one. */
  workers: WorkerProcess[];
  stop(): Promise<void>;
}

/** Creates the topics, starts the chdb-server and two workers `a` and `b`. */
export async function startScenario(s: ReturnType<typeof scenarioStream>, o: { sessionTimeoutMs: number }): Promise<RunningScenario> {
  const brokers = await kafkaBrokers();
  const chdb = await startChdbServer();
  const db = await openClickHouse(chdb.url);
  await createTopics(brokers, [
    { topic: s.topic, partitions: 4 },
    { topic: s.dlq, partitions: 1 },
  ]);
  const env = {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: s.topic,
    KAFKA_DLQ_TOPIC: s.dlq,
    KAFKA_GROUP_ID: `${s.run}-workers`,
    KAFKA_SESSION_TIMEOUT_MS: String(o.sessionTimeoutMs),
    CLICKHOUSE_URL: chdb.url,
    ALLOWED_LATENESS_MS: String(SCENARIO_LATENESS_MS),
    FLUSH_INTERVAL_MS: '500',
  };
  const workers = await Promise.all([startWorker('a', env), startWorker('b', env)]);
  return {
    brokers,
    chdb,
    db,
    env,
    workers,
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await db.close();
      await chdb.stop();
    },
  };
}

/** Waits until every window in ClickHouse equals the scenario's ground truth; fails with a sample of the differences (and `context`). */
export async function waitForGroundTruth(db: ClickHouse, s: ReturnType<typeof scenarioStream>, context = ''): Promise<void> {
  let last = { count: -1, sample: [] as string[] };
  await waitFor(
    async () => {
      last = diffWindows(s.truth, await readWindows(db, s.tenants));
      return last.count === 0;
    },
    { timeoutMs: 240_000, intervalMs: 2_000, what: 'windows to equal the ground truth' },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; ${last.count} windows differ, e.g. ${last.sample.join(' | ')}${context ? `; ${context}` : ''}`);
  });
}

/** Every malformed record of the scenario is in its dead-letter topic with its expected reason, and nothing else is. */
export async function expectDeadLetters(brokers: string, s: ReturnType<typeof scenarioStream>) {
  const dlq = await readDeadLetters(brokers, s.dlq, s.malformed.length);
  const missing = s.malformed.filter((m) => !dlq.byValue.get(m.value)?.has(m.expectedReason!));
  expect(missing.map((m) => `${m.expectedReason}: ${m.value.slice(0, 80)}`)).toEqual([]);
  // Nothing valid was dead-lettered.
  expect(dlq.byValue.size).toBe(s.malformed.length);
  return dlq;
}
