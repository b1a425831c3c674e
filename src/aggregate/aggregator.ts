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
import { windowId, type WindowRef } from '../contracts/window.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { withSpan } from '../observability/tracing.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { ProgressStore } from '../storage/progress-store.ts';
import type { WindowStore } from '../storage/window-store.ts';
import { createFlushLoop } from './flush-loop.ts';
import { createWindowEngine, type CollectedUpdate, type WindowEngine } from './window-engine.ts';

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
}

const RESTORE_CHUNK = 500;

/** Rebuilds these windows in `engine` from the event log and `windows`, RESTORE_CHUNK at a time. */
async function restoreWindows(deps: AggregatorDeps, engine: WindowEngine, refs: readonly WindowRef[]): Promise<void> {
  for (let i = 0; i < refs.length; i += RESTORE_CHUNK) {
    const chunk = refs.slice(i, i + RESTORE_CHUNK);
    const [events, stored] = await Promise.all([deps.eventLog.loadWindows(chunk), deps.windowStore.loadStored(chunk)]);
    for (const ref of chunk) {
      const s = stored.get(windowId(ref));
      engine.restore(ref, { revision: s?.revision ?? 0, final: s?.final ?? false, values: s?.values ?? null, events: events.get(windowId(ref)) ?? [] });
    }
  }
}

/**
 * One flush: restores what the engine waits for, writes changed windows and their hours,
 * saves progress (checkpoint `seqAtStart`: every event fed up to it is in the windows
 * written), then publishes progress and the updates, and evicts what is done.
 */
async function flushWindows(deps: AggregatorDeps, engine: WindowEngine, seqAtStart: number): Promise<CollectedUpdate[]> {
  const { metrics } = deps;
  const startedAt = deps.clock();
  const stopTimer = metrics.flushDuration.startTimer();
  if (deps.caughtUp?.() ?? true) engine.advance(startedAt);
  await restoreWindows(deps, engine, engine.pendingRestores());
  const updates = engine.collect();
  if (updates.length > 0) await deps.windowStore.write(updates, (ref) => engine.usersOf(ref), deps.source);
  // Recompute the hours these minutes fall in (windows_hourly), before progress is saved:
  // a crash in between leaves them to recover(), which re-rolls everything since the checkpoint.
  if (updates.length > 0) await deps.windowStore.rollupHours(updates);
  engine.acknowledge(updates);
  const processedThrough = deps.processedThrough ? deps.processedThrough(startedAt) : startedAt;
  const progress = { source: deps.source, processedThrough, watermark: engine.watermark() };
  await deps.progressStore.save({ ...progress, checkpointSeq: seqAtStart });
  const lastEventAt: Record<string, number> = {};
  for (const u of updates) lastEventAt[u.tenantId] = Math.max(lastEventAt[u.tenantId] ?? 0, u.lastEventAt);
  for (const u of updates) metrics.windowUpdates.inc({ kind: u.kind });
  // Progress first, so a subscriber's freshness is current when the windows arrive.
  await deps.bus.publishProgress(updates.length > 0 ? { ...progress, lastEventAt } : progress);
  await deps.bus.publishWindows(updates.map(({ version: _v, ...u }) => u));
  engine.evict();
  stopTimer();
  return updates;
}

export function createAggregator(deps: AggregatorDeps) {
  const { logger, metrics, clock } = deps;
  let engine: WindowEngine = createWindowEngine({ allowedLatenessMs: deps.allowedLatenessMs });
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
        const flushed = engine;
        const updates = await flushWindows(deps, flushed, fedSeq);
        reportSize(flushed.size());
        span.setAttribute('tilecast.window_updates', updates.length);
        return updates;
      }),
  });

  return {
    /**
     * Takes back what a previous run left: resumes the persisted watermark, then
     * restores every window stored as not final and every window touched by events
     * logged after the last checkpoint.
     */
    async recover(): Promise<{ restored: number; maxSeq: number }> {
      const progress = (await deps.progressStore.loadAll()).find((p) => p.source === deps.source);
      engine = createWindowEngine({ allowedLatenessMs: deps.allowedLatenessMs, initialWatermark: progress?.watermark ?? 0 });
      const [open, since, maxSeq] = await Promise.all([
        deps.windowStore.openWindows(deps.source),
        deps.eventLog.windowsSince(deps.source, progress?.checkpointSeq ?? 0),
        deps.eventLog.maxSeq(deps.source),
      ]);
      const refs = [...new Map([...open, ...since].map((r) => [windowId(r), r])).values()];
      await restoreWindows(deps, engine, refs);
      // The last run may have written these minutes and died before rolling their hours up.
      await deps.windowStore.rollupHours(refs);
      fedSeq = maxSeq;
      reportSize(engine.size());
      logger.info({ source: deps.source, restored: refs.length, checkpoint: progress?.checkpointSeq ?? 0, maxSeq }, 'aggregator recovered');
      return { restored: refs.length, maxSeq };
    },

    /** Feeds events that are already in the event log (synchronous, no I/O). */
    ingest(events: readonly WindowEvent[], seq: number): void {
      const now = clock();
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
