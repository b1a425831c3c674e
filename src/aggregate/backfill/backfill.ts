/**
 * Backfill of metric versions from the event log: a metric added to the model (or a new
 * version) is computed live from the moment a process runs it (its `live` record in
 * backfill_coverage, migrations/0013), but minutes written before have no rows of it in
 * metric_windows. This walks the log and writes them.
 *
 * Order: by hour of window start, NEWEST FIRST, from the hour after live computation
 * began down to the oldest logged window. So what is covered is always one contiguous
 * range ending at live computation, `incompleteBefore` only moves back, and the recent
 * history dashboards read most becomes complete first. Hours without logged events cost
 * nothing (planned from one count per hour). Each chunk (one hour, all tenants) is
 * recorded after its rows are written; a run resumes below the lowest recorded range.
 *
 * Per base window (tenant × currency × minute) of a chunk: its distinct logged events
 * (each key once, the restore path's dedupe) go through createCellApplier on a plan
 * holding only the backfilled measures, with the dimension budget seeded from
 * dimension_values (kept values shared with the live path; new ones saved before any
 * cell that uses them), and its cells are written with the window's CURRENT stored
 * revision, final flag and row_version (revision × 2^32 + the events that revision
 * counted, read from `windows FINAL`). Then its hours of metric_windows_hourly are
 * recomputed from metric_windows FINAL.
 *
 * Exactly once, under a concurrent live flush and after kill -9:
 * - Cells are recomputed from the window's whole set of logged events, never added to:
 *   writing a chunk again (a rerun after kill -9 before its range was recorded, or two
 *   runs racing) writes the same rows with the same row_version, which replace themselves.
 * - `windows FINAL` is read BEFORE the events. An event is logged before any aggregator
 *   counts it, so the events read include every event of the revision read (V): our rows
 *   hold V's events, or more. A live writer of the window runs the new model (that is what
 *   `live` records), so it writes every metric's cells, this one included, and it writes
 *   a revision's cells before its `windows` row (aggregator.ts). So when we read V, live
 *   rows of V are already in, and any later live write is V+1 or more: its rows replace
 *   ours whatever the order of the inserts. A tie at V (live rows of V, then ours) differs
 *   only when more events are logged than V counted, and a live aggregator then writes
 *   them as V+1 (it fed them, or its recovery restores every window logged after its
 *   checkpoint and every window left open). So the last word on a window is its log.
 * - A window with logged events but no stored revision is not yet written by its
 *   aggregator (its recovery writes it with the whole model): left alone.
 * - The hourly rollup reads metric_windows FINAL after our insert and is versioned by
 *   the clock at its start, like the live flush's: of two racing recomputes of an hour,
 *   the later-starting one read the other's minutes.
 * - kill -9 between a chunk's write and its record redoes that chunk (idempotent); between
 *   the record and the rollup leaves an hour stale only until the next write of it — so
 *   the rollup runs before the record.
 * Limit: a budgeted dimension value first kept here is unknown to a running aggregator
 * until it restarts (it loads kept values then); at a full budget the two may fold one
 * value differently. Currency, the only dimension of the default model, is never folded.
 */
import { windowId } from '../../contracts/window.ts';
import type { WindowEvent } from '../../contracts/event.ts';
import type { MeasureVersion, ModelPlan } from '../../model/types.ts';
import type { Logger } from '../../observability/logger.ts';
import { backfillEnd, coveredFrom, HOUR_MS, type BackfillStore } from '../../storage/backfill-store.ts';
import type { EventLog } from '../../storage/event-log.ts';
import type { CellsWrite, MetricWindowStore } from '../../storage/metric-window-store.ts';
import { createDimensionBudget, type DimensionBudget } from '../dimension-budget.ts';
import { createCellApplier, emptyCells, snapshotCells, type CellApplier, type Cells } from '../model-cells.ts';

export interface BackfillDeps {
  plan: ModelPlan;
  eventLog: EventLog;
  metricStore: MetricWindowStore;
  store: BackfillStore;
  logger: Logger;
  /** Checked between chunks: once aborted the run stops after the chunk in hand. */
  signal?: AbortSignal;
  /** Events done so far and the total planned (after each chunk). */
  onProgress?: (done: number, total: number) => void;
  /** Called after a chunk's rows and rollups are written, before its range is recorded (crash tests kill the process here). */
  afterWrite?: (chunks: number) => void;
}

export interface BackfillResult {
  /** The metric ids backfilled (live, not done before the run). */
  metrics: string[];
  /** Selected ids no process has computed live yet: nothing to backfill up to. */
  notLive: string[];
  chunks: number;
  events: number;
  windows: number;
  rows: number;
  /** Aborted before the walk reached the oldest logged window. */
  stopped: boolean;
  elapsedMs: number;
}

const SOURCE = 'backfill';

/** The plan's measures with these ids (all when none); an unknown or formula id is an error. */
export function selectMeasures(plan: ModelPlan, ids?: readonly string[]): MeasureVersion[] {
  if (!ids || ids.length === 0) return [...plan.measures];
  const byId = new Map(plan.measures.map((m) => [m.id, m]));
  const bad = ids.filter((id) => !byId.has(id));
  if (bad.length) throw new RangeError(`not a stored metric of model ${plan.name}: ${bad.join(', ')} (known: ${[...byId.keys()].join(', ')})`);
  return [...new Set(ids)].map((id) => byId.get(id)!);
}

interface Todo {
  measure: MeasureVersion;
  liveSince: number;
  /** Covered from here up to the end. */
  cursor: number;
}

