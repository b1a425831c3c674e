/**
 * Live values of metrics whose `by` lacks currency, for one tenant of the subscription hub.
 *
 * A base window is one currency's minute, so its cells hold only part of such a metric's
 * minute; a distinct count cannot be added across currencies at all. When a window of a
 * minute changes, the minute is read back from storage with every currency merged
 * (metric-window-cells.ts; the worker writes before it publishes) and sent as one window
 * whose currency is '' and whose revision is the sum of its currency windows' revisions
 * (it grows with every write of any of them). The minutes of one bus delivery share one
 * read, and one read per tenant runs at a time (minutes changed meanwhile wait for the next).
 */
import { WINDOW_MS } from '../contracts/metrics.ts';
import type { BusCell } from '../contracts/window.ts';
import type { ModelPlan } from '../model/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricCellsReader, StoredCell, StoredCellWindow } from '../storage/metric-window-cells.ts';
import type { FreshnessTracker } from './freshness.ts';
import type { Member, WindowValues } from './subscription-member.ts';
import { passes } from './window-selection.ts';
import { targetUpdates, type WindowMeta } from './window-values.ts';
import { windowKey, type MetricUpdate } from './windows-stream.ts';

/**
 * Each member's values of one window from its cells: the targets kept per currency window
 * (`crossCurrency` false: a base window's cells) or the cross-currency ones (true: a merged
 * minute's). Each target's updates are built once, each selection's bundle once.
 */
export function bundleValues(
  plan: ModelPlan,
  members: Iterable<Member>,
  w: { key: string; crossCurrency: boolean; cells: readonly BusCell[]; meta: WindowMeta },
): { m: Member; w: WindowValues }[] {
  const built = new Map<string, MetricUpdate[]>();
  const bundles = new Map<string, WindowValues>();
  const out: { m: Member; w: WindowValues }[] = [];
  for (const m of members) {
    const s = m.selection;
    if (!s) continue;
    let bundle = bundles.get(s.key);
    if (!bundle) {
      const values: MetricUpdate[] = [];
      for (const t of s.targets) {
        if (t.crossCurrency !== w.crossCurrency) continue;
        let updates = built.get(t.id);
        if (!updates) built.set(t.id, (updates = targetUpdates(plan, t, w.cells, w.meta)));
        for (const u of updates) if (passes(s, t, u.dims)) values.push(u);
      }
      bundles.set(s.key, (bundle = { key: w.key, revision: w.meta.revision, values }));
    }
    if (bundle.values.length > 0) out.push({ m, w: bundle });
  }
  return out;
}

/** The meta of a merged minute. */
export const mergedMeta = (win: StoredCellWindow, o: Pick<WindowMeta, 'freshness' | 'replayed'>): WindowMeta => ({
  ...o,
  currency: '',
  windowStart: win.windowStart,
  windowEnd: win.windowStart + WINDOW_MS,
  revision: win.revision,
  final: win.final,
  kind: win.final ? 'final' : 'partial',
  traceIds: [],
});

/** Each member's values of merged minutes (a merged read grouped by byMinute). */
export function mergedValues(plan: ModelPlan, members: readonly Member[], minutes: readonly { window: StoredCellWindow; cells: readonly StoredCell[] }[], o: Pick<WindowMeta, 'freshness' | 'replayed'>) {
  return minutes.flatMap(({ window, cells }) =>
    bundleValues(plan, members, { key: windowKey({ currency: '', windowStart: window.windowStart }), crossCurrency: true, cells, meta: mergedMeta(window, o) }),
  );
}

/** The stored metrics the members' cross-currency targets are computed from, each once. */
export function crossLeaves(members: Iterable<Member>): { metric: string; version: number; distinct: boolean }[] {
  const leaves = new Map<string, { metric: string; version: number; distinct: boolean }>();
  for (const m of members) {
    for (const t of m.selection?.targets ?? []) {
      if (!t.crossCurrency) continue;
      for (const l of t.leaves) leaves.set(l.id, { metric: l.name, version: l.version, distinct: l.kind === 'distinct' });
    }
  }
  return [...leaves.values()];
}

/** Groups a merged read by minute. */
export function byMinute(r: { cells: readonly StoredCell[]; windows: readonly StoredCellWindow[] }): { window: StoredCellWindow; cells: StoredCell[] }[] {
  const cells = new Map<number, StoredCell[]>();
  for (const c of r.cells) {
    const list = cells.get(c.windowStart);
    if (list) list.push(c);
    else cells.set(c.windowStart, [c]);
  }
  return r.windows.map((window) => ({ window, cells: cells.get(window.windowStart) ?? [] }));
}

export function createMergedMinutes(o: {
  tenantId: string;
  plan: ModelPlan;
  reader: MetricCellsReader | undefined;
  freshness: FreshnessTracker;
  logger: Logger;
  /** The members now (read when a minute's read returns). */
  members: () => Iterable<Member>;
}) {
  const pending = new Set<number>();
  let running = false;

  async function run(): Promise<void> {
    running = true;
    // Let the rest of this bus delivery (a flush's windows arrive together) join the read.
    await Promise.resolve();
    while (pending.size > 0 && o.reader) {
      const minutes = [...pending];
      pending.clear();
      const measures = crossLeaves(o.members());
      if (measures.length === 0) break;
      try {
        const read = await o.reader.load({ tenantId: o.tenantId, minutes, slices: null, measures });
        const meta = { freshness: o.freshness.of(o.tenantId), replayed: false };
        for (const { m, w } of mergedValues(o.plan, [...o.members()], byMinute(read), meta)) m.offer(w);
      } catch (err) {
        // The next change of the minute (or a resume with `since`) reads it again.
        o.logger.warn({ tenantId: o.tenantId, err: err instanceof Error ? err.message : String(err) }, 'subscription: merged minute read failed');
      }
    }
    pending.clear();
    running = false;
  }

  return {
    /** A window of this minute changed: read the minute again (soon, together with the others of the delivery). */
    changed(minute: number): void {
      pending.add(minute);
      if (!running) void run();
    },
  };
}

export type MergedMinutes = ReturnType<typeof createMergedMinutes>;
