/**
 * Formula entries: parsed, operands resolved to versions of the file, cycles refused,
 * and the dimensions a formula can be filtered or broken down by worked out — only those
 * every operand has in `by`. A formula over money must keep `currency` among them: its
 * operands could never be queried in one currency otherwise.
 */
import type { FieldsResult } from './compile-fields.ts';
import type { EntryBase } from './compile-metrics.ts';
import type { MetricEntry } from './file-schema.ts';
import { FormulaSyntaxError, operandsOf, parseFormula, pinFormula } from './formula.ts';
import type { ModelSource, PathSegment } from './source.ts';
import type { Condition, FormulaAst, FormulaVersion, MeasureVersion, ModelError } from './types.ts';
import { normaliseCondition } from './where.ts';

export interface FormulaInput {
  entry: MetricEntry;
  index: number;
  base: EntryBase;
}

/** Every entry by id (measures compiled, or null when they had errors) and by name the versions in the file. */
export interface Known {
  measures: ReadonlyMap<string, MeasureVersion | null>;
  versionsOf: ReadonlyMap<string, readonly number[]>;
  /** Names of entries whose shape was wrong (reported already). */
  broken: ReadonlySet<string>;
}

interface ParsedFormula {
  input: FormulaInput;
  ast: FormulaAst;
  pinned: FormulaAst;
  /** `name@version` of every operand, once. */
  operands: string[];
}

/** Parses each formula and resolves its operands to versions of the file; a formula with an error is left out. */
function parseFormulas(inputs: readonly FormulaInput[], known: Known, src: ModelSource, errors: ModelError[]): Map<string, ParsedFormula> {
  const current = (name: string) => Math.max(...(known.versionsOf.get(name) ?? [0]));
  const parsed = new Map<string, ParsedFormula>();

  for (const input of inputs) {
    const { entry, index, base } = input;
    const path: PathSegment[] = ['metrics', index];
    if (entry.where?.eventType !== undefined) errors.push(src.error([...path, 'where', 'eventType'], 'a formula filters on dimensions only; put eventType conditions on its operands'));
    let ast: FormulaAst;
    try {
      ast = parseFormula(entry.formula!);
    } catch (err) {
      if (!(err instanceof FormulaSyntaxError)) throw err;
      errors.push(src.error([...path, 'formula'], `formula "${entry.formula}": ${err.message} (at character ${err.offset + 1})`));
      continue;
    }
    let ok = true;
    for (const op of operandsOf(ast)) {
      const versions = known.versionsOf.get(op.name);
      if (!versions) {
        if (!known.broken.has(op.name)) errors.push(src.error([...path, 'formula'], `${base.id}: unknown metric "${op.name}" in formula "${entry.formula}"`));
        ok = false;
      } else if (op.version !== null && !versions.includes(op.version)) {
        errors.push(src.error([...path, 'formula'], `${base.id}: metric ${op.name} has no version ${op.version} (versions in the file: ${versions.join(', ')})`));
        ok = false;
      }
    }
    if (!ok) continue;
    const pinned = pinFormula(ast, current);
    parsed.set(base.id, { input, ast, pinned, operands: [...new Set(operandsOf(pinned).map((o) => `${o.name}@${o.version}`))] });
  }
  return parsed;
}

/**
 * Formulas on a cycle of formula → operand edges: depth-first; each cycle reported once,
 * at its first entry in the file.
 */
function formulasInCycles(parsed: ReadonlyMap<string, ParsedFormula>, src: ModelSource, errors: ModelError[]): Set<string> {
  const inCycle = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): void => {
    const f = parsed.get(id);
    if (!f || state.get(id) === 'done') return;
    if (state.get(id) === 'open') {
      const cycle = stack.slice(stack.indexOf(id));
      if (!cycle.some((c) => inCycle.has(c))) {
        const first = cycle.map((c) => parsed.get(c)!.input).sort((a, b) => a.index - b.index)[0]!;
        const from = cycle.indexOf(first.base.id);
        const ordered = [...cycle.slice(from), ...cycle.slice(0, from), first.base.id];
        errors.push(src.error(['metrics', first.index, 'formula'], `formula cycle: ${ordered.join(' → ')}`));
      }
      for (const c of cycle) inCycle.add(c);
      return;
    }
    state.set(id, 'open');
    stack.push(id);
    for (const o of f.operands) visit(o);
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of parsed.keys()) visit(id);
  return inCycle;
}

