/**
 * The canonical definition of a metric version: a readable rule, and a checksum over
 * everything that decides its numbers (kind, field, where, by, unit, formula with pinned
 * operands, division by zero) — not its description, `hidden` or `effectiveFrom`. Storage
 * records both per (name, version) when it publishes one and compares on start: the same
 * version with another checksum is a changed definition and needs a new version.
 */
import { createHash } from 'node:crypto';
import { pinFormula, printFormula } from './formula.ts';
import type { Condition, FormulaAst, MetricVersion, RecordedDefinition } from './types.ts';
import { printCondition } from './where.ts';

/** `where` keys are ANDed, so their order does not matter: sorted for one canonical form. */
const sortedConditions = (where: readonly Condition[]) =>
  [...where].sort((a, b) => (a.key + a.op + ('value' in a ? a.value : a.values.map(String).join())).localeCompare(b.key + b.op + ('value' in b ? b.value : b.values.map(String).join())));

const canonicalCondition = (c: Condition) => ('value' in c ? { key: c.key, op: c.op, value: c.value } : { key: c.key, op: c.op, values: [...c.values] });

/**
 * The recorded definition of `v`. A formula's operands are pinned: by `pins` when given
 * (the versions recorded when it was first published), else to the current versions in the file.
 */
export function definitionOf(v: MetricVersion, pins?: (name: string) => number): RecordedDefinition {
  const where = sortedConditions(v.where);
  const whereText = where.length ? ` where ${where.map(printCondition).join(' and ')}` : '';
  const byText = v.by.length ? ` by (${v.by.join(', ')})` : '';
  let definition: string;
  let canonical: Record<string, unknown>;
  if (v.kind === 'formula') {
    const expr: FormulaAst = pins ? pinFormula(v.expr, pins) : v.pinned;
    const printed = printFormula(expr);
    definition = `${printed}${whereText}${byText}${printed.includes('/') ? `; x / 0 = ${v.onZeroDivision}` : ''}`;
    canonical = { kind: v.kind, name: v.name, version: v.version, unit: v.unit, formula: printed, where: where.map(canonicalCondition), by: v.by, onZeroDivision: v.onZeroDivision };
  } else {
    const what = v.kind === 'count' ? 'count' : `${v.kind}(${v.field})`;
    definition = `${what} of events${whereText}${byText}`;
    canonical = { kind: v.kind, name: v.name, version: v.version, unit: v.unit, field: v.field ?? null, where: where.map(canonicalCondition), by: v.by };
  }
  const checksum = createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
  return { id: v.id, definition, checksum };
}
