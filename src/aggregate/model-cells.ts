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
import { fromMicros, toMicros } from '../contracts/decimal.ts';
import type { WindowEvent } from '../contracts/event.ts';
import type { CellSnapshot } from '../contracts/window.ts';
import type { MeasureVersion, ModelEvent, ModelPlan } from '../model/types.ts';
import { OTHER_VALUE } from '../model/types.ts';
import type { DimensionBudget } from './dimension-budget.ts';

export interface Cell {
  readonly measure: MeasureVersion;
  readonly dims: readonly string[];
  count: number;
  micros: bigint;
  /** distinct: the values seen; null for count and sum. */
  values: Set<string> | null;
}

/** A base window's cells, by measure and dims. */
export type Cells = Map<string, Cell>;


/** Updates `cells` with one counted event; `live`: it arrived now (folds are counted), not replayed by a restore. */
export type CellApplier = (cells: Cells, e: WindowEvent, live: boolean) => void;

/**
 * The event as the plan's compiled predicates see it. They read `eventType`, `fields` and
 * the common fields (`userId`, `traceId`, `eventId`), so an event that carries its declared
 * fields is used as it is, without a copy. One logged before the events carried them gets
 * the fields Event v1 had (amount, currency), which is all the default model reads.
 * (`eventId` is not logged: a `distinct: eventId` metric sees the idempotency key's event as absent.)
 */
export function modelEventOf(e: WindowEvent): ModelEvent {
  if (e.fields) return e as unknown as ModelEvent;
  const fields: Record<string, string> = { currency: e.currency };
  if (e.amount !== undefined) fields.amount = e.amount;
  return { ...e, fields, fingerprint: '' } as unknown as ModelEvent;
}

/** Cell keys: the measure's position, then its dims (JSON: any value, no separator can collide). */
const cellKey = (index: number, dims: readonly string[]) => `${index}${JSON.stringify(dims)}`;

export function createCellApplier(plan: ModelPlan, budget: DimensionBudget, onFold: (dimension: string) => void = () => undefined): CellApplier {
  const measures = plan.measures.map((m, index) => ({ m, index, folds: m.by.map((d) => budget.folds(d)) }));
  return (cells, e, live) => {
    const me = modelEventOf(e);
    let folded: string[] | null = null;
    for (const { m, index, folds } of measures) {
      if (!m.matches(me)) continue;
      const raw = m.dimsOf(me);
      const dims = new Array<string>(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const v = raw[i];
        if (v === null || v === undefined) dims[i] = '';
        else if (!folds[i]) dims[i] = v;
        else {
          const stored = budget.keep(e.tenantId, m.by[i]!, v);
          if (stored === OTHER_VALUE && v !== OTHER_VALUE && live) (folded ??= []).push(m.by[i]!);
          dims[i] = stored;
        }
      }
      const key = cellKey(index, dims);
      let cell = cells.get(key);
      if (!cell) cells.set(key, (cell = { measure: m, dims, count: 0, micros: 0n, values: m.kind === 'distinct' ? new Set() : null }));
      cell.count += 1;
      if (m.kind === 'count') continue;
      const value = m.valueOf(me);
      if (value === null) continue;
      if (cell.values) cell.values.add(value);
      else cell.micros += toMicros(value);
    }
    // One fold per event and dimension, however many metrics store it.
    if (folded) for (const d of new Set(folded)) onFold(d);
  };
}

/** What a write of these cells stores (a copy: the cells keep changing after collect). */
export function snapshotCells(cells: Cells): CellSnapshot[] {
  const out: CellSnapshot[] = [];
  for (const c of cells.values()) {
    const { measure: m } = c;
    out.push({
      metric: m.name,
      version: m.version,
      dims: c.dims,
      value: m.kind === 'count' ? String(c.count) : m.kind === 'sum' ? fromMicros(c.micros) : '0',
      users: c.values ? [...c.values] : [],
    });
  }
  return out;
}
