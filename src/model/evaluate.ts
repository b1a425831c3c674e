/**
 * Exact evaluation of formulas. Values are decimals with at most 6 fractional digits, held
 * as BigInt micro-units: `+` and `-` are exact, `*` and `/` round to 6 fractional digits,
 * half to even. Division by zero gives null (or 0 with `onZeroDivision: zero`); a null
 * operand makes the whole result null. Pure.
 *
 * A total is the formula over the operands' totals (ratio of totals), never a sum of the
 * per-bucket results: revenue / users over a day divides the day's revenue by the day's
 * distinct users.
 */
import { divideHalfEven, fromMicros, toMicros } from '../contracts/decimal.ts';
import type { FormulaAst } from './types.ts';

const MICRO = 1_000_000n;

export type OnZeroDivision = 'null' | 'zero';

/** An operand's value: a decimal literal, or null when it has none (e.g. a formula operand that divided by zero). */
export type OperandValue = string | null;

/**
 * Evaluates `ast` with `valueOf` giving each operand's value (the caller resolves names and
 * versions, and gives '0' for an operand with nothing stored).
 */
export function evaluateFormula(
  ast: FormulaAst,
  valueOf: (operand: { name: string; version: number | null }) => OperandValue,
  onZeroDivision: OnZeroDivision = 'null',
): string | null {
  const run = (n: FormulaAst): bigint | null => {
    switch (n.type) {
      case 'number':
        return toMicros(n.value);
      case 'metric': {
        const v = valueOf(n);
        return v === null ? null : toMicros(v);
      }
      case 'binary': {
        const a = run(n.left);
        const b = run(n.right);
        if (a === null || b === null) return null;
        switch (n.op) {
          case '+':
            return a + b;
          case '-':
            return a - b;
          case '*':
            return divideHalfEven(a * b, MICRO);
          case '/':
            if (b === 0n) return onZeroDivision === 'zero' ? 0n : null;
            return divideHalfEven(a * MICRO, b);
        }
      }
    }
  };
  const micros = run(ast);
  return micros === null ? null : fromMicros(micros);
}

/** Operand values of a series: one value per bucket (same buckets for every operand) and the total over the range. */
export interface OperandSeries {
  points: readonly OperandValue[];
  total: OperandValue;
}

/**
 * A formula over aligned operand series: each bucket from the operands' values in that
 * bucket, the total from the operands' totals.
 */
export function evaluateFormulaSeries(
  ast: FormulaAst,
  operands: (operand: { name: string; version: number | null }) => OperandSeries,
  onZeroDivision: OnZeroDivision = 'null',
): { points: (string | null)[]; total: string | null } {
  const memo = new Map<string, OperandSeries>();
  const get = (o: { name: string; version: number | null }) => {
    const k = `${o.name}@${o.version ?? ''}`;
    let s = memo.get(k);
    if (!s) memo.set(k, (s = operands(o)));
    return s;
  };
  const lengths = new Set<number>();
  const collect = (n: FormulaAst): void => {
    if (n.type === 'metric') lengths.add(get(n).points.length);
    else if (n.type === 'binary') {
      collect(n.left);
      collect(n.right);
    }
  };
  collect(ast);
  if (lengths.size > 1) throw new RangeError(`operand series have different lengths: ${[...lengths].join(', ')}`);
  const buckets = lengths.size === 0 ? 0 : [...lengths][0]!;
  const points = Array.from({ length: buckets }, (_, i) => evaluateFormula(ast, (o) => get(o).points[i] ?? null, onZeroDivision));
  return { points, total: evaluateFormula(ast, (o) => get(o).total, onZeroDivision) };
}
