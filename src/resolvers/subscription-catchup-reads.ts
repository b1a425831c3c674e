/**
 * Catch-up reads for resumed subscriptions, one ClickHouse query per tenant at a time.
 *
 * After a restart or a Redis outage thousands of subscriptions of a tenant resume at
 * once. Requests for a tenant that arrive while its query runs wait for the next one,
 * which starts from the earliest `since` among them: a request is only ever answered
 * by a query that started after it was made, so nothing written before it subscribed
 * live can be missing. At most MAX_CONCURRENT tenants are read at once.
 */
import { GraphQLError } from 'graphql';
import type { ChangedWindow, WindowChangesReader } from '../storage/window-changes.ts';

export interface ReplayBatch {
  rows: ChangedWindow[];
}

/** Catch-up queries in flight at once (across tenants): after a Redis blip every tenant catches up. */
const MAX_CONCURRENT = 4;

export function createReplayLoader(deps: { reader: WindowChangesReader; maxRows: number }) {
  interface Pending {
    since: number;
    waiters: { resolve: (b: ReplayBatch) => void; reject: (e: unknown) => void }[];
  }
  const running = new Set<string>();
  const next = new Map<string, Pending>();

  // The read is retried on transient failures by the ClickHouse wrapper (src/storage/clickhouse-policy.ts).
  async function query(tenantId: string, since: number): Promise<ReplayBatch> {
    let rows: ChangedWindow[];
    try {
      rows = await deps.reader.changedSince({ tenantId, since, limit: deps.maxRows });
    } catch {
      throw new GraphQLError('Could not read what changed since then; resubscribe with the same since to retry', { extensions: { code: 'RESUME_FAILED' } });
    }
    if (rows.length > deps.maxRows) {
      throw new GraphQLError(`More than ${deps.maxRows} windows changed since then: re-query with Query.series and subscribe without since`, {
        extensions: { code: 'RESUME_TOO_LARGE' },
      });
    }
    return { rows };
  }

  /** Starts waiting tenants (oldest request first) while slots are free. */
  function pump(): void {
    for (const [tenantId, pending] of next) {
      if (running.size >= MAX_CONCURRENT) return;
      if (running.has(tenantId)) continue;
      next.delete(tenantId);
      running.add(tenantId);
      query(tenantId, pending.since)
        .then(
          (batch) => pending.waiters.forEach((w) => w.resolve(batch)),
          (err: unknown) => pending.waiters.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          running.delete(tenantId);
          pump();
        });
    }
  }

  return {
    /** Every window of `tenantId` written at or after `since` (possibly from earlier, shared with other callers). */
    load(tenantId: string, since: number): Promise<ReplayBatch> {
      return new Promise((resolve, reject) => {
        const pending = next.get(tenantId);
        if (pending) {
          pending.since = Math.min(pending.since, since);
          pending.waiters.push({ resolve, reject });
        } else next.set(tenantId, { since, waiters: [{ resolve, reject }] });
        pump();
      });
    },
  };
}

export type ReplayLoader = ReturnType<typeof createReplayLoader>;
