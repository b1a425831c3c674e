/**
 * The aggregator around the pure window engine: feeds it logged events, and on a
 * timer (FLUSH_INTERVAL_MS) restores windows it must take back from storage, writes
 * changed windows to ClickHouse, records progress, then publishes the updates.
 *
 * Exactly-once effect: window writes are full snapshots keyed by window and
 * revision, so a retried or repeated write changes nothing; the event log is the
 * truth a restart rebuilds from (open windows + everything logged after the last
 * checkpoint). A failed flush leaves the engine's windows dirty and is retried with
 * backoff.
 *
 * One aggregator serves one source: the HTTP intake ('http'), or one Kafka partition
 * ('kafka:<topic>:<p>', see kafka-worker.ts). Its progress, open windows and logged
 * events are all looked up by that source name.
 */
import type { WindowEvent } from '../contracts/event.ts';
import { busCellsOf, windowId, type CellSnapshot, type WindowRef, type WindowUpdate } from '../contracts/window.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { withSpan } from '../observability/tracing.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { ProgressStore } from '../storage/progress-store.ts';
import type { WindowStore } from '../storage/window-store.ts';
import type { ModelPlan } from '../model/types.ts';
import type { KeptValueRow } from '../storage/dimension-values.ts';
import type { MetricWindowStore } from '../storage/metric-window-store.ts';
import { createDimensionBudget, type DimensionBudget } from './dimension-budget.ts';
import { createFlushLoop } from './flush-loop.ts';
import { createCellApplier } from './model-cells.ts';
import { createWindowEngine, windowStartOf, type CollectedUpdate, type WindowEngine } from './window-engine.ts';

export interface AggregatorDeps {
  source: string;
  eventLog: EventLog;
  windowStore: WindowStore;
  progressStore: ProgressStore;
  bus: UpdateBus;
  clock: () => number;
  logger: Logger;
  metrics: Metrics;
  allowedLatenessMs: number;
  flushIntervalMs: number;
  /**
   * Freshness reported with each flush: every event accepted before this instant is
   * in ClickHouse. Default: the flush's start (right for the HTTP intake, which logs
   * before it answers); a Kafka partition passes how far it has caught up instead.
   */
  processedThrough?: (flushStartedAt: number) => number;
  /**
   * Whether the source has nothing waiting, so an idle watermark may follow the clock.
   * Default: always (the HTTP intake has no backlog). A Kafka partition with lag is not
   * idle: its watermark must wait for the backlog's event times, or a replay would
   * turn every window final on arrival and every event into a correction.
   */
  caughtUp?: () => boolean;
  /**
   * The compiled model whose stored metrics (plan.measures) are aggregated into
   * metric_windows beside `windows`, with `metricStore`. Default: none (only `windows`);
   * the composition root passes the model it loaded (config.model.path).
   */
  plan?: ModelPlan;
  metricStore?: MetricWindowStore;
}

/** One engine and, with a model, the dimension budget its cells fold with. */
interface EngineState {
  engine: WindowEngine;
  budget: DimensionBudget | null;
}

function newEngine(deps: AggregatorDeps, initialWatermark: number, kept: readonly KeptValueRow[]): EngineState {
  const options = { allowedLatenessMs: deps.allowedLatenessMs, initialWatermark };
  if (!deps.plan) return { engine: createWindowEngine(options), budget: null };
  const budget = createDimensionBudget(deps.plan);
  budget.seed(kept);
  const folds = deps.metrics.dimensionFolds;
  const cells = createCellApplier(deps.plan, budget, (dimension) => folds.inc({ dimension }));
  return { engine: createWindowEngine({ ...options, cells }), budget };
}

const RESTORE_CHUNK = 500;

/** The bus messages of collected updates: engine bookkeeping dropped, each window's model cells attached (when a model is aggregated). */
export function withCells(updates: readonly CollectedUpdate[], snapshots: readonly { update: CollectedUpdate; cells: readonly CellSnapshot[] }[]): WindowUpdate[] {
  const cellsOf = new Map(snapshots.map((s) => [s.update, s.cells]));
  return updates.map(({ version: _v, ...u }, i) => {
    const cells = cellsOf.get(updates[i]!);
    return cells ? { ...u, cells: busCellsOf(cells) } : u;
  });
}

