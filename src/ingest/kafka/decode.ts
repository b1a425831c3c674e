/**
 * One Kafka record → accepted events or rejects with a snake_case reason, using the
 * same validation steps as the HTTP intake (validate.ts), plus the checks only a
 * record needs: size caps before parsing, and the key = tenantId rule.
 *
 * A record holds one Event v1 (JSON), or — with the header `content-type:
 * application/x-ndjson` — a batch of them, one per line, all of the key's tenant.
 * Batches are what `tilecast api` and the typed producer send (one record per request
 * and tenant): Kafka's per-record cost (framing, kafkajs' decoding, about 4 µs here) is
 * then paid once per batch instead of once per event. Each line is judged alone: a bad
 * line is dead-lettered with its own bytes and line number, its neighbours count.
 *
 * Why the key rule: records are partitioned by key, and a worker owns a tenant's
 * windows only because all of that tenant's events land in one partition. A record
 * keyed otherwise would be aggregated by another partition's owner, and two owners
 * writing snapshots of one window would overwrite each other.
 */
import type { AcceptedEvent } from '../../contracts/event.ts';
import { REGISTRY_REJECT_REASONS, type FramedDecoder } from '../registry/resolver.ts';
import { validateEvent, type Issue } from '../validate.ts';
import type { ConsumedMessage } from './consumer.ts';

/** Largest event accepted (an Event v1 is a few hundred bytes). */
export const MAX_EVENT_BYTES = 16 * 1024;
/** Largest batch record accepted (the broker's default `message.max.bytes` is 1 MiB). */
export const MAX_BATCH_BYTES = 1024 * 1024;

export const BATCH_HEADER = 'content-type';
export const BATCH_CONTENT_TYPE = 'application/x-ndjson';

export const KAFKA_REJECT_REASONS = ['oversized', 'invalid_json', 'schema_violation', 'tenant_mismatch', 'currency_budget_exceeded', ...REGISTRY_REJECT_REASONS] as const;
export type KafkaRejectReason = (typeof KAFKA_REJECT_REASONS)[number];

export type Decoded = { ok: true; event: AcceptedEvent } | { ok: false; reason: KafkaRejectReason; issues: Issue[] };

/** A decoded event or reject of a record; `line` (1-based) and `raw` (its bytes) for a batch's lines. */
export type DecodedLine = Decoded & { line?: number; raw?: Buffer };

const reject = (reason: KafkaRejectReason, message: string, path = ''): Decoded => ({ ok: false, reason, issues: [{ path, message }] });

function decodeJson(text: string, key: Buffer | null): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return reject('invalid_json', (err as Error).message);
  }
  return decodeValue(parsed, key);
}

function decodeValue(parsed: unknown, key: Buffer | null): Decoded {
  const r = validateEvent(parsed);
  if (!r.ok) return { ok: false, reason: 'schema_violation', issues: r.issues };
  // tenantId is ASCII by contract, so latin1 decoding of a matching key is exact and cheap.
  if (key === null || key.toString('latin1') !== r.event.tenantId) {
    return reject('tenant_mismatch', 'the record key must be the event tenantId (one tenant = one partition)', 'key');
  }
  return r;
}

/**
 * A single-event record. First byte 0: the schema registry's wire format (schema id, then a
 * JSON or Avro body; src/ingest/registry/), checked against the schema its id names and
 * then against the contract like plain JSON.
 */
export function decodeRecord(m: ConsumedMessage, maxBytes = MAX_EVENT_BYTES, framed?: FramedDecoder): Decoded {
  const { value } = m;
  if (value === null || value.length === 0) return reject('invalid_json', 'record has no value');
  if (value.length > maxBytes) return reject('oversized', `value is ${value.length} bytes; the limit is ${maxBytes}`);
  if (value[0] === 0) {
    if (!framed) return reject('schema_unknown', 'the record is in the schema registry wire format (first byte 0) and SCHEMA_REGISTRY_URL is not set');
    const body = framed.decode(value);
    return body.ok ? decodeValue(body.value, m.key) : { ok: false, reason: body.reason, issues: body.issues };
  }
  return decodeJson(value.toString('utf8'), m.key);
}

export const isBatchRecord = (m: ConsumedMessage): boolean => {
  const h = m.headers?.[BATCH_HEADER];
  return h !== undefined && String(h) === BATCH_CONTENT_TYPE;
};

/** Every event of a record, single or batch, in order. Empty lines of a batch are skipped. */
export function decodeMessage(m: ConsumedMessage, maxEventBytes = MAX_EVENT_BYTES, framed?: FramedDecoder): DecodedLine[] {
  if (!isBatchRecord(m)) return [decodeRecord(m, maxEventBytes, framed)];
  const { value } = m;
  if (value === null || value.length === 0) return [reject('invalid_json', 'batch record has no value')];
  if (value.length > MAX_BATCH_BYTES) return [reject('oversized', `batch is ${value.length} bytes; the limit is ${MAX_BATCH_BYTES}`)];
  const out: DecodedLine[] = [];
  let line = 0;
  for (let start = 0; start < value.length; ) {
    let end = value.indexOf(10, start);
    if (end < 0) end = value.length;
    line += 1;
    if (end > start) {
      const raw = value.subarray(start, end);
      const d =
        raw.length > maxEventBytes ? reject('oversized', `line is ${raw.length} bytes; the limit is ${maxEventBytes}`) : decodeJson(raw.toString('utf8'), m.key);
      // The decode result is fresh: label it in place rather than copy it per event.
      const labelled = d as DecodedLine;
      labelled.line = line;
      if (!d.ok) labelled.raw = raw;
      out.push(labelled);
    }
    start = end + 1;
  }
  return out;
}

/** Line `n` (1-based) of a batch record's value: the bytes a dead letter of that line carries. */
export function lineOf(value: Buffer, n: number): Buffer {
  let start = 0;
  for (let i = 1; i < n; i++) start = value.indexOf(10, start) + 1;
  const end = value.indexOf(10, start);
  return value.subarray(start, end < 0 ? value.length : end);
}
