/**
 * The window engine: pure, clock-injected event-time aggregation into one-minute
 * windows per tenant × currency. No I/O: the caller feeds events, asks which
 * evicted windows it must restore from the event log, collects updates to write,
 * and acknowledges what was written.
 *
 * Guarantees:
 * - an idempotency key counts once per window (keys of restored windows included);
 * - an update's revision is one above the last acknowledged revision of its window;
 * - a window is `final` once the watermark passes its end; anything that changes it
 *   afterwards is a `correction` with a higher revision;
 * - a window whose end the watermark has passed and that is not in memory is never
 *   written before it was restored (so a late event cannot overwrite stored history).
 */
import { MicroSum } from '../contracts/decimal.ts';
import type { WindowEvent } from '../contracts/event.ts';
import { WINDOW_MS } from '../contracts/metrics.ts';
import { windowId as keyOf, type CellSnapshot, type StoredWindow, type UpdateKind, type WindowRef, type WindowUpdate, type WindowValues } from '../contracts/window.ts';

export type { StoredWindow, WindowEvent, WindowRef };
import { emptyCells, snapshotCells, type CellApplier, type Cells } from './model-cells.ts';
import { advanceIdle, initialWatermark, observeEvent, type WatermarkOptions, type WatermarkState } from './watermark.ts';

export const TRACE_SAMPLE_SIZE = 5;
/** Evicted windows whose last cells write the engine remembers (so a late event's restore needs no lookup). */
const REMEMBERED_CELL_WRITES = 200_000;

export interface WindowEngineOptions extends WatermarkOptions {
  /** How long a final, written window stays in memory past the watermark. Default 5 minutes. */
  retainFinalMs?: number;
  /** Watermark to start from (the one persisted at the last flush). Default 0. */
  initialWatermark?: number;
  /** Updates a window's model cells with each counted event (model-cells.ts). Default: no cells. */
  cells?: CellApplier;
}

export type AddOutcome = 'applied' | 'duplicate' | 'late';

interface WindowState extends WindowRef {
  /** Exact revenue sum (micro-units as a double while that is exact, else BigInt). */
  revenue: MicroSum;
  purchases: number;
  signups: number;
  upgrades: number;
  churns: number;
  users: Set<string>;
  /** The model's cells (empty without a cell applier). */
  cells: Cells;
  keys: Set<string>;
  traces: string[];
  lastEventAt: number;
  /** Last revision acknowledged as written; 0 = never written. */
  revision: number;
  finalWritten: boolean;
  /** Bumped on every change; an acknowledgement only clears `dirty` if nothing changed since collect. */
  version: number;
  ackedVersion: number;
  /** Events that arrived for a window that must first be restored from storage. */
  pending: WindowEvent[] | null;
}

export interface CollectedUpdate extends WindowUpdate {
  /** Engine bookkeeping: the window version this update reflects. */
  readonly version: number;
}

export const windowStartOf = (timestamp: number): number => Math.floor(timestamp / WINDOW_MS) * WINDOW_MS;

function emptyWindow(ref: WindowRef): WindowState {
  return {
    ...ref,
    revenue: new MicroSum(),
    purchases: 0,
    signups: 0,
    upgrades: 0,
    churns: 0,
    users: new Set(),
    cells: emptyCells(),
    keys: new Set(),
    traces: [],
    lastEventAt: 0,
    revision: 0,
    finalWritten: false,
    version: 0,
    ackedVersion: 0,
    pending: null,
  };
}

function valuesOf(w: WindowState): WindowValues {
  return {
    revenue: w.revenue.toString(),
    purchases: w.purchases,
    signups: w.signups,
    upgrades: w.upgrades,
    churns: w.churns,
    activeUsers: w.users.size,
  };
}

const sameValues = (a: WindowValues, b: WindowValues): boolean =>
  a.revenue === b.revenue &&
  a.purchases === b.purchases &&
  a.signups === b.signups &&
  a.upgrades === b.upgrades &&
  a.churns === b.churns &&
  a.activeUsers === b.activeUsers;

