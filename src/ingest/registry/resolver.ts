/**
 * The worker's side of the schema registry: schema id → codec, resolved once per id per
 * process and shared by every partition, and the per-record decode of framed values.
 *
 * Two phases, because the decoder (decode.ts) is synchronous and runs per record:
 * `prepare(values)` resolves, before a batch is decoded, every id the batch's framed
 * records name and that is not known yet (one registry round trip per new id, not per
 * record); `decode(value)` then only looks the id up in memory.
 *
 * What a lookup can conclude, and for how long:
 * - a codec (the schema is under SCHEMA_SUBJECT and readable): kept for the process — an
 *   id's content never changes;
 * - `schema_unknown` (404) or `schema_subject_mismatch` (the id is registered, but not under
 *   this subject): kept for `negativeTtlMs`, then asked again, so a schema registered later
 *   is picked up without a restart;
 * - `schema_unsupported` (e.g. Protobuf, or a schema ajv/avsc cannot compile): kept.
 * - The registry did not answer (or 5xx, or 401/403): nothing is cached, `prepare` throws
 *   RegistryUnavailableError with the delay to wait; the worker pauses the partition and
 *   fetches the batch again after it (kafka-worker.ts). Records are never dead-lettered
 *   because the registry is down.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Issue } from '../pipeline/steps.ts';
import { RegistryRequestError, RegistryUnavailableError, type RegistryClient } from './client.ts';
import { compileCodec, type BodyCodec, type BodyResult } from './codecs.ts';
import { HEADER_BYTES, isFramed, readFrame } from './wire.ts';

export const REGISTRY_REJECT_REASONS = ['invalid_framing', 'schema_unknown', 'schema_subject_mismatch', 'schema_unsupported', 'registered_schema_violation'] as const;
export type RegistryRejectReason = (typeof REGISTRY_REJECT_REASONS)[number];

export type FramedResult = BodyResult | { ok: false; reason: RegistryRejectReason; issues: Issue[] };

/** What decode.ts needs from the registry: see the module comment. */
export interface FramedDecoder {
  prepare(values: Iterable<Buffer | null>): Promise<void>;
  decode(value: Buffer): FramedResult;
}

/** Thrown by `prepare`: the batch must wait `retryInMs` and be fetched again. */
export class RegistryWaitError extends RegistryUnavailableError {
  constructor(
    readonly retryInMs: number,
    cause: RegistryUnavailableError,
  ) {
    super(cause.message, { cause });
    this.name = 'RegistryWaitError';
  }
}

type Entry = { codec: BodyCodec } | { reason: RegistryRejectReason; message: string; until: number };

export interface SchemaResolverOptions {
  client: RegistryClient;
  subject: string;
  /** Where the registry metrics are registered (the app's prom-client registry). */
  metricsRegistry?: Registry;
  clock?: () => number;
  /** How long "unknown id" / "other subject" is believed. Default 60 s. */
  negativeTtlMs?: number;
  /** Longest wait between attempts while the registry is unreachable. Default 5 s. */
  maxBackoffMs?: number;
}

