/**
 * The `metrics:` entries of a model file: each one version of one metric, checked against
 * the fields, event types and dimensions, and compiled into a MeasureVersion (stored,
 * computed at ingest) or a FormulaVersion (computed at read time). Formula rules — known
 * operands, no cycles, filters and breakdowns only on dimensions all operands have, money
 * only queried per currency — are checked in formulas.ts.
 */
import type { MetricEntry } from './file-schema.ts';
import type { FieldsResult } from './compile-fields.ts';
import type { ModelSource, PathSegment } from './source.ts';
import type { Condition, FieldValue, MeasureVersion, ModelError, Unit, ValidEvent } from './types.ts';
import { compileWhere, normaliseCondition, type WhereTarget } from './where.ts';

const KINDS = ['count', 'sum', 'distinct', 'formula'] as const;
const DISTINCT_BUILT_INS = new Set(['userId', 'eventId', 'traceId']);
const STRING_TYPES = new Set(['string', 'enum', 'currency']);

export interface EntryBase {
  id: string;
  name: string;
  version: number;
  unit: Unit;
  description: string;
  hidden: boolean;
  effectiveFrom?: string;
  line: number | null;
}

export function entryBase(e: MetricEntry, index: number, src: ModelSource): EntryBase {
  return {
    id: `${e.name}@${e.version}`,
    name: e.name,
    version: e.version,
    unit: e.unit as Unit,
    description: e.description ?? '',
    hidden: e.hidden ?? false,
    ...(e.effectiveFrom ? { effectiveFrom: e.effectiveFrom } : {}),
    line: src.locate(['metrics', index]).line,
  };
}

/** The kind of an entry, or an error when it has none or several. */
export function kindOf(e: MetricEntry, path: PathSegment[], src: ModelSource, errors: ModelError[]): (typeof KINDS)[number] | null {
  const kinds = KINDS.filter((k) => e[k] !== undefined);
  if (kinds.length === 1) return kinds[0]!;
  errors.push(
    src.error(path, kinds.length === 0 ? `metric ${e.name} needs exactly one of count: true, sum, distinct or formula` : `metric ${e.name} has ${kinds.join(' and ')}: give exactly one kind`),
  );
  return null;
}

/** Upper bound of the series one dimension contributes per tenant: kept values, `__other__` when values fold, a null slice when events may lack it. */
function seriesOf(fields: FieldsResult, dim: string, types: readonly string[]): { n: number; text: string } {
  const d = fields.dimensions.get(dim)!;
  const spec = fields.allFields.get(dim)!;
  const possible = spec.type === 'enum' ? spec.values!.length : spec.type === 'boolean' ? 2 : Infinity;
  const kept = Math.min(possible, d.maxValuesPerTenant);
  const other = !d.rejectOverBudget && possible > d.maxValuesPerTenant ? 1 : 0;
  const nullable = types.some((t) => !fields.eventTypes.get(t)!.fields.get(dim)?.required) ? 1 : 0;
  const extra = [other ? 'other' : '', nullable ? 'null' : ''].filter(Boolean).join(' + ');
  const n = kept + other + nullable;
  return { n, text: `${dim} ${n}${extra ? ` (${kept} + ${extra})` : ''}` };
}