/** Applies one event; false when its key was already counted. `live`: it arrived now (not replayed by a restore). */
function apply(w: WindowState, e: WindowEvent, cells: CellApplier | undefined, live: boolean): boolean {
  if (w.keys.has(e.key)) return false;
  w.keys.add(e.key);
  cells?.(w.cells, e, live);
  w.users.add(e.userId);
  switch (e.eventType) {
    case 'purchase':
      w.purchases += 1;
      if (e.amount !== undefined) w.revenue.add(MicroSum.micros(e.amount));
      break;
    case 'signup':
      w.signups += 1;
      break;
    case 'upgrade':
      w.upgrades += 1;
      break;
    case 'churn':
      w.churns += 1;
      break;
  }
  if (w.traces.length < TRACE_SAMPLE_SIZE && !w.traces.includes(e.traceId)) w.traces.push(e.traceId);
  w.lastEventAt = Math.max(w.lastEventAt, e.timestamp);
  w.version += 1;
  return true;
}

/** The update that writes `w` as it is now (`final`: the watermark has passed it). */
function nextUpdate(w: WindowState, final: boolean): CollectedUpdate {
  const kind: UpdateKind = w.finalWritten ? 'correction' : final ? 'final' : 'partial';
  return {
    tenantId: w.tenantId,
    currency: w.currency,
    windowStart: w.windowStart,
    windowEnd: w.windowStart + WINDOW_MS,
    revision: w.revision + 1,
    final: final || w.finalWritten,
    kind,
    ...valuesOf(w),
    lastEventAt: w.lastEventAt,
    traceSample: [...w.traces],
    version: w.version,
  };
}

/**
 * Whether a restored window's last write already reflects every logged event (it was
 * rebuilt from them) — its model cells included: a crash may leave them behind `windows`.
 */
function reflectsLog(w: WindowState, stored: StoredWindow, withCells: boolean): boolean {
  if (!stored.values || !sameValues(valuesOf(w), stored.values)) return false;
  if (!withCells) return true;
  return stored.cells ? stored.cells.revision === stored.revision && stored.cells.events === w.keys.size : w.cells.list.length === 0;
}

function rememberCellWrite(cellWrites: Map<string, { revision: number; events: number }>, key: string, w: WindowState): void {
  cellWrites.delete(key);
  cellWrites.set(key, { revision: w.revision, events: w.keys.size });
  if (cellWrites.size > REMEMBERED_CELL_WRITES) cellWrites.delete(cellWrites.keys().next().value!);
}

/**
 * Decides the budgeted dimension values of an event that is applied only when its window is
 * rebuilt (restores apply a window's events in log order, after later arrivals), on scratch
 * cells counted nowhere: first come, first kept (src/aggregate/dimension-budget.ts).
 */
function decideOnArrival(cells: CellApplier | undefined, e: WindowEvent): void {
  cells?.(emptyCells(), e, false);
}

