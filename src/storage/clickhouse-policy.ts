/**
 * How every ClickHouse call runs (src/storage/clickhouse.ts sends each one through
 * `runCall`): a per-attempt timeout, the caller's AbortSignal, a fresh `query_id` per
 * attempt, and retries only where repeating the statement cannot change the result.
 *
 * Retry policy — a transient failure (connection refused/reset, timeout, "too many
 * queries", memory limit) is retried, with backoff, only for:
 * - reads (`query`, `queryColumns`): they change nothing;
 * - commands the caller marks `idempotent`: DDL written to be repeatable (`CREATE … IF
 *   NOT EXISTS`, `MODIFY TTL`, `REMOVE TTL`, `MODIFY SETTING`; see `isIdempotentDdl`) and `INSERT … SELECT`
 *   rebuilds that write the same rows whenever they run (the hourly rollups);
 * - inserts that carry an `insert_deduplication_token` into a table that deduplicates
 *   insert blocks (`events`, migrations/0001: a repeated block with the same token is
 *   dropped, so a retry of an insert that did land logs nothing twice), or that the
 *   caller marks `idempotent` because the table replaces rows by key (window snapshots
 *   of one revision, progress rows, the migration ledger).
 * Everything else — an insert into a plain MergeTree without a token (dead letters),
 * a command not marked idempotent, any statement error (bad SQL, bad data) — fails on
 * the first error: repeating it could count a row twice or cannot succeed. Callers do
 * not retry ClickHouse calls themselves; a failure that reaches them is final for
 * this call (`ClickHouseCallError.isRetriable` says whether trying later may help).
 *
 * Timeouts: each attempt is aborted after `timeoutMs` (its AbortSignal goes to the
 * client: a server request is cancelled; chdb rejects at once, the engine may finish
 * the statement in the background). A timed-out attempt counts as transient, and is
 * retried on a server only: chdb runs parameterized statements one after another, so a
 * retry would just queue behind the statement still running. The caller's `signal`
 * aborts the current attempt and every later one at once.
 */
import { randomUUID } from 'node:crypto';

export type CallKind = 'read' | 'insert' | 'command';

export interface CallPolicy {
  /** Longest wait for one attempt, in ms. */
  timeoutMs: number;
  /** Attempts of a call that is safe to retry (1 = never retried). */
  attempts: number;
  /** Pause before retry n (the last value repeats). */
  backoffMs: readonly number[];
}

export const DEFAULT_CALL_POLICY: CallPolicy = { timeoutMs: 60_000, attempts: 3, backoffMs: [100, 500] };

