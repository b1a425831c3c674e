/**
 * The model's cells of one base window (tenant × currency × minute): for every stored
 * metric of the plan (count, sum, distinct) and every combination of its `by` values seen,
 * a count, an exact sum in micro-units, or the set of distinct values. The window engine
 * applies each counted event once (per idempotency key) and snapshots the cells with the
 * window's revision; storage writes them as rows of metric_windows (migrations/0010).
 *
 * Dimension values as stored: null (the event lacks the field) → '', a value beyond the
 * tenant's budget → OTHER_VALUE (dimension-budget.ts). `where` sees the raw event.
 */
import { MicroSum } from '../contracts/decimal.ts';
import type { WindowEvent } from '../contracts/event.ts';
import type { CellSnapshot } from '../contracts/window.ts';
import type { MeasureVersion, ModelEvent, ModelPlan } from '../model/types.ts';
import { OTHER_VALUE } from '../model/types.ts';
import type { DimensionBudget } from './dimension-budget.ts';

export interface Cell {
  readonly measure: MeasureVersion;
  readonly dims: readonly string[];
  count: number;
  /** sum: exact, in micro-units. */
  sum: MicroSum | null;
  /** distinct: the values seen; null for count and sum. */
  values: Set<string> | null;
}

/** Per measure, a tree of maps keyed by one dimension value per level, down to the cells. */
type CellTree = Map<string, CellTree | Cell>;

/**
 * A base window's cells, by measure and dims. Looked up through nested maps keyed by the
 * values themselves (no key string is built per event, and no two dims lists can collide).
 */
export interface Cells {
  /** Every cell, in creation order. */
  readonly list: Cell[];
  /** By measure position. */
  readonly trees: (CellTree | undefined)[];
}

export const emptyCells = (): Cells => ({ list: [], trees: [] });

/** Updates `cells` with one counted event; `live`: it arrived now (folds are counted), not replayed by a restore. */
export type CellApplier = (cells: Cells, e: WindowEvent, live: boolean) => void;

/**
 * The event as the plan's compiled predicates see it. They read `eventType`, `fields` and
 * the common fields (`userId`, `traceId`, `eventId`), so an event that carries its declared
 * fields is used as it is, without a copy. One logged before the events carried them gets
 * the fields Event v1 had (amount, currency), which is all the default model reads.
 * (`eventId` is not logged: a `distinct: eventId` metric sees it as absent.)
 */
export function modelEventOf(e: WindowEvent): ModelEvent {
  if (e.fields) return e as unknown as ModelEvent;
  return { ...e, fields: legacyFields(e), fingerprint: '' } as unknown as ModelEvent;
}

const legacyFields = (e: WindowEvent): Record<string, string> => (e.amount === undefined ? { currency: e.currency } : { currency: e.currency, amount: e.amount });

/** The cell of `m` for these dims, made (with the maps on the way) the first time. */
function cellOf(cells: Cells, index: number, m: MeasureVersion, dims: string[]): Cell {
  let node = (cells.trees[index] ??= new Map());
  const lastAt = dims.length - 1;
  for (let i = 0; i < lastAt; i++) {
    let next = node.get(dims[i]!) as CellTree | undefined;
    if (!next) node.set(dims[i]!, (next = new Map()));
    node = next;
  }
  const last = lastAt < 0 ? '' : dims[lastAt]!;
  let cell = node.get(last) as Cell | undefined;
  if (!cell) {
    cell = { measure: m, dims, count: 0, sum: m.kind === 'sum' ? new MicroSum() : null, values: m.kind === 'distinct' ? new Set() : null };
    node.set(last, cell);
    cells.list.push(cell);
  }
  return cell;
}

export function createCellApplier(plan: ModelPlan, budget: DimensionBudget, onFold: (dimension: string) => void = () => undefined): CellApplier {
  const dimensionIndex = new Map([...plan.dimensions.keys()].map((d, i) => [d, i]));
  const measures = plan.measures.map((m, index) => ({ m, index, dims: m.by.map((d) => (budget.folds(d) ? dimensionIndex.get(d)! : -1)) }));
  // Per event, each budgeted dimension is looked up once, however many metrics store it.
  const seenAt = new Array<number>(dimensionIndex.size).fill(-1);
  const rawOf = new Array<string>(dimensionIndex.size);
  const storedOf = new Array<string>(dimensionIndex.size);
  let event = 0;
  return (cells, e, live) => {
    const me = modelEventOf(e);
    event += 1;
    let folded: string[] | null = null;
    for (const { m, index, dims: budgeted } of measures) {
      if (!m.matches(me)) continue;
      // A fresh array per call: the cell keeps it as its stored dims.
      const dims = m.dimsOf(me) as string[];
      for (let i = 0; i < dims.length; i++) {
        const v = dims[i];
        const d = budgeted[i]!;
        if (v === null || v === undefined) {
          dims[i] = '';
          continue;
        }
        if (d < 0) continue;
        if (seenAt[d] !== event || rawOf[d] !== v) {
          seenAt[d] = event;
          rawOf[d] = v;
          storedOf[d] = budget.keep(e.tenantId, m.by[i]!, v);
          if (storedOf[d] === OTHER_VALUE && v !== OTHER_VALUE && live) (folded ??= []).push(m.by[i]!);
        }
        dims[i] = storedOf[d]!;
      }
      const cell = cellOf(cells, index, m, dims);
      cell.count += 1;
      if (m.kind === 'count') continue;
      const value = m.valueOf(me);
      if (value === null) continue;
      if (cell.values) cell.values.add(value);
      else cell.sum!.add(MicroSum.micros(value));
    }
    if (folded) for (const d of folded) onFold(d);
  };
}

/** What a write of these cells stores (a copy: the cells keep changing after collect). */
export function snapshotCells(cells: Cells): CellSnapshot[] {
  const out: CellSnapshot[] = [];
  for (const c of cells.list) {
    const { measure: m } = c;
    out.push({
      metric: m.name,
      version: m.version,
      dims: c.dims,
      value: m.kind === 'count' ? String(c.count) : c.sum ? c.sum.toString() : '0',
      users: c.values ? [...c.values] : [],
    });
  }
  return out;
}
