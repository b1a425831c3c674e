/**
 * The decode step for Kafka: one record value → the JSON values it holds (validated,
 * keyed and judged later by the shared ingest pipeline, src/ingest/pipeline/), or a
 * reject for what cannot be read. `decodeRecord` is the one dispatch point on the
 * record's format:
 *
 * - NDJSON with the header `content-type: application/x-ndjson` (what `tilecast api`
 *   and the typed producer send: one record per request and tenant, so Kafka's
 *   per-record cost is paid once per batch) — split by lines without trying anything else;
 * - plain JSON: one event (an object, pretty-printed or not), or a JSON array of events;
 * - NDJSON without the header: a value that is not one JSON document but whose first
 *   line is.
 *
 * Items of a batch carry `line` (1-based: the NDJSON line, or the array element), and
 * each is judged alone: a bad one is dead-lettered with its own bytes (`itemBytes`),
 * its neighbours count. Size caps apply before parsing.
 */
import { reject, type DecodedItem } from '../pipeline/steps.ts';
import type { FramedDecoder } from '../registry/resolver.ts';
import type { ConsumedMessage } from './consumer.ts';

/** Largest event accepted (an Event v1 is a few hundred bytes). */
export const MAX_EVENT_BYTES = 16 * 1024;
/** Largest batch record accepted (the broker's default `message.max.bytes` is 1 MiB). */
export const MAX_BATCH_BYTES = 1024 * 1024;

export const BATCH_HEADER = 'content-type';
export const BATCH_CONTENT_TYPE = 'application/x-ndjson';

/** A decoded item of a record; `line` for an item of a batch, `raw` (its bytes) for a rejected line. */
export type RecordItem = DecodedItem & { line?: number; raw?: Buffer };

const NEWLINE = 10;
const OPEN_BRACKET = 91;

export const isBatchRecord = (m: ConsumedMessage): boolean => {
  const h = m.headers?.[BATCH_HEADER];
  return h !== undefined && String(h) === BATCH_CONTENT_TYPE;
};

/** Every item of a record, in order. */
export function decodeRecord(m: ConsumedMessage, maxEventBytes = MAX_EVENT_BYTES, framed?: FramedDecoder): RecordItem[] {
  const { value } = m;
  if (value === null || value.length === 0) return [reject('invalid_json', 'record has no value')];
  // One branch per format. A registry-framed value starts with byte 0: no JSON text does.
  if (value[0] === 0) return [decodeFramed(value, maxEventBytes, framed)];
  if (isBatchRecord(m)) return decodeNdjson(value, maxEventBytes);
  return decodeJson(value, maxEventBytes);
}

/**
 * One event in the schema registry's wire format (0, a 4-byte schema id, a JSON or Avro
 * body; src/ingest/registry/), checked against the schema its id names; the pipeline then
 * validates it against the contract like plain JSON.
 */
function decodeFramed(value: Buffer, maxEventBytes: number, framed: FramedDecoder | undefined): RecordItem {
  if (value.length > maxEventBytes) return reject('oversized', `value is ${value.length} bytes; the limit is ${maxEventBytes}`);
  if (!framed) return reject('schema_unknown', 'the record is in the schema registry wire format (first byte 0) and SCHEMA_REGISTRY_URL is not set');
  const body = framed.decode(value);
  return body.ok ? { value: body.value } : { reason: body.reason, issues: body.issues };
}

function parse(text: string): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return null;
  }
}

const firstByte = (value: Buffer): number => {
  for (const b of value) if (b !== 32 && b !== 9 && b !== 10 && b !== 13) return b;
  return -1;
};

/** One event, a JSON array of events, or NDJSON sent without its header. */
function decodeJson(value: Buffer, maxEventBytes: number): RecordItem[] {
  if (value.length > MAX_BATCH_BYTES) return [reject('oversized', `value is ${value.length} bytes; the limit is ${MAX_BATCH_BYTES}`)];
  const isArray = firstByte(value) === OPEN_BRACKET;
  if (!isArray && value.length <= maxEventBytes) {
    const whole = parse(value.toString('utf8'));
    if (whole) return [whole];
  }
  if (isArray) {
    const whole = parse(value.toString('utf8'));
    if (!whole) return [reject('invalid_json', 'record value starts like a JSON array but is not valid JSON')];
    return (whole.value as unknown[]).map((v, i) => ({ value: v, line: i + 1 }));
  }
  const end = value.indexOf(NEWLINE);
  if (end > 0 && parse(value.subarray(0, end).toString('utf8'))) return decodeNdjson(value, maxEventBytes);
  if (value.length > maxEventBytes) return [reject('oversized', `value is ${value.length} bytes; the limit is ${maxEventBytes}`)];
  return [reject('invalid_json', 'record value is not JSON (one event, an array of events, or NDJSON)')];
}

function decodeNdjson(value: Buffer, maxEventBytes: number): RecordItem[] {
  if (value.length > MAX_BATCH_BYTES) return [reject('oversized', `batch is ${value.length} bytes; the limit is ${MAX_BATCH_BYTES}`)];
  const out: RecordItem[] = [];
  // One decode of the whole record; when it is ASCII (as nearly every batch is), a line's
  // characters are its bytes and each line is parsed from a slice of that one string.
  const whole = value.toString('latin1');
  const ascii = !/[\u0080-\u00ff]/.test(whole); // latin1: one character per byte
  let line = 0;
  for (let start = 0; start < value.length; ) {
    let end = value.indexOf(NEWLINE, start);
    if (end < 0) end = value.length;
    line += 1;
    if (end > start && !(end === start + 1 && value[start] === 13)) {
      const raw = value.subarray(start, end);
      if (raw.length > maxEventBytes) out.push({ ...reject('oversized', `line is ${raw.length} bytes; the limit is ${maxEventBytes}`), line, raw });
      else {
        const parsed = parse(ascii ? whole.slice(start, end) : raw.toString('utf8'));
        // `raw` (a view, no copy) is what a dead letter of this line carries, whatever step refuses it.
        out.push(parsed ? { value: parsed.value, line, raw } : { ...reject('invalid_json', `line ${line} is not valid JSON`), line, raw });
      }
    }
    start = end + 1;
  }
  return out;
}

/** Line `n` (1-based) of an NDJSON value. */
export function lineOf(value: Buffer, n: number): Buffer {
  let start = 0;
  for (let i = 1; i < n; i++) start = value.indexOf(NEWLINE, start) + 1;
  const end = value.indexOf(NEWLINE, start);
  return value.subarray(start, end < 0 ? value.length : end);
}

/** Array records parsed again for their dead letters: once per record, not once per rejected element. */
const reparsed = new WeakMap<ConsumedMessage, unknown>();

/** The bytes a dead letter of one item carries: the record's value, or its line / array element `line`. */
export function itemBytes(m: ConsumedMessage, line: number | undefined): Buffer {
  const value = m.value ?? Buffer.alloc(0);
  if (line === undefined) return value;
  if (!isBatchRecord(m) && firstByte(value) === OPEN_BRACKET) {
    let all = reparsed.get(m);
    if (all === undefined) reparsed.set(m, (all = parse(value.toString('utf8'))?.value ?? null));
    return Buffer.from(JSON.stringify(Array.isArray(all) ? all[line - 1] : null) ?? 'null');
  }
  return lineOf(value, line);
}