export class ClickHouseCallError extends Error {
  constructor(
    readonly queryId: string,
    /** Trying again later may succeed (transient failure, timeout); false for bad statements and aborts. */
    readonly isRetriable: boolean,
    cause: unknown,
    readonly attempts = 1,
    readonly reason: 'failed' | 'timeout' | 'aborted' = 'failed',
  ) {
    super(`ClickHouse call ${queryId} failed${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ClickHouseCallError';
  }
}

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

class CallerAbort extends Error {
  constructor(reason: unknown) {
    super(`aborted by the caller${reason instanceof Error ? `: ${reason.message}` : ''}`);
    this.name = 'AbortError';
  }
}

/** Errors that say "try again later" rather than "this statement is wrong". */
export function isTransient(err: unknown): boolean {
  if (err instanceof AttemptTimeout) return true;
  const code = (err as { code?: string }).code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|Timeout|TOO_MANY|MEMORY_LIMIT/i.test(`${code} ${msg}`);
}

/** Whether a call of this kind may be sent again after a transient failure (see the policy above). */
export function safeToRetry(kind: CallKind, o: { idempotent?: boolean; dedupToken?: string } = {}): boolean {
  if (kind === 'read') return true;
  if (kind === 'insert') return o.idempotent === true || (o.dedupToken !== undefined && o.dedupToken !== '');
  return o.idempotent === true;
}

/**
 * DDL that leaves the same schema however often it runs: CREATE … IF NOT EXISTS, DROP …
 * IF EXISTS, ALTER … ADD/DROP COLUMN IF [NOT] EXISTS, MODIFY/REMOVE TTL. A multi-action
 * ALTER counts only when every action is one of these. Comments are ignored.
 */
export function isIdempotentDdl(sql: string): boolean {
  const s = sql.replace(/--[^\n]*/g, ' ').replace(/\s+/g, ' ').trim().toUpperCase();
  if (/^CREATE (OR REPLACE )?(TABLE|VIEW|MATERIALIZED VIEW|DATABASE|DICTIONARY) IF NOT EXISTS /.test(s)) return true;
  if (/^DROP (TABLE|VIEW|DATABASE|DICTIONARY) IF EXISTS /.test(s)) return true;
  const alter = /^ALTER TABLE \S+ (.*)$/.exec(s);
  if (!alter) return false;
  // Split actions on top-level commas only (a TTL expression may hold a function call).
  const actions: string[] = [];
  let depth = 0;
  let start = 0;
  const body = alter[1]!;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      actions.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  actions.push(body.slice(start).trim());
  return actions.every((a) => /^(ADD (COLUMN|INDEX|PROJECTION) IF NOT EXISTS|DROP (COLUMN|INDEX|PROJECTION) IF EXISTS|MODIFY TTL|REMOVE TTL|MODIFY SETTING|RESET SETTING)\b/.test(a));
}

/** The `query_id` sent to ClickHouse: `tilecast-<kind>-<purpose>-<uuid>`, new for every attempt. */
export const queryIdFor = (kind: CallKind, purpose: string): string => `tilecast-${kind}-${purpose}-${randomUUID()}`;

export interface CallSpec {
  /** Stable purpose, e.g. `series.read` (metric label, span name, prefix of the query_id). */
  queryId: string;
  kind: CallKind;
  retry: boolean;
  /** A timed-out attempt may be retried (false on chdb, which cannot cancel the first one). */
  retryTimeouts: boolean;
  policy: CallPolicy;
  /** Overrides policy.timeoutMs for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (o: { attempt: number; delayMs: number; err: unknown }) => void;
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CallerAbort(signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CallerAbort(signal!.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One attempt: `run` gets the attempt's query_id and an AbortSignal that fires on the
 * timeout or the caller's abort; the attempt rejects then even if `run` ignores it.
 */
async function attemptOnce<T>(spec: CallSpec, run: (queryId: string, signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeoutMs = spec.timeoutMs ?? spec.policy.timeoutMs;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (err: Error) => {
      controller.abort(err);
      reject(err);
    };
    timer = setTimeout(() => stop(new AttemptTimeout(timeoutMs)), timeoutMs);
    if (spec.signal) {
      onAbort = () => stop(new CallerAbort(spec.signal!.reason));
      spec.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([run(queryIdFor(spec.kind, spec.queryId), controller.signal), stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort) spec.signal!.removeEventListener('abort', onAbort);
    stopped.catch(() => undefined);
  }
}

/** Runs a call under the policy; every failure leaves as a ClickHouseCallError. */
export async function runCall<T>(spec: CallSpec, run: (queryId: string, signal: AbortSignal) => Promise<T>): Promise<T> {
  const attempts = spec.retry ? Math.max(1, spec.policy.attempts) : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      if (spec.signal?.aborted) throw new CallerAbort(spec.signal.reason);
      return await attemptOnce(spec, run);
    } catch (err) {
      if (err instanceof CallerAbort) throw new ClickHouseCallError(spec.queryId, false, err, attempt, 'aborted');
      const transient = isTransient(err);
      const reason = err instanceof AttemptTimeout ? 'timeout' : 'failed';
      if (!transient || attempt >= attempts || (reason === 'timeout' && !spec.retryTimeouts)) throw new ClickHouseCallError(spec.queryId, transient, err, attempt, reason);
      const delayMs = spec.policy.backoffMs[Math.min(attempt - 1, spec.policy.backoffMs.length - 1)] ?? 0;
      spec.onRetry?.({ attempt, delayMs, err });
      try {
        await pause(delayMs, spec.signal);
      } catch (abort) {
        throw new ClickHouseCallError(spec.queryId, false, abort, attempt, 'aborted');
      }
    }
  }
}
