/**
 * The canonical definition of a metric version: a readable rule, and a checksum over
 * everything that decides its numbers (kind, field, where, by, unit, formula with pinned
 * operands, division by zero) — not its description, `hidden` or `effectiveFrom`. Storage
 * records both per (name, version) when it publishes one and compares on start: the same
 * version with another checksum is a changed definition and needs a new version.
 */
import { createHash } from 'node:crypto';
import { operandsOf, pinFormula, printFormula } from './formula.ts';
import type { Condition, FormulaAst, MetricVersion, ModelPlan, RecordedDefinition } from './types.ts';
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
  let pinned: Record<string, number> | undefined;
  if (v.kind === 'formula') {
    const expr: FormulaAst = pins ? pinFormula(v.expr, pins) : v.pinned;
    pinned = Object.fromEntries(operandsOf(expr).map((o) => [o.name, o.version!]));
    const printed = printFormula(expr);
    definition = `${printed}${whereText}${byText}${printed.includes('/') ? `; x / 0 = ${v.onZeroDivision}` : ''}`;
    canonical = { kind: v.kind, name: v.name, version: v.version, unit: v.unit, formula: printed, where: where.map(canonicalCondition), by: v.by, onZeroDivision: v.onZeroDivision };
  } else {
    const what = v.kind === 'count' ? 'count' : `${v.kind}(${v.field})`;
    definition = `${what} of events${whereText}${byText}`;
    canonical = { kind: v.kind, name: v.name, version: v.version, unit: v.unit, field: v.field ?? null, where: where.map(canonicalCondition), by: v.by };
  }
  const checksum = createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
  return { id: v.id, definition, checksum, ...(pinned ? { pins: pinned } : {}) };
}

/** A recorded definition as storage keeps it: with the time it was first published. */
export interface PublishedDefinition extends RecordedDefinition {
  publishedAt: string;
}

/**
 * The versions of `plan` whose definition differs from the one published under the same
 * (name, version), each with the message a process refuses to start with. A formula is
 * compared with its operands pinned as published, so a new version of an operand does not
 * count as a change of the formula. Pure: storage supplies what it recorded.
 */
export function changedDefinitions(plan: ModelPlan, published: readonly PublishedDefinition[]): { id: string; message: string }[] {
  const changed: { id: string; message: string }[] = [];
  for (const p of published) {
    const v = plan.versions.find((x) => x.id === p.id);
    if (!v) continue;
    const pins = p.pins;
    const now = definitionOf(v, pins ? (name) => pins[name] ?? plan.metric(name)!.version : undefined);
    if (now.checksum === p.checksum) continue;
    const next = Math.max(...plan.versions.filter((x) => x.name === v.name).map((x) => x.version)) + 1;
    changed.push({
      id: v.id,
      message: `metric ${v.name} v${v.version} changed since it was published on ${p.publishedAt}: give it version ${next} (published: ${p.definition}; now: ${now.definition})`,
    });
  }
  return changed;
}
