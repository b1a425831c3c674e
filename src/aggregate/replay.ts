/**
 * Replay / backfill: rebuilds one tenant's windows in a time range from the event
 * log, with the same window engine the live path uses (its restore path: a window's
 * logged events, each key once, on top of its stored revision).
 *
 * Idempotent: a window whose stored snapshot already equals what its logged events
 * add up to is left alone; any other (missing, wrong, or not marked final) is written
 * as a full snapshot with a higher revision, so it replaces what was there and a second
 * replay finds nothing to do. The model's cells (metric_windows) count too: a window whose
 * newest cells write is not at its revision with the log's event count (missing, behind,
 * or overwritten by a higher row_version) is rewritten, cells and `windows` both, at a
 * revision above either, in the live order (kept values, cells, cell hours, windows).
 * Windows are processed in chunks, so memory stays bounded whatever the range.
 *
 * Windows past the watermark of the aggregator source that owns them (its last
 * recorded progress) are left alone: they are not final yet, and that aggregator
 * rebuilds them from the log itself. A source that never recorded progress has no such
 * windows in flight. Windows with no logged events (the log's retention passed them)
 * cannot be rebuilt and are left as they are.
 */
import { WINDOW_MS } from '../contracts/metrics.ts';
import { windowId, type WindowUpdate } from '../contracts/window.ts';
import type { Logger } from '../observability/logger.ts';
import { withSpan } from '../observability/tracing.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { ProgressStore } from '../storage/progress-store.ts';
import type { LoggedWindow, ReplayReader } from '../storage/replay-reader.ts';
import type { WindowStore } from '../storage/window-store.ts';
import type { MetricWindowStore } from '../storage/metric-window-store.ts';
import type { ModelPlan } from '../model/types.ts';
import { createDimensionBudget, type DimensionBudget } from './dimension-budget.ts';
import { createCellApplier } from './model-cells.ts';
import { withCells } from './aggregator.ts';
import { createWindowEngine } from './window-engine.ts';

export interface ReplayDeps {
  eventLog: EventLog;
  windowStore: WindowStore;
  progressStore: ProgressStore;
  reader: ReplayReader;
  logger: Logger;
  /** The model whose cells (metric_windows) are rebuilt beside `windows`, and their store. */
  plan: ModelPlan;
  metricStore: MetricWindowStore;
  /** Publishes rewritten windows (REDIS_URL: live dashboards see the corrections). Default: none. */
  publish?: (updates: readonly WindowUpdate[]) => Promise<void>;
}

export interface ReplayOptions {
  tenantId: string;
  /** Inclusive, epoch ms; rounded down to a window start. */
  from: number;
  /** Exclusive, epoch ms; rounded up to a window start. */
  to: number;
  /** Windows per restore/write round trip. Default 200. */
  chunkSize?: number;
  /** Called after each chunk with windows done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  from: number;
  to: number;
  /** Windows rebuilt (or found right). */
  windows: number;
  /** Windows in range past their source's watermark: left to the live aggregator. */
  open: number;
  events: number;
  /** Written with a higher revision (their stored form differed from the log). */
  rewritten: number;
  unchanged: number;
}

const floorWindow = (ms: number) => Math.floor(ms / WINDOW_MS) * WINDOW_MS;
const ceilWindow = (ms: number) => Math.ceil(ms / WINDOW_MS) * WINDOW_MS;

export async function replayWindows(deps: ReplayDeps, o: ReplayOptions): Promise<ReplayResult> {
  return withSpan('aggregate.replay', { attributes: { 'tilecast.tenant': o.tenantId } }, async (span) => {
    const from = floorWindow(o.from);
    const to = ceilWindow(o.to);
    const result: ReplayResult = { from, to, windows: 0, open: 0, events: 0, rewritten: 0, unchanged: 0 };
    if (to <= from) return result;
    const watermarks = new Map((await deps.progressStore.loadAll()).map((p) => [p.source, p.watermark]));
    const inRange = await deps.reader.loggedWindows(o.tenantId, from, to);
    // Final for its own aggregator: the window ends at or before that source's watermark.
    const logged = inRange.filter((w) => w.windowStart + WINDOW_MS <= (watermarks.get(w.source) ?? Infinity));
    result.windows = logged.length;
    result.open = inRange.length - logged.length;
    const chunkSize = o.chunkSize ?? 200;
    o.onProgress?.(0, logged.length);
    const budget = createDimensionBudget(deps.plan);
    budget.seed(await deps.metricStore.loadKept());
    for (let i = 0; i < logged.length; i += chunkSize) {
      const chunk = logged.slice(i, i + chunkSize);
      const written = await replayChunk(deps, budget, chunk);
      result.rewritten += written;
      result.unchanged += chunk.length - written;
      result.events += chunk.reduce((n, w) => n + w.events, 0);
      o.onProgress?.(Math.min(i + chunkSize, logged.length), logged.length);
    }
    span.setAttributes({ 'tilecast.windows': result.windows, 'tilecast.rewritten': result.rewritten });
    deps.logger.info({ ...result, tenant: o.tenantId, from: new Date(from).toISOString(), to: new Date(to).toISOString() }, 'replay done');
    return result;
  });
}

/** Restores one chunk into a fresh engine whose watermark is past all of it (every window is final) and writes what differs. */
async function replayChunk(deps: ReplayDeps, budget: DimensionBudget, chunk: readonly LoggedWindow[]): Promise<number> {
  const cells = createCellApplier(deps.plan, budget);
  const engine = createWindowEngine({ allowedLatenessMs: 0, initialWatermark: chunk.at(-1)!.windowStart + WINDOW_MS, cells });
  const [events, stored, written] = await Promise.all([deps.eventLog.loadWindows(chunk), deps.windowStore.loadStored(chunk), deps.metricStore.loadWritten(chunk)]);
  for (const ref of chunk) {
    const id = windowId(ref);
    const s = stored.get(id);
    const c = written.get(id) ?? null;
    // Above both the `windows` row and any cells row, so a rewrite replaces them whatever they hold.
    const revision = Math.max(s?.revision ?? 0, c?.revision ?? 0);
    // Stored values and cells equal to the log's: nothing to write (unless not yet marked final).
    engine.restore(ref, { revision, final: s?.final ?? false, values: s?.values ?? null, events: events.get(id) ?? [], cells: c });
  }
  const updates = engine.collect();
  if (updates.length === 0) return 0;
  const sourceOf = new Map(chunk.map((w) => [windowId(w), w.source]));
  // One insert per aggregator source (a window keeps the source that owns it).
  const bySource = new Map<string, typeof updates>();
  for (const u of updates) {
    const source = sourceOf.get(windowId(u))!;
    bySource.set(source, [...(bySource.get(source) ?? []), u]);
  }
  // The live order (aggregator.ts): kept values, cells, their hours, then `windows` (the commit marker).
  const kept = budget.unsaved();
  if (kept.length > 0) {
    await deps.metricStore.saveKept(kept, 'replay');
    budget.saved(kept);
  }
  const snapshots = updates.map((update) => ({ update, ...engine.cellsOf(update) }));
  const snapshotOf = new Map(snapshots.map((s) => [s.update, s]));
  for (const [source, list] of bySource) await deps.metricStore.write(list.map((update) => snapshotOf.get(update)!), source);
  await deps.metricStore.rollupHours(updates);
  for (const [source, list] of bySource) await deps.windowStore.write(list, (ref) => engine.usersOf(ref), source);
  engine.acknowledge(updates);
  await deps.publish?.(withCells(updates, snapshots));
  return updates.length;
}
