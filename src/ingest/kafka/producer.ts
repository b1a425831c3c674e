/**
 * Kafka producer with acks=all and idempotence: a send resolves only once the broker
 * wrote every message, and kafkajs' own retries of a batch cannot duplicate it.
 *
 * Delivery guarantee: at-least-once across failures. When a send fails for good
 * (kafkajs gave up retrying), the underlying producer is thrown away and the next
 * send starts a new one (new producer id): reusing the old one could make the broker
 * acknowledge a *different* later batch as a "duplicate" of the failed one's sequence
 * number and drop it. A caller that retries a failed send may therefore duplicate
 * messages; consumers dedupe by the event's idempotency key.
 *
 * Ordering: one request in flight per broker, so messages with the same key keep their
 * order within a partition.
 */
import { Partitioners, type Producer } from 'kafkajs';
import type { EventV1 } from '../../contracts/event.ts';
import type { Logger } from '../../observability/logger.ts';
import type { KafkaClient } from './client.ts';

export interface OutgoingMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
}

export interface KafkaProducerOptions {
  /** Retries of one send inside kafkajs before it fails. Default 5 (about 10 s with backoff). */
  retries?: number;
  /** Broker-side wait for acknowledgements of one request. Default 10 s. */
  ackTimeoutMs?: number;
}

/** The JSON value of an Event v1 message: exactly the contract's fields. */
export function encodeEvent(e: EventV1): string {
  return JSON.stringify({
    eventId: e.eventId,
    eventType: e.eventType,
    userId: e.userId,
    tenantId: e.tenantId,
    amount: e.amount,
    currency: e.currency,
    traceId: e.traceId,
    timestamp: e.timestamp,
  });
}

export function createKafkaProducer(client: KafkaClient, logger: Logger, o: KafkaProducerOptions = {}) {
  const ackTimeoutMs = o.ackTimeoutMs ?? 10_000;
  let current: Promise<Producer> | null = null;

  function producer(): Promise<Producer> {
    current ??= (async () => {
      const p = client.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: o.retries ?? 5, initialRetryTime: 100, maxRetryTime: 2_000 },
      });
      await p.connect();
      return p;
    })();
    current.catch(() => {
      current = null;
    });
    return current;
  }

  async function discard(failed: Promise<Producer>): Promise<void> {
    if (current !== failed) return;
    current = null;
    await failed.then((p) => p.disconnect()).catch(() => undefined);
  }

  /** Writes messages to `topic`; resolves once all are acknowledged by all in-sync replicas. */
  async function send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const p = producer();
    try {
      await (await p).send({ topic, acks: -1, timeout: ackTimeoutMs, messages: messages as OutgoingMessage[] });
    } catch (err) {
      logger.warn({ topic, err: err instanceof Error ? err.message : String(err) }, 'kafka send failed; starting a new producer');
      await discard(p);
      throw err;
    }
  }

  return {
    /** Connects now (otherwise the first send does). */
    async connect(): Promise<void> {
      await producer();
    },

    send,

    /** Writes validated events to `topic`, keyed by tenant (one tenant = one partition, in order). */
    sendEvents: (topic: string, events: readonly EventV1[]): Promise<void> =>
      send(
        topic,
        events.map((e) => ({ key: e.tenantId, value: encodeEvent(e) })),
      ),

    async close(): Promise<void> {
      const p = current;
      current = null;
      if (p) await p.then((x) => x.disconnect()).catch(() => undefined);
    },
  };
}

export type KafkaProducer = ReturnType<typeof createKafkaProducer>;
