/**
 * The backfill in long-running processes (embedded `start`, `tilecast worker`): on start
 * the process records when live computation of every stored metric of its model began
 * (before its aggregator writes anything), then, in the background, takes the
 * deployment's lease (lease.ts) and backfills every metric not complete yet. A process
 * that finds the lease taken (another worker backfills) or stops mid-way tries again
 * every `retryMs` until every metric is done. `stop()` ends the run after the chunk in hand.
 */
import type { ModelPlan } from '../../model/types.ts';
import type { Logger } from '../../observability/logger.ts';
import type { BackfillStore } from '../../storage/backfill-store.ts';
import type { EventLog } from '../../storage/event-log.ts';
import type { MetricWindowStore } from '../../storage/metric-window-store.ts';
import { runBackfill } from './backfill.ts';
import { createLease, type Lease } from './lease.ts';

export interface BackgroundDeps {
  plan: ModelPlan;
  eventLog: EventLog;
  metricStore: MetricWindowStore;
  store: BackfillStore;
  logger: Logger;
  lease: Lease;
  clock?: () => number;
  /** Wait before trying again (lease taken, run failed or stopped). Default 60 s. */
  retryMs?: number;
}

/** Records that this process computes the plan's stored metrics live from now (only where no earlier process did). */
export const recordLive = (store: BackfillStore, plan: ModelPlan, at: number): Promise<void> =>
  store.recordLive(
    plan.measures.map((m) => m.id),
    at,
  );

export function createBackgroundBackfill(deps: BackgroundDeps) {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let finished = false;
  const retryMs = deps.retryMs ?? 60_000;

  const attempt = async (): Promise<void> => {
    try {
      if (!(await deps.lease.acquire())) {
        deps.logger.debug('backfill: another process holds the lease');
        return;
      }
      try {
        // Stops after the chunk in hand on stop(), or once the lease is lost (another may hold it now).
        const run = new AbortController();
        const stopRun = () => run.abort();
        abort.signal.addEventListener('abort', stopRun);
        const r = await runBackfill({ ...deps, signal: run.signal, onProgress: () => (deps.lease.held() ? undefined : run.abort()) }).finally(() =>
          abort.signal.removeEventListener('abort', stopRun),
        );
        finished = !r.stopped;
      } finally {
        await deps.lease.release();
      }
    } catch (err) {
      deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'backfill failed; will retry');
    }
  };

  const schedule = (delayMs: number) => {
    if (abort.signal.aborted || finished) return;
    timer = setTimeout(() => {
      timer = null;
      running = attempt().then(() => schedule(retryMs));
    }, delayMs);
    timer.unref();
  };

  return {
    start(): void {
      schedule(0);
    },
    /** Resolves when every metric of the plan is backfilled by this process's run (tests). */
    isFinished: () => finished,
    async stop(): Promise<void> {
      abort.abort();
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
      await deps.lease.close();
    },
  };
}

export type BackgroundBackfill = ReturnType<typeof createBackgroundBackfill>;

/**
 * What `start` and `worker` call before their aggregators write: records live computation
 * of the plan's metrics from `at`, and returns the background backfill (not started) with
 * the deployment's lease (Redis with `redisUrl`, else in-process).
 */
export async function prepareBackfill(o: Omit<BackgroundDeps, 'lease'> & { at: number; redisUrl?: string; prefix: string }): Promise<BackgroundBackfill> {
  await recordLive(o.store, o.plan, o.at);
  return createBackgroundBackfill({ ...o, lease: createLease(o.redisUrl, o.prefix) });
}