/** Rebuilds these windows in `engine` from the event log and `windows`, RESTORE_CHUNK at a time. */
async function restoreWindows(deps: AggregatorDeps, engine: WindowEngine, refs: readonly WindowRef[]): Promise<void> {
  for (let i = 0; i < refs.length; i += RESTORE_CHUNK) {
    const chunk = refs.slice(i, i + RESTORE_CHUNK);
    // The cells' last write: remembered by the engine for windows it evicted, else looked up.
    const unknown = deps.plan && deps.metricStore ? chunk.filter((r) => !engine.writtenCells(r)) : [];
    const [events, stored, looked] = await Promise.all([
      deps.eventLog.loadWindows(chunk),
      deps.windowStore.loadStored(chunk),
      unknown.length > 0 ? deps.metricStore!.loadWritten(unknown) : new Map<string, { revision: number; events: number }>(),
    ]);
    const cells = deps.plan && deps.metricStore ? looked : null;
    for (const ref of chunk) {
      const id = windowId(ref);
      const s = stored.get(id);
      engine.restore(ref, {
        revision: s?.revision ?? 0,
        final: s?.final ?? false,
        values: s?.values ?? null,
        events: events.get(id) ?? [],
        ...(cells ? { cells: engine.writtenCells(ref) ?? cells.get(id) ?? null } : {}),
      });
    }
  }
}

/**
 * One flush: restores what the engine waits for, writes changed windows (the model's cells
 * and their hours, then `windows`), saves progress (checkpoint `seqAtStart`: every event
 * fed up to it is in the windows written), then publishes progress and the updates, and
 * evicts what is done.
 */
async function flushWindows(deps: AggregatorDeps, { engine, budget }: EngineState, seqAtStart: number): Promise<CollectedUpdate[]> {
  const { metrics, metricStore } = deps;
  const startedAt = deps.clock();
  const stopTimer = metrics.flushDuration.startTimer();
  if (deps.caughtUp?.() ?? true) engine.advance(startedAt);
  await restoreWindows(deps, engine, engine.pendingRestores());
  const updates = engine.collect();
  // Snapshots taken with the collect (events fed while the writes run belong to the next flush).
  const cells = metricStore && budget ? updates.map((update) => ({ update, ...engine.cellsOf(update) })) : [];
  const kept = budget ? budget.unsaved() : [];
  // Kept dimension values before any cell that uses them (src/aggregate/dimension-budget.ts).
  if (metricStore && kept.length > 0) {
    await metricStore.saveKept(kept, deps.source);
    budget!.saved(kept);
  }
  // The model's cells and their hours, then `windows`: what recover() takes back is found
  // through `windows` (its open windows) and the log (events since the checkpoint), so a
  // crash before the `windows` write leaves the window to be rewritten whole — also when
  // the change was only turning final. Restore compares the cells' stored revision and
  // event count with the log's replay, so cells that missed a write are rewritten too.
  if (metricStore && cells.length > 0) {
    await metricStore.write(cells, deps.source);
    await metricStore.rollupHours(updates);
  }
  if (updates.length > 0) await deps.windowStore.write(updates, (ref) => engine.usersOf(ref), deps.source);
  engine.acknowledge(updates);
  const processedThrough = deps.processedThrough ? deps.processedThrough(startedAt) : startedAt;
  const progress = { source: deps.source, processedThrough, watermark: engine.watermark() };
  await deps.progressStore.save({ ...progress, checkpointSeq: seqAtStart });
  const lastEventAt: Record<string, number> = {};
  for (const u of updates) lastEventAt[u.tenantId] = Math.max(lastEventAt[u.tenantId] ?? 0, u.lastEventAt);
  for (const u of updates) metrics.windowUpdates.inc({ kind: u.kind });
  // Progress first, so a subscriber's freshness is current when the windows arrive.
  await deps.bus.publishProgress(updates.length > 0 ? { ...progress, lastEventAt } : progress);
  await deps.bus.publishWindows(withCells(updates, cells));
  engine.evict();
  stopTimer();
  return updates;
}

