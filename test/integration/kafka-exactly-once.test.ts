/**
 * Issue 3, done-when 1: ≥200,000 events over 20 tenants on a 4-partition topic, with
 * 2% duplicates, out-of-order and late events and 1% malformed records, consumed by
 * two `tilecast worker` processes sharing one ClickHouse (chdb-server) → every window
 * in ClickHouse equals the ground truth computed by the test, and every malformed
 * record is in the dead-letter topic with its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { produce, type WorkerProcess } from './kafka-harness.ts';
import { expectDeadLetters, scenarioStream, startScenario, waitForGroundTruth, type RunningScenario } from './kafka-scenario.ts';

const scenario = scenarioStream('eo', 3_200_001);
const { records, events, malformed, topic: TOPIC } = scenario;

let running: RunningScenario;
let brokers: string;
let db: ClickHouse;
let workers: WorkerProcess[];

beforeAll(async () => {
  running = await startScenario(scenario, { sessionTimeoutMs: 10_000 });
  ({ brokers, db, workers } = running);
}, 180_000);

afterAll(() => running?.stop());

describe('two Kafka workers, one stream', () => {
  it('store exactly the ground truth per window and dead-letter every malformed record with its reason', async () => {
    expect(events.length).toBeGreaterThanOrEqual(200_000);
    expect(records.filter((r) => r.kind === 'batch').length).toBeGreaterThan(1_000);
    expect(malformed.length).toBeGreaterThanOrEqual(2_000);
    await produce(brokers, TOPIC, records);

    await waitForGroundTruth(db, scenario);

    // Both workers took part: the group split the four partitions between them.
    const consumed = await Promise.all(workers.map((w) => w.metric('tilecast_kafka_records_total', { outcome: 'consumed' })));
    expect(consumed.every((n) => n > 0)).toBe(true);
    expect(consumed.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(records.length);

    const dlq = await expectDeadLetters(brokers, scenario);
    expect([...dlq.sources].every((s) => s.startsWith(`${TOPIC}:`))).toBe(true);
  }, 420_000);
});
