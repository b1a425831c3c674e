/**
 * Readiness checks with per-dependency detail, for `/readyz`. Each check gets a
 * deadline, so a hung dependency answers "not ready: timed out" instead of hanging the
 * probe; they run concurrently. Only dependencies the process is configured to use are
 * checked (no Kafka check in embedded mode).
 */
import type { UpdateBus } from '../realtime/bus.ts';
import type { ClickHouse } from '../storage/clickhouse.ts';
import { pendingMigrations } from '../storage/migrations.ts';

export interface Check {
  ok: boolean;
  detail?: string;
}
export type CheckFn = () => Promise<Check>;

const DEFAULT_TIMEOUT_MS = 2_000;

/** Runs every check concurrently, each bounded by `timeoutMs`; a throw or a timeout is `ok: false` with the reason. */
export async function runChecks(checks: Record<string, CheckFn>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ ready: boolean; checks: Record<string, Check> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, fn]): Promise<[string, Check]> => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<Check>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      try {
        return [name, await Promise.race([fn(), deadline])];
      } catch (err) {
        return [name, { ok: false, detail: err instanceof Error ? err.message : String(err) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const out = Object.fromEntries(entries);
  return { ready: entries.every(([, c]) => c.ok), checks: out };
}

/** ClickHouse answers a ping; `migrations`: every migration file is applied. */
export function storageChecks(db: ClickHouse, kind: string): Record<string, CheckFn> {
  return {
    clickhouse: async () => ({ ok: await db.ping(), detail: kind }),
    migrations: async () => {
      const pending = await pendingMigrations(db);
      return { ok: pending.length === 0, detail: pending.length ? `pending: ${pending.join(', ')}` : 'applied' };
    },
  };
}

/**
 * Redis, judged by the bus's own delivery signals: not ready from a `lost` gap (the
 * subscriber connection dropped) until `restored`. Returns the check and an unsubscribe.
 */
export function busCheck(bus: UpdateBus): { check: CheckFn; close: () => void } {
  let lostSince: number | null = null;
  const off = bus.subscribeGaps((gap) => {
    if (gap.kind === 'lost') lostSince ??= Date.now();
    if (gap.kind === 'restored') lostSince = null;
  });
  return {
    check: async () =>
      lostSince === null ? { ok: true, detail: 'subscribed' } : { ok: false, detail: `subscriber connection lost ${Math.round((Date.now() - lostSince) / 1000)} s ago` },
    close: off,
  };
}
