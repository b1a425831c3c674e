/**
 * Issue 3, done-when 2: the done-when-1 stream while a worker is killed with SIGKILL at
 * six random moments (mid-batch, mid-flush, between an insert and an offset commit —
 * wherever it lands) and restarted: every window still equals the ground truth, and
 * every malformed record is dead-lettered (at least once).
 *
 * The kill schedule (when, which worker, how long it stays down) comes from one seed,
 * printed at the start and in the failure message; TILECAST_TEST_SEED=<n> replays it. The
 * seed fixes the schedule, not what the worker is doing at that moment (that depends on
 * timing), so a replay makes a failure likely again rather than certain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { prng } from '../helpers/dataset.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';
import { produce, startWorker, type WorkerProcess } from './kafka-harness.ts';
import { expectDeadLetters, scenarioStream, startScenario, waitForGroundTruth, type RunningScenario } from './kafka-scenario.ts';

const scenario = scenarioStream('kill', 3_200_002);
const { records, topic: TOPIC } = scenario;
const KILLS = 6;
const SEED = testSeed();
const random = prng(SEED);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + random.next() * (hi - lo);

let running: RunningScenario;
let brokers: string;
let db: ClickHouse;
let env: Record<string, string>;
let workers: WorkerProcess[];

beforeAll(async () => {
  // The broker's minimum: a killed worker's partitions move after ~6 s.
  running = await startScenario(scenario, { sessionTimeoutMs: 6_000 });
  ({ brokers, db, env, workers } = running);
}, 180_000);

afterAll(() => running?.stop());

describe('Kafka workers killed with SIGKILL mid-stream', () => {
  it('lose nothing and count nothing twice', () => withSeed(SEED, async () => {
      console.log(`kafka-crash: kill schedule from TILECAST_TEST_SEED=${SEED}`);
      let produced = 0;
      let producing = true;
      // ~45 s of traffic, so the kills land while records are flowing.
      const production = produce(brokers, TOPIC, records, { chunk: 1_000, pace: 4_500, onProgress: (n) => (produced = n) }).finally(() => {
        producing = false;
      });

      const kills: string[] = [];
      for (let i = 0; i < KILLS; i++) {
        await sleep(between(2_000, 6_000));
        const index = random.int(0, workers.length - 1);
        const victim = workers[index]!;
        await victim.kill();
        kills.push(`${victim.name} at ${produced} produced${producing ? '' : ' (after production)'}`);
        await sleep(between(100, 2_500));
        workers[index] = await startWorker(victim.name, env);
      }
      await production;
      expect(kills).toHaveLength(KILLS);

      await waitForGroundTruth(db, scenario, `kills: ${kills.join(', ')}`);

      await expectDeadLetters(brokers, scenario);
  }), 480_000);
});
