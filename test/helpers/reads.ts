/**
 * ClickHouse reads by query id, from the app's `tilecast_clickhouse_queries_total`, for tests
 * that assert what one request cost. Background loops read on their own query ids and are
 * left out: the backfill coverage feed (polled every 5 s while a version is incomplete,
 * src/app/coverage-feed.ts), the backfill walk and the model publication check — no
 * request's doing, and a test must not fail because one of them ticked during a request.
 */
import type { Counter } from 'prom-client';

export const BACKGROUND_READS = /^(backfill\.|publications\.)/;

/** Reads so far by query id, without the background loops'. */
export async function readsById(counter: Counter): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) {
    const id = String(v.labels.query_id);
    if (v.labels.kind === 'read' && !BACKGROUND_READS.test(id)) out[id] = (out[id] ?? 0) + v.value;
  }
  return out;
}

/** The reads `run` caused, by query id. */
export async function readsOf<T>(counter: Counter, run: () => Promise<T>): Promise<{ result: T; reads: Record<string, number> }> {
  const before = await readsById(counter);
  const result = await run();
  const after = await readsById(counter);
  const reads = Object.fromEntries(Object.entries(after).filter(([k, n]) => n !== (before[k] ?? 0)).map(([k, n]) => [k, n - (before[k] ?? 0)]));
  return { result, reads };
}