export function compileFormulas(inputs: readonly FormulaInput[], known: Known, fields: FieldsResult, src: ModelSource, errors: ModelError[]): FormulaVersion[] {
  const parsed = parseFormulas(inputs, known, src, errors);
  const inCycle = formulasInCycles(parsed, src, errors);

  // Dimensions and money of each formula, operands first.
  const done = new Map<string, FormulaVersion | null>();
  const shapeOf = (id: string): { by: readonly string[]; money: boolean } | null => {
    const m = known.measures.get(id);
    if (m !== undefined) return m;
    return compile(id);
  };
  const compile = (id: string): FormulaVersion | null => {
    if (done.has(id)) return done.get(id)!;
    const f = parsed.get(id);
    if (!f || inCycle.has(id)) return null;
    done.set(id, null);
    const { entry, index, base } = f.input;
    const path: PathSegment[] = ['metrics', index];
    const shapes = f.operands.map((o) => ({ id: o, shape: shapeOf(o) }));
    if (shapes.some((s) => s.shape === null)) return null; // the operand's own error is reported
    const before = errors.length;
    const common = shapes.reduce<string[] | null>((acc, s) => (acc === null ? [...s.shape!.by] : acc.filter((d) => s.shape!.by.includes(d))), null) ?? [];
    const lacking = (dim: string) => shapes.filter((s) => !s.shape!.by.includes(dim)).map((s) => s.id);
    const money = shapes.some((s) => s.shape!.money);

    let by = common;
    if (entry.by !== undefined) {
      by = [];
      entry.by.forEach((dim, i) => {
        const missing = lacking(dim);
        if (!fields.dimensions.has(dim)) errors.push(src.error([...path, 'by', i], `unknown dimension "${dim}"`));
        else if (missing.length) errors.push(src.error([...path, 'by', i], `${base.id} cannot be broken down by ${dim}: operand ${missing.join(', ')} has no ${dim} in by`));
        else by.push(dim);
      });
    }
    const where: Condition[] = [];
    for (const [key, raw] of Object.entries(entry.where ?? {})) {
      if (key === 'eventType') continue;
      const dim = fields.dimensions.get(key);
      if (!dim) {
        errors.push(src.error([...path, 'where', key], `a formula filters on dimensions only: "${key}" is not a dimension`));
        continue;
      }
      const missing = lacking(key);
      if (missing.length) {
        errors.push(src.error([...path, 'where', key], `${base.id} filters on ${key}, but operand ${missing.join(', ')} has no ${key} in by: a formula filters only on dimensions all its operands have`));
        continue;
      }
      const r = normaliseCondition(key, raw, { kind: 'field', spec: fields.allFields.get(key)! });
      for (const p of r.problems) errors.push(src.error([...path, 'where', key, ...p.at], p.message));
      where.push(...r.conditions);
    }
    if (money && !common.includes('currency')) {
      const without = shapes.filter((s) => !s.shape!.by.includes('currency')).map((s) => s.id);
      errors.push(
        src.error(
          [...path, 'formula'],
          `${base.id} is money, but operand ${without.join(', ')} has no currency in by: its operands share no way to be queried in one currency`,
        ),
      );
    } else if (money && !by.includes('currency') && errors.length === before) {
      errors.push(src.error([...path, 'by'], `${base.id} is money: keep currency in by, so it is only ever queried in one currency`));
    }
    if (errors.length > before) return null;
    const v: FormulaVersion = { ...base, kind: 'formula', expr: f.ast, pinned: f.pinned, where, by, money, onZeroDivision: entry.onZeroDivision ?? 'null', current: false };
    done.set(id, v);
    return v;
  };
  return inputs.map((i) => compile(i.base.id)).filter((v): v is FormulaVersion => v !== null);
}
