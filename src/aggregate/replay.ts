/**
 * Replay / backfill: rebuilds one tenant's windows in a time range from the event
 * log, with the same window engine the live path uses (its restore path: a window's
 * logged events, each key once, on top of its stored revision).
 *
 * Idempotent: a window whose stored snapshot already equals what its logged events
 * add up to is left alone; any other (missing, wrong, or not marked final) is written
 * as a full snapshot with a higher revision, so it replaces what was there and a second
 * replay finds nothing to do. Windows are processed in chunks, so memory stays bounded
 * whatever the range.
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
import { createWindowEngine } from './window-engine.ts';

export interface ReplayDeps {
  eventLog: EventLog;
  windowStore: WindowStore;
  progressStore: ProgressStore;
  reader: ReplayReader;
  logger: Logger;
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
    for (let i = 0; i < logged.length; i += chunkSize) {
      const chunk = logged.slice(i, i + chunkSize);
      const written = await replayChunk(deps, chunk);
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
async function replayChunk(deps: ReplayDeps, chunk: readonly LoggedWindow[]): Promise<number> {
  const engine = createWindowEngine({ allowedLatenessMs: 0, initialWatermark: chunk.at(-1)!.windowStart + WINDOW_MS });
  const [events, stored] = await Promise.all([deps.eventLog.loadWindows(chunk), deps.windowStore.loadStored(chunk)]);
  for (const ref of chunk) {
    const s = stored.get(windowId(ref));
    // Stored values equal to the log's sum: nothing to write (unless not yet marked final).
    engine.restore(ref, { revision: s?.revision ?? 0, final: s?.final ?? false, values: s?.values ?? null, events: events.get(windowId(ref)) ?? [] });
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
  for (const [source, list] of bySource) await deps.windowStore.write(list, (ref) => engine.usersOf(ref), source);
  // Their hours in windows_hourly are recomputed from the rewritten minutes (one statement per chunk).
  await deps.windowStore.rollupHours(updates);
  engine.acknowledge(updates);
  await deps.publish?.(updates.map(({ version: _v, ...u }) => u));
  return updates.length;
}
