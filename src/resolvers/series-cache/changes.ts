/**
 * Which metrics a window update changed, so the series cache drops only their entries: a
 * signup changes the signups tile's open edge, not the revenue tile's.
 *
 * An update carries every model cell of its window at its revision (a snapshot, not a
 * delta). Against the cells of the same window at the revision before — remembered from
 * the previous update, or none at revision 1 (a window's first write) — the metrics whose
 * cells differ are the ones that changed. Without that (no cells on the update, or a
 * revision seen out of turn: a missed update, a restart of the publisher), every metric
 * counts as changed. A distinct metric's cell is its window's number of distinct values:
 * a window's events only grow, so an equal count is an equal set.
 */
import type { WindowUpdate } from '../../contracts/window.ts';

/** `name@version`: how an update's cell and a cached query name one metric version. */
export const metricId = (metric: string, version: number): string => `${metric}@${version}`;

/** Windows remembered per tenant (the newest updates; a window older than that counts as unknown). */
const MAX_WINDOWS = 256;

interface Seen {
  revision: number;
  /** Per metric version: its cells (dims and value) as one comparable text. */
  cells: Map<string, string>;
}

function cellsByMetric(u: WindowUpdate): Map<string, string> {
  const out = new Map<string, string[]>();
  for (const c of u.cells ?? []) {
    const id = metricId(c.metric, c.version);
    const list = out.get(id) ?? [];
    list.push(JSON.stringify([c.dims, c.value]));
    out.set(id, list);
  }
  return new Map([...out].map(([id, list]) => [id, list.sort().join('\n')]));
}

/** One tenant's memory of the windows it saw updated. */
export function createWindowChanges() {
  const windows = new Map<string, Seen>(); // insertion order: oldest first
  return {
    /** The metric versions `u` changed (null: any may have), remembering its cells for the next update of its window. */
    changed(u: WindowUpdate): Set<string> | null {
      const id = `${u.currency}|${u.windowStart}`;
      const before = windows.get(id);
      windows.delete(id);
      if (!u.cells) return null;
      const now = cellsByMetric(u);
      windows.set(id, { revision: u.revision, cells: now });
      if (windows.size > MAX_WINDOWS) windows.delete(windows.keys().next().value!);
      const prior = u.revision === 1 ? new Map<string, string>() : before?.revision === u.revision - 1 ? before.cells : null;
      if (!prior) return null;
      const out = new Set<string>();
      for (const m of new Set([...prior.keys(), ...now.keys()])) if (prior.get(m) !== now.get(m)) out.add(m);
      return out;
    },
  };
}