export async function runBackfill(deps: BackfillDeps, metricIds?: readonly string[]): Promise<BackfillResult> {
  const startedAt = Date.now();
  const measures = selectMeasures(deps.plan, metricIds);
  const coverage = await deps.store.loadCoverage(measures.map((m) => m.id));
  const todo: Todo[] = [];
  const notLive: string[] = [];
  for (const m of measures) {
    const c = coverage.get(m.id)!;
    if (c.liveSince === null) notLive.push(m.id);
    else if (!c.done) todo.push({ measure: m, liveSince: c.liveSince, cursor: coveredFrom(c.ranges, backfillEnd(c.liveSince)) });
  }
  const result: BackfillResult = { metrics: todo.map((t) => t.measure.id), notLive, chunks: 0, events: 0, windows: 0, rows: 0, stopped: false, elapsedMs: 0 };
  if (todo.length === 0) return { ...result, elapsedMs: Date.now() - startedAt };

  const oldest = await deps.store.oldest();
  const lower = oldest.logged === null ? null : Math.floor(oldest.logged / HOUR_MS) * HOUR_MS;
  const top = Math.max(...todo.map((t) => t.cursor));
  const hours = lower === null || lower >= top ? [] : (await deps.store.hourCounts(lower, top)).filter((h) => todo.some((t) => h.hour < t.cursor));
  const total = hours.reduce((n, h) => n + h.events, 0);
  const budget = createDimensionBudget(deps.plan);
  budget.seed(await deps.metricStore.loadKept());
  deps.onProgress?.(0, total);
  let done = 0;
  for (const { hour, events } of hours) {
    if (deps.signal?.aborted) {
      result.stopped = true;
      break;
    }
    const chunk = todo.filter((t) => hour < t.cursor);
    const written = await backfillHour(deps, budget, chunk.map((t) => t.measure), hour);
    deps.afterWrite?.(result.chunks + 1);
    await deps.store.recordRanges(chunk.map((t) => ({ id: t.measure.id, from: hour, to: t.cursor })));
    for (const t of chunk) t.cursor = hour;
    result.chunks += 1;
    result.events += written.events;
    result.windows += written.windows;
    result.rows += written.rows;
    done += events;
    deps.onProgress?.(done, total);
  }
  if (!result.stopped) await finish(deps, todo, lower, oldest.stored);
  result.elapsedMs = Date.now() - startedAt;
  deps.logger.info({ ...result, metrics: result.metrics.join(',') }, result.stopped ? 'backfill stopped' : 'backfill done');
  return result;
}

/** The walk reached the oldest logged window: what is older than it (the log expired) stays incomplete. */
async function finish(deps: BackfillDeps, todo: readonly Todo[], lower: number | null, oldestStored: number | null): Promise<void> {
  const ranges = lower === null ? [] : todo.filter((t) => lower < t.cursor).map((t) => ({ id: t.measure.id, from: lower, to: t.cursor }));
  await deps.store.recordRanges(ranges);
  const done = todo.map((t) => {
    const bound = Math.min(lower ?? t.cursor, t.cursor, t.liveSince);
    return { id: t.measure.id, incompleteBefore: oldestStored !== null && oldestStored < bound ? bound : null };
  });
  await deps.store.recordDone(done);
}

const eventOrder = (a: WindowEvent, b: WindowEvent) => a.timestamp - b.timestamp || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Writes the measures' cells of every stored window starting in [hour, hour + 1h), then recomputes that hour's rollups. */
async function backfillHour(deps: BackfillDeps, budget: DimensionBudget, measures: readonly MeasureVersion[], hour: number) {
  // Stored revisions first, then the events (see the file comment).
  const stored = await deps.store.storedVersions(hour, hour + HOUR_MS);
  const logged = await deps.eventLog.loadRange(hour, hour + HOUR_MS);
  const byWindow = new Map<string, WindowEvent[]>();
  for (const e of logged) {
    const id = windowId({ tenantId: e.tenantId, currency: e.currency, windowStart: Math.floor(e.timestamp / deps.plan.windowMs) * deps.plan.windowMs });
    const list = byWindow.get(id);
    if (list) list.push(e);
    else byWindow.set(id, [e]);
  }
  const apply: CellApplier = createCellApplier({ ...deps.plan, measures }, budget);
  const bySource = new Map<string, CellsWrite[]>();
  let events = 0;
  let rows = 0;
  for (const w of stored) {
    const list = byWindow.get(windowId(w));
    if (!list) continue;
    // Arrival order within a window is not logged: a fixed order keeps budget decisions repeatable.
    list.sort(eventOrder);
    const cells: Cells = emptyCells();
    for (const e of list) apply(cells, e, false);
    events += list.length;
    const snapshot = snapshotCells(cells);
    if (snapshot.length === 0) continue;
    rows += snapshot.length;
    const write: CellsWrite = { update: { tenantId: w.tenantId, currency: w.currency, windowStart: w.windowStart, revision: w.revision, final: w.final, lastEventAt: w.lastEventAt }, cells: snapshot, events: w.events };
    const of = bySource.get(w.source);
    if (of) of.push(write);
    else bySource.set(w.source, [write]);
  }
  const kept = budget.unsaved();
  if (kept.length > 0) {
    await deps.metricStore.saveKept(kept, SOURCE);
    budget.saved(kept);
  }
  // Each row keeps the source of the aggregator that owns its window.
  for (const [source, writes] of bySource) await deps.metricStore.write(writes, source);
  const refs = [...bySource.values()].flat().map((w) => w.update);
  if (refs.length > 0) await deps.metricStore.rollupHours(refs);
  return { events, windows: refs.length, rows };
}
