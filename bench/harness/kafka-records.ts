/**
 * The Kafka benches' workload: valid Event v1 over 20 tenants, encoded the two ways a
 * worker sees records, and produced to a topic under the broker's record-batch limit.
 * bench/kafka-throughput.ts (one worker) and bench/kafka-scaleout.ts (a consumer group of
 * worker processes) send the same records, so their figures compare.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka } from 'kafkajs';
import type { EventV1 } from '../../src/contracts/event.ts';
import type { KafkaTarget } from './target.ts';

export const BENCH_TENANTS: readonly string[] = Array.from({ length: 20 }, (_, i) => `bench-t${i}`);
/** Events per simulated API request in the batched format (over 20 tenants: ~100 per record). */
export const REQUEST_EVENTS = 2000;

export type Rec = { key: string; value: Buffer; headers?: Record<string, string> };

/** `n` valid events (~250 bytes of JSON each) spread over 10 minutes of event time. */
export function benchEvents(n: number, tenants: readonly string[] = BENCH_TENANTS): EventV1[] {
  const start = Date.now() - 11 * 60_000;
  const currencies = ['USD', 'EUR', 'JPY'];
  const types = ['purchase', 'purchase', 'signup', 'upgrade', 'churn'] as const;
  return Array.from({ length: n }, (_, i) => {
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
      timestamp: start + Math.floor((i / n) * 10 * 60_000),
    };
  });
}

/**
 * The records two ways: `batched` as `tilecast api` produces them (one NDJSON record per
 * request and tenant; here requests of REQUEST_EVENTS events over the 20 tenants, so about
 * REQUEST_EVENTS / 20 events per record), `single` as one record per event (what a
 * third-party producer may send). Keys are tenants: the worker's partitioning contract.
 */
export function encodeRecords(target: Pick<KafkaTarget, 'batchRecords' | 'encodeEvent'>, evs: readonly EventV1[]): { batched: Rec[]; single: Rec[] } {
  const batched: Rec[] = [];
  for (let i = 0; i < evs.length; i += REQUEST_EVENTS) {
    for (const r of target.batchRecords(evs.slice(i, i + REQUEST_EVENTS))) batched.push({ key: String(r.key), value: Buffer.from(r.value as string), headers: r.headers as Record<string, string> });
  }
  return { batched, single: evs.map((e) => ({ key: e.tenantId, value: Buffer.from(target.encodeEvent(e)) })) };
}

/** Creates `topic` (and its `.dlq`) with `partitions` partitions; fails if it exists. */
export async function createBenchTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }, { topic: `${topic}.dlq`, numPartitions: 1 }] });
    if (!created) throw new Error(`topic ${topic} exists already`);
  } finally {
    await admin.disconnect();
  }
}

/** Produces `recs` in order (idempotent, acks=all), in requests under the broker's 1 MiB record-batch limit. */
export async function produceRecords(kafka: Kafka, topic: string, recs: readonly Rec[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0, j = 0; i < recs.length; i = j) {
      for (let bytes = 0; j < recs.length && (j === i || bytes + recs[j]!.value.length < 768 * 1024); j++) bytes += recs[j]!.value.length;
      await producer.send({ topic, acks: -1, messages: recs.slice(i, j) });
    }
  } finally {
    await producer.disconnect();
  }
}
