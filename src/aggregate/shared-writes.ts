/**
 * One worker's partitions share their flush writes: the window snapshots, the model's
 * cells, the hourly rollups and the progress rows that several partitions' aggregators
 * ask for in the same turn of the event loop go to ClickHouse as one statement each
 * (a worker flushes all its partitions together: kafka-owned.ts). Per partition nothing
 * changes: each row keeps its aggregator's `source`, each aggregator still awaits its
 * writes in its own order (kept values, cells, their hours, windows, progress), and
 * its call resolves only once the statement holding its rows has completed. So a
 * checkpoint is still saved only after that partition's windows are written, and every
 * write stays idempotent (snapshots by revision, rollups rebuilt
 * from the minutes, the newest progress row per source). A failed statement fails
 * every partition that shared it: each then recovers from the event log, as after
 * any failed flush.
 */
import type { MetricWindowStore, CellsWriteBatch } from '../storage/metric-window-store.ts';
import type { ProgressStore, StoredProgress } from '../storage/progress-store.ts';
import type { WindowStore, WindowWrite } from '../storage/window-store.ts';
import type { WindowRef } from '../contracts/window.ts';

/**
 * Calls made in the same turn of the event loop run as one `run` of all their items,
 * once that turn has ended (setImmediate); each call resolves or rejects with it.
 */
export function coalesce<T>(run: (items: T[]) => Promise<void>): (item: T) => Promise<void> {
  let pending: { items: T[]; done: Promise<void> } | null = null;
  return (item) => {
    if (!pending) {
      const batch: { items: T[]; done: Promise<void> } = { items: [], done: Promise.resolve() };
      batch.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        pending = null;
        return run(batch.items);
      });
      pending = batch;
    }
    pending.items.push(item);
    return pending.done;
  };
}

export interface SharedStores {
  windowStore: WindowStore;
  progressStore: ProgressStore;
  metricStore?: MetricWindowStore;
}

/** The stores with their flush writes shared by every aggregator that uses them (reads go straight through). */
export function createSharedWrites(stores: SharedStores): SharedStores {
  const { windowStore, progressStore, metricStore } = stores;
  const writeWindows = coalesce<WindowWrite>((writes) => windowStore.writeMany(writes));
  const saveProgress = coalesce<StoredProgress>((ps) => progressStore.saveMany(ps));
  const shared: SharedStores = {
    windowStore: {
      ...windowStore,
      write: (updates, usersOf, source) => writeWindows({ updates, usersOf, source }),
    },
    progressStore: { ...progressStore, save: (p) => saveProgress(p) },
  };
  if (metricStore) {
    const writeCells = coalesce<CellsWriteBatch>((batches) => metricStore.writeMany(batches));
    const rollupCells = coalesce<readonly WindowRef[]>((refs) => metricStore.rollupHours(refs.flat()));
    shared.metricStore = {
      ...metricStore,
      write: (snapshots, source) => writeCells({ snapshots, source }),
      rollupHours: (refs) => rollupCells(refs),
    };
  }
  return shared;
}
