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

/** An operand series with its values parsed once: micro-units per bucket and of the total (null: no value). */
interface ParsedSeries {
  points: (bigint | null)[];
  total: bigint | null;
}

const parse = (v: OperandValue): bigint | null => (v === null ? null : toMicros(v));

/**
 * `ast` as one function of a bucket index (-1: the total) over parsed operands: the same
 * arithmetic as `evaluateFormula`, with the tree walked and the operands looked up once
 * per series instead of once per bucket.
 */
function compile(n: FormulaAst, operand: (o: { name: string; version: number | null }) => ParsedSeries, onZeroDivision: OnZeroDivision): (i: number) => bigint | null {
  switch (n.type) {
    case 'number': {
      const v = toMicros(n.value);
      return () => v;
    }
    case 'metric': {
      const s = operand(n);
      return (i) => (i < 0 ? s.total : (s.points[i] ?? null));
    }
    case 'binary': {
      const left = compile(n.left, operand, onZeroDivision);
      const right = compile(n.right, operand, onZeroDivision);
      const op = n.op;
      return (i) => {
        const a = left(i);
        const b = right(i);
        if (a === null || b === null) return null;
        if (op === '+') return a + b;
        if (op === '-') return a - b;
        if (op === '*') return divideHalfEven(a * b, MICRO);
        if (b === 0n) return onZeroDivision === 'zero' ? 0n : null;
        return divideHalfEven(a * MICRO, b);
      };
    }
  }
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
  const memo = new Map<string, ParsedSeries>();
  const lengths = new Set<number>();
  const operand = (o: { name: string; version: number | null }): ParsedSeries => {
    const k = `${o.name}@${o.version ?? ''}`;
    let s = memo.get(k);
    if (!s) {
      const series = operands(o);
      lengths.add(series.points.length);
      memo.set(k, (s = { points: series.points.map(parse), total: parse(series.total) }));
    }
    return s;
  };
  const f = compile(ast, operand, onZeroDivision);
  if (lengths.size > 1) throw new RangeError(`operand series have different lengths: ${[...lengths].join(', ')}`);
  const buckets = lengths.size === 0 ? 0 : [...lengths][0]!;
  const render = (m: bigint | null) => (m === null ? null : fromMicros(m));
  return { points: Array.from({ length: buckets }, (_, i) => render(f(i))), total: render(f(-1)) };
}
