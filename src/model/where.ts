/**
 * A metric's `where`: normalising what the file says into typed conditions (values checked
 * against the field's type), and compiling conditions into a predicate over events. Pure.
 */
import { DECIMAL_PATTERN, canonicalDecimal, toMicros } from '../contracts/decimal.ts';
import type { WhereValue } from './file-schema.ts';
import type { Condition, FieldSpec, FieldValue, ValidEvent } from './types.ts';

export const ISO_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/** What a `where` key refers to: `eventType` (its values are the declared types) or a declared field. */
export type WhereTarget = { kind: 'eventType'; types: readonly string[] } | { kind: 'field'; spec: FieldSpec };

export interface WhereProblem {
  /** Below the key: e.g. `[1]` for the second value of a list, `gt`. */
  at: (string | number)[];
  message: string;
}

const COMPARISONS = ['gt', 'gte', 'lt', 'lte'] as const;

function normaliseValue(target: WhereTarget, v: string | number | boolean): FieldValue | string {
  if (target.kind === 'eventType') {
    if (typeof v !== 'string' || !target.types.includes(v)) throw new Error(`${JSON.stringify(v)} is not a declared event type (${target.types.join(', ')})`);
    return v;
  }
  const f = target.spec;
  switch (f.type) {
    case 'decimal': {
      const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
      if (!DECIMAL_PATTERN.test(s)) throw new Error(`${JSON.stringify(v)} is not a decimal with at most 6 fractional digits (${f.name} is decimal)`);
      return canonicalDecimal(s);
    }
    case 'integer':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${JSON.stringify(v)} is not an integer (${f.name} is integer)`);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw new Error(`${JSON.stringify(v)} is not true or false (${f.name} is boolean)`);
      return v;
    case 'enum':
      if (typeof v !== 'string' || !f.values!.includes(v)) throw new Error(`${JSON.stringify(v)} is not one of ${f.name}'s values (${f.values!.join(', ')})`);
      return v;
    case 'currency':
      if (typeof v !== 'string' || !ISO_CURRENCIES.has(v)) throw new Error(`${JSON.stringify(v)} is not an ISO 4217 currency code`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new Error(`${JSON.stringify(v)} is not a string (${f.name} is string)`);
      if (f.maxLength !== undefined && v.length > f.maxLength) throw new Error(`${JSON.stringify(v)} is longer than ${f.name}'s maxLength ${f.maxLength}`);
      return v;
  }
}

/** The conditions one `where` key stands for, or the problems with it. */
export function normaliseCondition(key: string, raw: WhereValue, target: WhereTarget): { conditions: Condition[]; problems: WhereProblem[] } {
  const problems: WhereProblem[] = [];
  const values = (list: readonly (string | number | boolean)[], at: (i: number) => (string | number)[]) =>
    list.flatMap((v, i) => {
      try {
        return [normaliseValue(target, v)];
      } catch (err) {
        problems.push({ at: at(i), message: (err as Error).message });
        return [];
      }
    });
  const done = (conditions: Condition[]) => ({ conditions: problems.length ? [] : conditions, problems });

  if (Array.isArray(raw)) return done([{ key, op: 'in', values: values(raw, (i) => [i]) }]);
  if (typeof raw !== 'object') return done([{ key, op: 'in', values: values([raw], () => []) }]);
  if ('not' in raw) {
    const list = Array.isArray(raw.not) ? raw.not : [raw.not];
    return done([{ key, op: 'not', values: values(list, (i) => (Array.isArray(raw.not) ? ['not', i] : ['not'])) }]);
  }
  const numeric = target.kind === 'field' && (target.spec.type === 'decimal' || target.spec.type === 'integer');
  if (!numeric) return { conditions: [], problems: [{ at: [], message: `gt, gte, lt and lte compare numbers: ${key} is ${target.kind === 'field' ? target.spec.type : 'the event type'}` }] };
  const out: Condition[] = [];
  for (const op of COMPARISONS) {
    const bound = (raw as Partial<Record<(typeof COMPARISONS)[number], string | number>>)[op];
    if (bound === undefined) continue;
    const s = typeof bound === 'number' ? String(bound) : bound.trim();
    if (!DECIMAL_PATTERN.test(s)) problems.push({ at: [op], message: `${JSON.stringify(bound)} is not a decimal with at most 6 fractional digits` });
    else out.push({ key, op, value: canonicalDecimal(s) });
  }
  return done(out);
}

const valueAt = (e: ValidEvent, key: string): FieldValue | undefined => (key === 'eventType' ? e.eventType : e.fields[key]);

/** The conditions, ANDed, as a predicate. An event without the field matches only a `not`. */
export function compileWhere(conditions: readonly Condition[]): (e: ValidEvent) => boolean {
  const tests = conditions.map((c): ((e: ValidEvent) => boolean) => {
    if (c.op === 'in' || c.op === 'not') {
      const set = new Set<FieldValue>(c.values);
      return c.op === 'in'
        ? (e) => {
            const v = valueAt(e, c.key);
            return v !== undefined && set.has(v);
          }
        : (e) => {
            const v = valueAt(e, c.key);
            return v === undefined || !set.has(v);
          };
    }
    const bound = toMicros(c.value);
    const cmp = { gt: (d: bigint) => d > 0n, gte: (d: bigint) => d >= 0n, lt: (d: bigint) => d < 0n, lte: (d: bigint) => d <= 0n }[c.op];
    return (e) => {
      const v = valueAt(e, c.key);
      return v !== undefined && typeof v !== 'boolean' && cmp(toMicros(String(v)) - bound);
    };
  });
  return (e) => tests.every((t) => t(e));
}

/** `eventType = purchase`, `plan not in (free)`, `amount > 100`: for canonical definitions. */
export function printCondition(c: Condition): string {
  if (c.op === 'in') return c.values.length === 1 ? `${c.key} = ${String(c.values[0])}` : `${c.key} in (${c.values.map(String).join(', ')})`;
  if (c.op === 'not') return `${c.key} not in (${c.values.map(String).join(', ')})`;
  return `${c.key} ${{ gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op]} ${c.value}`;
}