export function compileMeasure(
  e: MetricEntry,
  index: number,
  base: EntryBase,
  kind: 'count' | 'sum' | 'distinct',
  fields: FieldsResult,
  maxSeries: number,
  src: ModelSource,
  errors: ModelError[],
): MeasureVersion | null {
  const path: PathSegment[] = ['metrics', index];
  const before = errors.length;
  const fail = (at: PathSegment[], message: string) => errors.push(src.error([...path, ...at], message));
  // A reference to an entry whose own shape was wrong: reported there already; this metric is not compiled.
  let poisoned = false;
  const typeNames = [...fields.eventTypes.keys()];
  if (e.onZeroDivision !== undefined) fail(['onZeroDivision'], 'onZeroDivision applies to formulas only');

  // The event types the metric can see: narrowed by its eventType condition.
  const conditions: Condition[] = [];
  let candidates = typeNames;
  const where = e.where ?? {};
  if (where.eventType !== undefined) {
    const r = normaliseCondition('eventType', where.eventType, { kind: 'eventType', types: [...typeNames, ...fields.broken.events] });
    for (const p of r.problems) fail(['where', 'eventType', ...p.at], p.message);
    if (r.conditions.some((c) => 'values' in c && c.values.some((v) => fields.broken.events.has(String(v))))) poisoned = true;
    for (const c of r.conditions) {
      conditions.push(c);
      if (c.op === 'in') candidates = candidates.filter((t) => c.values.includes(t));
      if (c.op === 'not') candidates = candidates.filter((t) => !c.values.includes(t));
    }
    if (r.problems.length === 0 && candidates.length === 0) fail(['where', 'eventType'], 'matches no event type');
  }
  const declaredOn = (field: string) => candidates.filter((t) => fields.eventTypes.get(t)!.fields.has(field));
  const typesText = candidates.join(', ') || 'none';
  const fieldRef = (field: string, at: PathSegment[], what: string): boolean => {
    if (!fields.allFields.has(field)) {
      if (fields.broken.fields.has(field)) {
        poisoned = true;
        return false;
      }
      fail(at, `unknown field "${field}" in ${what}: declared fields are ${[...fields.allFields.keys()].join(', ') || 'none'}`);
      return false;
    }
    if (declaredOn(field).length === 0) {
      fail(at, `field "${field}" is not declared on the event types this metric counts (${typesText})`);
      return false;
    }
    return true;
  };

  for (const [key, raw] of Object.entries(where)) {
    if (key === 'eventType') continue;
    if (!fieldRef(key, ['where', key], 'where')) continue;
    const target: WhereTarget = { kind: 'field', spec: fields.allFields.get(key)! };
    const r = normaliseCondition(key, raw, target);
    for (const p of r.problems) fail(['where', key, ...p.at], p.message);
    conditions.push(...r.conditions);
  }

  let field: string | undefined;
  let money = false;
  if (kind === 'sum') {
    field = e.sum!;
    if (fieldRef(field, ['sum'], 'sum')) {
      const spec = fields.allFields.get(field)!;
      if (spec.type !== 'decimal' && spec.type !== 'integer') fail(['sum'], `sum needs a decimal or integer field: "${field}" is ${spec.type}`);
      // Money: a decimal summed over events that carry a currency.
      money = spec.type === 'decimal' && declaredOn(field).some((t) => fields.eventTypes.get(t)!.fields.get('currency')?.type === 'currency');
    }
  } else if (kind === 'distinct') {
    field = e.distinct!;
    if (!DISTINCT_BUILT_INS.has(field) && fieldRef(field, ['distinct'], 'distinct')) {
      const spec = fields.allFields.get(field)!;
      if (!STRING_TYPES.has(spec.type)) fail(['distinct'], `distinct counts values of a string field (string, enum, currency or userId): "${field}" is ${spec.type}`);
    }
  }

  const by: string[] = [];
  (e.by ?? []).forEach((dim, i) => {
    if (by.includes(dim)) return fail(['by', i], `dimension "${dim}" is listed twice`);
    if (fields.broken.dimensions.has(dim) || fields.broken.fields.has(dim)) return void (poisoned = true);
    if (!fields.dimensions.has(dim)) return fail(['by', i], `unknown dimension "${dim}": declared dimensions are ${[...fields.dimensions.keys()].join(', ') || 'none'}`);
    if (declaredOn(dim).length === 0) return fail(['by', i], `dimension "${dim}" is not a field of the event types this metric counts (${typesText})`);
    by.push(dim);
  });
  if (money && !by.includes('currency')) {
    fail(['by'], `${base.id} sums money (${field} of events that carry a currency): add currency to by, so amounts of different currencies are never added`);
  }
  if (errors.length === before && by.length > 0) {
    const parts = by.map((d) => seriesOf(fields, d, candidates));
    const series = parts.reduce((n, p) => n * p.n, 1);
    if (series > maxSeries) {
      fail(
        ['by'],
        `${base.id} may store ${series} series per tenant (${parts.map((p) => p.text).join(' × ')}), more than maxSeriesPerMetric ${maxSeries}: lower a dimension's maxValuesPerTenant or drop a dimension from by`,
      );
    }
  }
  if (errors.length > before || poisoned) return null;

  const matches = compileWhere(conditions);
  const dimsOf = (ev: ValidEvent) => by.map((d) => dimValue(ev.fields[d]));
  const builtIn = field !== undefined && DISTINCT_BUILT_INS.has(field) ? (field as 'userId' | 'eventId' | 'traceId') : null;
  const valueOf =
    kind === 'count'
      ? () => null
      : builtIn
        ? (ev: ValidEvent) => (ev[builtIn] === undefined ? null : String(ev[builtIn]))
        : (ev: ValidEvent) => {
            const v = ev.fields[field!];
            return v === undefined ? null : String(v);
          };
  return { ...base, kind, ...(field !== undefined ? { field } : {}), where: conditions, by, money, current: false, matches, dimsOf, valueOf };
}

const dimValue = (v: FieldValue | undefined): string | null => (v === undefined ? null : String(v));
