/**
 * Formula expressions over other metrics: `gross_revenue - refunds`, `revenue@1 / payers`,
 * `(a + b) * 100`. Operators + - * / with the usual precedence (left to right within one
 * level), parentheses, decimal numbers (≤ 6 fractional digits) and operands `name` or
 * `name@version`. No unary minus (write `0 - x`): every expression has one printed form.
 * Pure.
 */
import { DECIMAL_PATTERN, canonicalDecimal } from '../contracts/decimal.ts';
import type { FormulaAst } from './types.ts';

export class FormulaSyntaxError extends Error {
  /** 0-based offset in the expression. */
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'FormulaSyntaxError';
  }
}

type Token = { kind: 'number' | 'metric' | 'op' | '(' | ')'; text: string; offset: number; name?: string; version?: number | null };

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|([a-z][a-z0-9_]*)(?:@(\d+))?|([-+*/])|([()]))/y;

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < expr.length) {
    if (/^\s*$/.test(expr.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(expr);
    if (!m) {
      const offset = at + (expr.slice(at).length - expr.slice(at).trimStart().length);
      throw new FormulaSyntaxError(`unexpected "${expr[offset]}"`, offset);
    }
    const offset = m.index + m[0].length - m[0].trimStart().length;
    const [, num, metric, version, op, paren] = m;
    if (num !== undefined) {
      if (!DECIMAL_PATTERN.test(num)) throw new FormulaSyntaxError(`number ${num} has more than 6 fractional digits`, offset);
      tokens.push({ kind: 'number', text: canonicalDecimal(num), offset });
    } else if (metric !== undefined) {
      if (version !== undefined && Number(version) < 1) throw new FormulaSyntaxError(`version of ${metric} must be 1 or more`, offset);
      tokens.push({ kind: 'metric', text: m[0].trim(), offset, name: metric, version: version === undefined ? null : Number(version) });
    } else if (op !== undefined) tokens.push({ kind: 'op', text: op, offset });
    else tokens.push({ kind: paren as '(' | ')', text: paren!, offset });
    at = TOKEN.lastIndex;
  }
  return tokens;
}

const PRECEDENCE = { '+': 1, '-': 1, '*': 2, '/': 2 } as const;
type Op = keyof typeof PRECEDENCE;

/** Parses `expr` into an AST, or throws FormulaSyntaxError with the offset of the problem. */
export function parseFormula(expr: string): FormulaAst {
  const tokens = tokenize(expr);
  let i = 0;
  const end = expr.length;

  const primary = (): FormulaAst => {
    const t = tokens[i];
    if (!t) throw new FormulaSyntaxError('expression ends where an operand was expected', end);
    i++;
    if (t.kind === 'number') return { type: 'number', value: t.text };
    if (t.kind === 'metric') return { type: 'metric', name: t.name!, version: t.version ?? null };
    if (t.kind === '(') {
      const inner = binary(1);
      const close = tokens[i];
      if (close?.kind !== ')') throw new FormulaSyntaxError('missing ")"', close?.offset ?? end);
      i++;
      return inner;
    }
    if (t.kind === 'op' && t.text === '-') throw new FormulaSyntaxError('unary minus is not supported: write 0 - x', t.offset);
    throw new FormulaSyntaxError(`unexpected "${t.text}" where an operand was expected`, t.offset);
  };

  const binary = (minPrecedence: number): FormulaAst => {
    let left = primary();
    for (;;) {
      const t = tokens[i];
      if (t?.kind !== 'op' || PRECEDENCE[t.text as Op] < minPrecedence) return left;
      i++;
      const op = t.text as Op;
      const right = binary(PRECEDENCE[op] + 1);
      left = { type: 'binary', op, left, right };
    }
  };

  if (tokens.length === 0) throw new FormulaSyntaxError('empty formula', 0);
  const ast = binary(1);
  const rest = tokens[i];
  if (rest) throw new FormulaSyntaxError(`unexpected "${rest.text}"`, rest.offset);
  return ast;
}

/** The one printed form of an AST: parentheses exactly where the tree needs them. */
export function printFormula(ast: FormulaAst): string {
  if (ast.type === 'number') return ast.value;
  if (ast.type === 'metric') return ast.version === null ? ast.name : `${ast.name}@${ast.version}`;
  const p = PRECEDENCE[ast.op];
  const side = (child: FormulaAst, needsParens: (q: number) => boolean) => {
    const s = printFormula(child);
    return child.type === 'binary' && needsParens(PRECEDENCE[child.op]) ? `(${s})` : s;
  };
  // Right operands of the same level keep their parentheses: with rounding, a * (b * c) is not (a * b) * c.
  return `${side(ast.left, (q) => q < p)} ${ast.op} ${side(ast.right, (q) => q <= p)}`;
}

/** Every operand of the formula, in reading order (repeats included). */
export function operandsOf(ast: FormulaAst): Extract<FormulaAst, { type: 'metric' }>[] {
  if (ast.type === 'metric') return [ast];
  if (ast.type === 'number') return [];
  return [...operandsOf(ast.left), ...operandsOf(ast.right)];
}

/** The AST with every unpinned operand pinned by `pin` (name → version). */
export function pinFormula(ast: FormulaAst, pin: (name: string) => number): FormulaAst {
  if (ast.type === 'number') return ast;
  if (ast.type === 'metric') return { ...ast, version: ast.version ?? pin(ast.name) };
  return { ...ast, left: pinFormula(ast.left, pin), right: pinFormula(ast.right, pin) };
}
