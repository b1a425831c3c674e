/**
 * What an API process knows of the model's backfill: per stored metric version, the
 * instant before which its points are not yet backfilled (null = complete), from
 * backfill_coverage (src/storage/backfill-store.ts). Loaded before the API serves, then
 * polled in the background while any version is incomplete, so answering `complete` /
 * `incompleteBefore` costs a request no ClickHouse read (one read per dashboard stays).
 * A version complete once stays complete: the model a process runs does not change.
 */
import type { Logger } from '../observability/logger.ts';
import type { ModelPlan } from '../model/types.ts';
import type { BackfillStore } from '../storage/backfill-store.ts';

export const POLL_MS = 5_000;

export async function createCoverageFeed(o: { plan: ModelPlan; store: Pick<BackfillStore, 'incompleteBefore'>; clock: () => number; logger: Logger; pollMs?: number }) {
  const known = new Map<string, number | null>();
  let pending = o.plan.measures.map((m) => m.id);
  const refresh = async () => {
    const now = await o.store.incompleteBefore(pending, o.clock());
    for (const [id, before] of now) known.set(id, before);
    pending = pending.filter((id) => known.get(id) !== null);
  };
  await refresh();
  let timer: NodeJS.Timeout | null = null;
  const schedule = () => {
    if (pending.length === 0) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err: unknown) => o.logger.warn({ err }, 'backfill coverage not read; the last known one is served'))
        .finally(schedule);
    }, o.pollMs ?? POLL_MS);
    timer.unref();
  };
  schedule();
  const coverage = { incompleteBefore: (id: string): number | null => known.get(id) ?? null };
  return {
    coverage,
    close(): void {
      pending = [];
      if (timer) clearTimeout(timer);
    },
  };
}