export function createAggregator(deps: AggregatorDeps) {
  const { logger, metrics, clock } = deps;
  if (deps.plan && !deps.metricStore) throw new Error('aggregator: a plan needs a metricStore to write its cells');
  let state = newEngine(deps, 0, []);
  let fedSeq = 0;
  // The open-windows gauge is shared by every aggregator of the process: report deltas.
  let reportedSize = 0;
  const reportSize = (size: number) => {
    if (loop.isReleased()) return;
    metrics.openWindows.inc(size - reportedSize);
    reportedSize = size;
  };

  const loop = createFlushLoop({
    intervalMs: deps.flushIntervalMs,
    logger,
    metrics,
    flushOnce: () =>
      withSpan('aggregate.flush', { attributes: { 'tilecast.source': deps.source } }, async (span) => {
        const flushed = state;
        const updates = await flushWindows(deps, flushed, fedSeq);
        reportSize(flushed.engine.size());
        span.setAttribute('tilecast.window_updates', updates.length);
        return updates;
      }),
  });

  return {
    /**
     * Takes back what a previous run left: resumes the persisted watermark, then
     * restores every window stored as not final and every window touched by events
     * logged after the last checkpoint (their kept dimension values decided in the order
     * they arrived).
     */
    async recover(): Promise<{ restored: number; maxSeq: number }> {
      const [progresses, kept] = await Promise.all([deps.progressStore.loadAll(), deps.plan ? deps.metricStore!.loadKept() : []]);
      const progress = progresses.find((p) => p.source === deps.source);
      state = newEngine(deps, progress?.watermark ?? 0, kept);
      const [open, maxSeq] = await Promise.all([deps.windowStore.openWindows(deps.source), deps.eventLog.maxSeq(deps.source)]);
      const touched = new Map(open.map((r) => [windowId(r), r]));
      for await (const logged of deps.eventLog.loggedSince(deps.source, progress?.checkpointSeq ?? 0)) {
        // Restores apply each window's events in log order: decide kept values in arrival order first.
        state.engine.decideValues(logged);
        for (const e of logged) {
          const ref = { tenantId: e.tenantId, currency: e.currency, windowStart: windowStartOf(e.timestamp) };
          touched.set(windowId(ref), ref);
        }
      }
      const refs = [...touched.values()];
      await restoreWindows(deps, state.engine, refs);
      // The last run may have written these minutes and died before rolling their hours up.
      if (deps.plan) await deps.metricStore!.rollupHours(refs);
      fedSeq = maxSeq;
      reportSize(state.engine.size());
      logger.info({ source: deps.source, restored: refs.length, checkpoint: progress?.checkpointSeq ?? 0, maxSeq }, 'aggregator recovered');
      return { restored: refs.length, maxSeq };
    },

    /** Feeds events that are already in the event log (synchronous, no I/O). */
    ingest(events: readonly WindowEvent[], seq: number): void {
      const now = clock();
      const { engine } = state;
      for (const e of events) {
        // Behind the newest event time seen (watermark + allowed lateness), 0 when in order.
        metrics.windowLateness.observe(Math.max(0, engine.watermark() + deps.allowedLatenessMs - e.timestamp) / 1000);
        if (engine.add(e, now) === 'late') metrics.lateEvents.inc();
      }
      fedSeq = Math.max(fedSeq, seq);
    },

    /** When it resolves, everything ingested before the call is written (src/aggregate/flush-loop.ts). */
    flush: loop.flush,
    /** Flushes every `flushIntervalMs`, backing off while flushes fail. */
    start: loop.start,
    /** Stops the timer and writes what is still pending (if storage allows). */
    stop: loop.stop,

    /**
     * Forgets all state without writing (a Kafka partition that moved away or must be
     * rebuilt from the log). A flush already in flight is not waited for: snapshots
     * only ever hold logged events and the `windows` table keeps the most complete
     * one per revision, so a late write cannot hide a newer owner's.
     */
    release(): void {
      reportSize(0);
      loop.release();
    },

    isRunning: loop.isRunning,
  };
}

export type Aggregator = ReturnType<typeof createAggregator>;