export function createSchemaResolver(o: SchemaResolverOptions) {
  const clock = o.clock ?? Date.now;
  const negativeTtlMs = o.negativeTtlMs ?? 60_000;
  const maxBackoffMs = o.maxBackoffMs ?? 5_000;
  const { client, subject } = o;
  const cache = new Map<number, Entry>();
  const inflight = new Map<number, Promise<void>>();
  let failures = 0;
  let unavailable: { since: number; error: string } | null = null;

  const registers = o.metricsRegistry ? [o.metricsRegistry] : [];
  const lookups = new Counter({
    name: 'tilecast_schema_registry_lookups_total',
    help: 'Schema id lookups by outcome (resolved|schema_unknown|schema_subject_mismatch|schema_unsupported|unavailable); one per id per process when resolved',
    labelNames: ['outcome'] as const,
    registers,
  });
  const up = new Gauge({
    name: 'tilecast_schema_registry_up',
    help: '0 while the last schema registry lookup failed to get an answer (framed records of unresolved ids wait, their partitions paused), else 1',
    registers,
  });
  up.set(1);

  async function resolve(id: number): Promise<void> {
    const reject = (reason: RegistryRejectReason, message: string, ttl = negativeTtlMs) => {
      cache.set(id, { reason, message, until: clock() + ttl });
      lookups.inc({ outcome: reason });
    };
    try {
      const [schema, versions] = await Promise.all([client.schemaById(id), client.versionsOfId(id)]);
      if (!versions.some((v) => v.subject === subject)) {
        const under = [...new Set(versions.map((v) => v.subject))].join(', ') || 'no subject';
        return reject('schema_subject_mismatch', `schema id ${id} is registered under ${under}, not under ${subject} (SCHEMA_SUBJECT)`);
      }
      try {
        cache.set(id, { codec: compileCodec(schema) });
        lookups.inc({ outcome: 'resolved' });
      } catch (err) {
        reject('schema_unsupported', `schema id ${id}: ${(err as Error).message}`, Number.POSITIVE_INFINITY);
      }
    } catch (err) {
      if (err instanceof RegistryRequestError && err.status === 404) return reject('schema_unknown', `schema id ${id} is not in the schema registry (${err.message})`);
      lookups.inc({ outcome: 'unavailable' });
      if (err instanceof RegistryUnavailableError) throw err;
      // Another 4xx (401, 403, ...): a deployment problem, not the record's; wait, don't dead-letter.
      throw new RegistryUnavailableError(`schema registry refused the lookup of id ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  const known = (id: number): boolean => {
    const e = cache.get(id);
    return e !== undefined && ('codec' in e || e.until > clock());
  };

  return {
    subject,

    async prepare(values: Iterable<Buffer | null>): Promise<void> {
      const wanted = new Set<number>();
      for (const v of values) {
        if (v === null || !isFramed(v) || v.length < HEADER_BYTES) continue;
        const id = v.readUInt32BE(1);
        if (!known(id)) wanted.add(id);
      }
      if (wanted.size === 0) return;
      const results = await Promise.allSettled(
        [...wanted].map((id) => {
          let p = inflight.get(id);
          if (!p) {
            p = resolve(id).finally(() => inflight.delete(id));
            inflight.set(id, p);
          }
          return p;
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) {
        failures = 0;
        unavailable = null;
        up.set(1);
        return;
      }
      const err = failed.reason instanceof RegistryUnavailableError ? failed.reason : new RegistryUnavailableError(String(failed.reason), { cause: failed.reason });
      failures += 1;
      unavailable ??= { since: clock(), error: err.message };
      unavailable.error = err.message;
      up.set(0);
      const retryInMs = Math.min(maxBackoffMs, 200 * 2 ** Math.min(failures - 1, 10)) * (0.75 + Math.random() / 2);
      throw new RegistryWaitError(Math.round(retryInMs), err);
    },

    decode(value: Buffer): FramedResult {
      const f = readFrame(value);
      if (!f) return { ok: false, reason: 'invalid_framing', issues: [{ path: '', message: `a framed record needs ${HEADER_BYTES} header bytes (0, then a 4-byte schema id); this one has ${value.length}` }] };
      const e = cache.get(f.schemaId);
      if (!e) throw new Error(`schema id ${f.schemaId} was not prepared before decoding`);
      if ('codec' in e) return e.codec(f.body);
      return { ok: false, reason: e.reason, issues: [{ path: '', message: e.message }] };
    },

    /** For /readyz: whether the last lookup got an answer, and since when it has not. */
    status(): { ok: boolean; detail: string } {
      if (!unavailable) return { ok: true, detail: `${[...cache.values()].filter((e) => 'codec' in e).length} schema ids resolved from ${client.url}` };
      const s = Math.round((clock() - unavailable.since) / 1000);
      return { ok: false, detail: `unreachable for ${s} s (${unavailable.error}); partitions with framed records of new schema ids are paused and retry` };
    },
  };
}

export type SchemaResolver = ReturnType<typeof createSchemaResolver>;
