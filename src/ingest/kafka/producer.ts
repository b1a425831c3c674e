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
import type { AcceptedEvent, EventV1 } from '../../contracts/event.ts';
import type { Logger } from '../../observability/logger.ts';
import { frame } from '../registry/wire.ts';
import type { KafkaClient } from './client.ts';
import { BATCH_CONTENT_TYPE, BATCH_HEADER } from './decode.ts';

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
  /**
   * With a schema registry (SCHEMA_REGISTRY_URL): the id of the events' registered schema.
   * Events are then written one per record in the registry's wire format (framedRecords).
   */
  schemaId?: () => Promise<number>;
}

/**
 * What a producer writes: an Event v1 event (src/producer), or an event the ingest pipeline
 * accepted, whose declared fields of any model are under `fields`.
 */
export type OutgoingEvent = EventV1 | Pick<AcceptedEvent, 'eventId' | 'eventType' | 'userId' | 'tenantId' | 'traceId' | 'timestamp' | 'fields'>;

/**
 * The JSON value of an event message: the built-in fields and every declared field, flat,
 * as producers send them (a worker validates it again with the same model). An Event v1
 * event of the default model encodes to the same text either way.
 */
export function encodeEvent(e: OutgoingEvent): string {
  if ('fields' in e && e.fields) {
    return JSON.stringify({ eventId: e.eventId, eventType: e.eventType, userId: e.userId, tenantId: e.tenantId, ...e.fields, traceId: e.traceId, timestamp: e.timestamp });
  }
  const v1 = e as EventV1;
  return JSON.stringify({
    eventId: v1.eventId,
    eventType: v1.eventType,
    userId: v1.userId,
    tenantId: v1.tenantId,
    amount: v1.amount,
    currency: v1.currency,
    traceId: v1.traceId,
    timestamp: v1.timestamp,
  });
}

/** A batch record holds at most this many events and bytes (well under the broker's 1 MiB default). */
export const BATCH_MAX_EVENTS = 1000;
export const BATCH_MAX_BYTES = 256 * 1024;
/** Values per produce request (see `send`). */
const SEND_MAX_BYTES = 768 * 1024;
const byteLength = (v: string | Buffer | null): number => (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

/**
 * Events as records: one NDJSON batch record per tenant (split at BATCH_MAX_EVENTS /
 * BATCH_MAX_BYTES), each tenant's events in their given order (see decode.ts).
 */
export function batchRecords(events: readonly OutgoingEvent[]): OutgoingMessage[] {
  const byTenant = new Map<string, string[]>();
  for (const e of events) {
    let lines = byTenant.get(e.tenantId);
    if (!lines) byTenant.set(e.tenantId, (lines = []));
    lines.push(encodeEvent(e));
  }
  const out: OutgoingMessage[] = [];
  for (const [tenantId, lines] of byTenant) {
    let chunk: string[] = [];
    let bytes = 0;
    const emit = () => {
      if (chunk.length) out.push({ key: tenantId, value: chunk.join('\n'), headers: { [BATCH_HEADER]: BATCH_CONTENT_TYPE } });
      chunk = [];
      bytes = 0;
    };
    for (const line of lines) {
      const size = Buffer.byteLength(line) + 1;
      if (chunk.length >= BATCH_MAX_EVENTS || bytes + size > BATCH_MAX_BYTES) emit();
      chunk.push(line);
      bytes += size;
    }
    emit();
  }
  return out;
}

/**
 * Events as records in the schema registry's wire format: one event per record (what every
 * registry-aware consumer expects), byte 0, the schema id, then the event's JSON.
 */
export function framedRecords(events: readonly OutgoingEvent[], schemaId: number): OutgoingMessage[] {
  return events.map((e) => ({ key: e.tenantId, value: frame(schemaId, encodeEvent(e)) }));
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

  /**
   * Writes messages to `topic`; resolves once all are acknowledged by all in-sync replicas.
   * Sent in requests of at most SEND_MAX_BYTES of values, one after the other (order kept):
   * the broker refuses a record batch over its `message.max.bytes` (1 MiB by default),
   * and kafkajs puts everything of one call for one partition into one batch.
   */
  async function send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const size = byteLength(messages[i]!.value) + byteLength(messages[i]!.key);
      if (i > start && bytes + size > SEND_MAX_BYTES) {
        await sendRequest(topic, messages.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < messages.length) await sendRequest(topic, start === 0 ? messages : messages.slice(start));
  }

  async function sendRequest(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
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

    /**
     * Writes validated events to `topic` keyed by tenant (one tenant = one partition, in order):
     * as batch records, or framed one per record when a schema id is configured.
     */
    sendEvents: async (topic: string, events: readonly OutgoingEvent[]): Promise<void> =>
      send(topic, o.schemaId ? framedRecords(events, await o.schemaId()) : batchRecords(events)),

    async close(): Promise<void> {
      const p = current;
      current = null;
      if (p) await p.then((x) => x.disconnect()).catch(() => undefined);
    },
  };
}

export type KafkaProducer = ReturnType<typeof createKafkaProducer>;