export function createWindowEngine(options: WindowEngineOptions) {
  const retainFinalMs = options.retainFinalMs ?? 5 * 60_000;
  const windows = new Map<string, WindowState>();
  /** The last cells write (revision, events) of evicted windows, oldest first, at most REMEMBERED_CELL_WRITES. */
  const cellWrites = new Map<string, { revision: number; events: number }>();
  let wm: WatermarkState = initialWatermark(options.initialWatermark ?? 0);

  const isFinal = (w: WindowRef) => w.windowStart + WINDOW_MS <= wm.value;

  return {
    /** Adds a validated event. `late`: it changed a window the watermark had already passed. */
    add(e: WindowEvent, now: number): AddOutcome {
      const ref = { tenantId: e.tenantId, currency: e.currency, windowStart: windowStartOf(e.timestamp) };
      const key = keyOf(ref);
      let w = windows.get(key);
      const late = isFinal(ref);
      wm = observeEvent(wm, e.timestamp, now, options);
      if (!w) {
        w = emptyWindow(ref);
        // Not in memory and already past the watermark: storage may hold it. Buffer until restored.
        if (late) w.pending = [];
        windows.set(key, w);
      }
      if (w.pending) {
        if (w.pending.some((p) => p.key === e.key)) return 'duplicate';
        w.pending.push(e);
        decideOnArrival(options.cells, e);
        return 'late';
      }
      if (!apply(w, e, options.cells, true)) return 'duplicate';
      return late || w.finalWritten ? 'late' : 'applied';
    },

    /** Decides the budgeted values of events whose windows are rebuilt later (crash recovery). */
    decideValues: (events: readonly WindowEvent[]): void => events.forEach((e) => decideOnArrival(options.cells, e)),

    /** Lets the watermark follow the clock while the source is idle. */
    advance(now: number): void {
      wm = advanceIdle(wm, now, options);
    },

    watermark: (): number => wm.value,

    /** Windows waiting for `restore` before they can be written. */
    pendingRestores(): WindowRef[] {
      return [...windows.values()].filter((w) => w.pending).map(({ tenantId, currency, windowStart }) => ({ tenantId, currency, windowStart }));
    },

    /**
     * Rebuilds a window from storage (its logged events and stored revision), then
     * re-applies what was buffered; keys already in storage count once.
     */
    restore(ref: WindowRef, stored: StoredWindow): void {
      const key = keyOf(ref);
      const existing = windows.get(key);
      const w = emptyWindow(ref);
      for (const e of stored.events) apply(w, e, options.cells, false);
      w.revision = stored.revision;
      w.finalWritten = stored.final;
      w.ackedVersion = reflectsLog(w, stored, options.cells !== undefined) ? w.version : -1;
      for (const e of existing?.pending ?? []) apply(w, e, options.cells, true);
      windows.set(key, w);
    },

    /** Every window whose stored form is behind memory, as the update to write next. */
    collect(): CollectedUpdate[] {
      const out: CollectedUpdate[] = [];
      for (const w of windows.values()) {
        if (w.pending) continue;
        const final = isFinal(w);
        const changed = w.version !== w.ackedVersion;
        if (!changed && !(final && !w.finalWritten)) continue;
        out.push(nextUpdate(w, final));
      }
      return out.sort((a, b) => a.windowStart - b.windowStart || a.tenantId.localeCompare(b.tenantId) || a.currency.localeCompare(b.currency));
    },

    /** Marks collected updates as durably written. */
    acknowledge(updates: readonly CollectedUpdate[]): void {
      for (const u of updates) {
        const w = windows.get(keyOf(u));
        if (!w || w.pending) continue;
        w.revision = Math.max(w.revision, u.revision);
        w.ackedVersion = Math.max(w.ackedVersion, u.version);
        if (u.final) w.finalWritten = true;
      }
    },

    /** Users of a window in memory (the ClickHouse sink stores them as a mergeable state). */
    usersOf(ref: WindowRef): string[] {
      return [...(windows.get(keyOf(ref))?.users ?? [])];
    },

    /** What this engine last wrote of an evicted window's cells (revision, events), if it remembers. */
    writtenCells: (ref: WindowRef): { revision: number; events: number } | undefined => cellWrites.get(keyOf(ref)),

    /** The model cells of a window in memory and the events it counted (row_version, migrations/0010). Call it with the updates just collected. */
    cellsOf(ref: WindowRef): { cells: CellSnapshot[]; events: number } {
      const w = windows.get(keyOf(ref));
      return w ? { cells: snapshotCells(w.cells), events: w.keys.size } : { cells: [], events: 0 };
    },

    /** Drops final, written windows the watermark left behind by more than `retainFinalMs`. */
    evict(): number {
      let evicted = 0;
      for (const [key, w] of windows) {
        const clean = !w.pending && w.version === w.ackedVersion && w.finalWritten;
        if (clean && w.windowStart + WINDOW_MS + retainFinalMs <= wm.value) {
          windows.delete(key);
          if (options.cells) rememberCellWrite(cellWrites, key, w);
          evicted += 1;
        }
      }
      return evicted;
    },

    size: (): number => windows.size,
  };
}

export type WindowEngine = ReturnType<typeof createWindowEngine>;
