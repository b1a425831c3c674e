/**
 * Issue 3, done-when 3: ClickHouse unavailable for 30 s mid-stream (the chdb-server
 * process is frozen with SIGSTOP, so calls hang rather than fail fast — the harder
 * case). The workers pause their partitions instead of buffering (consumption stops,
 * lag grows and is visible, memory stays flat), resume by themselves once ClickHouse
 * answers again, catch up, and every window equals the ground truth: no loss, no
 * double counting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { waitFor } from '../helpers/wait.ts';
import { produce, rssOf, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import { scenarioStream, startScenario, waitForGroundTruth, type RunningScenario } from './kafka-scenario.ts';

const scenario = scenarioStream('down', 3_200_003);
const { records, topic: TOPIC } = scenario;
const OUTAGE_MS = 30_000;
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = async (f: (w: WorkerProcess) => Promise<number>) => (await Promise.all(workers.map(f))).reduce((a, b) => a + b, 0);

let running: RunningScenario;
let brokers: string;
let chdb: ChdbServer;
let db: ClickHouse;
let workers: WorkerProcess[];

beforeAll(async () => {
  running = await startScenario(scenario, { sessionTimeoutMs: 10_000 });
  ({ brokers, chdb, db, workers } = running);
}, 180_000);

afterAll(() => running?.stop());

describe('ClickHouse unavailable for 30 s mid-stream', () => {
  it('pauses with bounded memory, resumes by itself, and stores exactly the ground truth', async () => {
    // ~45 s of traffic; ClickHouse freezes ~8 s in, while records keep arriving.
    const production = produce(brokers, TOPIC, records, { chunk: 1_000, pace: 4_500 });
    await waitFor(async () => (await sum((w) => w.metric('tilecast_kafka_records_total', { outcome: 'accepted' }))) > 20_000, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the workers to be consuming',
    });
    const rssBefore = await Promise.all(workers.map((w) => rssOf(w.proc.pid!)));

    chdb.proc.kill('SIGSTOP');
    const outageEnds = Date.now() + OUTAGE_MS;
    const peakRss = [...rssBefore];
    let allPaused = false;
    let consumedWhenPaused = 0;
    let consumedAtEnd = 0;
    let lagAtEnd = 0;
    while (Date.now() < outageEnds) {
      await sleep(500);
      for (const [i, w] of workers.entries()) peakRss[i] = Math.max(peakRss[i]!, await rssOf(w.proc.pid!));
      const paused = await sum((w) => w.metric('tilecast_kafka_paused_partitions'));
      if (!allPaused && paused === 4) {
        allPaused = true;
        consumedWhenPaused = await sum((w) => w.metric('tilecast_kafka_records_total', { outcome: 'consumed' }));
      }
    }
    if (allPaused) consumedAtEnd = await sum((w) => w.metric('tilecast_kafka_records_total', { outcome: 'consumed' }));
    lagAtEnd = await sum((w) => w.metric('tilecast_kafka_consumer_lag'));
    chdb.proc.kill('SIGCONT');
    console.info(
      `outage: lag at end ${lagAtEnd}, consumed while paused ${consumedAtEnd - consumedWhenPaused}, ` +
        `RSS before/peak MB ${rssBefore.map((r, i) => `${Math.round(r / MB)}/${Math.round(peakRss[i]! / MB)}`).join(', ')}`,
    );

    // Backpressure: all four partitions paused, nothing consumed while paused, the backlog visible as lag.
    expect(allPaused).toBe(true);
    expect(consumedAtEnd - consumedWhenPaused).toBe(0);
    expect(lagAtEnd).toBeGreaterThan(50_000);
    // Bounded memory: ~140k records arrived during the outage; none of them were held.
    for (const [i, before] of rssBefore.entries()) expect((peakRss[i]! - before) / MB).toBeLessThan(100);

    await production;
    await waitForGroundTruth(db, scenario);
    // Resumed by themselves and caught up.
    await waitFor(async () => (await sum((w) => w.metric('tilecast_kafka_paused_partitions'))) === 0 && (await sum((w) => w.metric('tilecast_kafka_consumer_lag'))) === 0, {
      timeoutMs: 30_000,
      intervalMs: 500,
      what: 'partitions resumed and lag 0',
    });
    expect(await sum((w) => w.metric('tilecast_kafka_storage_errors_total'))).toBeGreaterThan(0);
  }, 480_000);
});
