/** Formulas: one parse, one printed form, exact evaluation (half-even at 6 digits, null on x / 0), ratio of totals. */
import { describe, expect, it } from 'vitest';
import { divideHalfEven } from '../../src/contracts/decimal.ts';
import { evaluateFormula, evaluateFormulaSeries } from '../../src/model/evaluate.ts';
import { FormulaSyntaxError, operandsOf, parseFormula, pinFormula, printFormula } from '../../src/model/formula.ts';

describe('parseFormula / printFormula', () => {
  it.each([
    ['gross_revenue - refunds', 'gross_revenue - refunds'],
    ['net_revenue/payers', 'net_revenue / payers'],
    ['a + b * c', 'a + b * c'],
    ['(a + b) * c', '(a + b) * c'],
    ['a - (b - c)', 'a - (b - c)'],
    ['(a - b) - c', 'a - b - c'],
    ['a / b / c', 'a / b / c'],
    ['a / (b / c)', 'a / (b / c)'],
    ['a * (b * c)', 'a * (b * c)'], // rounding: not the same as (a * b) * c
    ['((a))', 'a'],
    ['revenue@2 / users@1', 'revenue@2 / users@1'],
    ['100 * signups / 3.50', '100 * signups / 3.5'],
    ['  a   +b  ', 'a + b'],
  ])('%s → %s', (expr, printed) => {
    const ast = parseFormula(expr);
    expect(printFormula(ast)).toBe(printed);
    expect(parseFormula(printed)).toEqual(ast); // the printed form parses back to the same tree
  });

  it.each([
    ['', 'empty formula', 0],
    ['a +', 'expression ends where an operand was expected', 3],
    ['(a + b', 'missing ")"', 6],
    ['a + b)', 'unexpected ")"', 5],
    ['-a', 'unary minus is not supported: write 0 - x', 0],
    ['a $ b', 'unexpected "$"', 2],
    ['a b', 'unexpected "b"', 2],
    ['1.1234567 * a', 'number 1.1234567 has more than 6 fractional digits', 0],
    ['a@0', 'version of a must be 1 or more', 0],
    ['Revenue', 'unexpected "R"', 0],
  ])('%j is refused: %s', (expr, message, offset) => {
    let err: unknown;
    try {
      parseFormula(expr);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormulaSyntaxError);
    expect(err).toMatchObject({ message, offset });
  });

  it('lists and pins operands', () => {
    const ast = parseFormula('(revenue - refunds@1) / revenue');
    expect(operandsOf(ast).map((o) => `${o.name}@${o.version}`)).toEqual(['revenue@null', 'refunds@1', 'revenue@null']);
    expect(printFormula(pinFormula(ast, (n) => (n === 'revenue' ? 3 : 9)))).toBe('(revenue@3 - refunds@1) / revenue@3');
  });
});

describe('evaluateFormula', () => {
  const values: Record<string, string | null> = { a: '10', b: '3', c: '0', d: '-7', e: '0.000001', f: '2.5', big: '1234567890123456789012345.123456', n: null };
  const run = (expr: string, onZero: 'null' | 'zero' = 'null') => evaluateFormula(parseFormula(expr), (o) => values[o.name]!, onZero);

  it.each<[string, string | null]>([
    ['a + b', '13'],
    ['a - b - b', '4'],
    ['a / b', '3.333333'],
    ['0 - a / b', '-3.333333'],
    ['2 / 3', '0.666667'],
    ['d / a', '-0.7'],
    ['e / 2', '0'], // 0.0000005 → half to even: 0
    ['e * 3 / 2', '0.000002'], // 0.0000015 → 0.000002 (even)
    ['0.000005 / 2', '0.000002'], // 0.0000025 → 0.000002 (even)
    ['0.000007 / 2', '0.000004'], // 0.0000035 → 0.000004 (even)
    ['0 - 0.000005 / 2', '-0.000002'],
    ['f * f', '6.25'],
    ['e * e', '0'], // 10^-12 rounds away
    ['big + big', '2469135780246913578024690.246912'], // exact beyond 2^53
    ['big * 2', '2469135780246913578024690.246912'],
    ['a / c', null],
    ['a / (b - 3)', null],
    ['(a / c) + 1', null], // null propagates
    ['n + 1', null],
    ['a * 1.5 - b', '12'],
  ])('%s = %s', (expr, expected) => expect(run(expr)).toBe(expected));

  it('onZeroDivision: zero gives 0 instead of null', () => {
    expect(run('a / c', 'zero')).toBe('0');
    expect(run('a + b / c', 'zero')).toBe('10');
  });

  it.each([
    [7n, 2n, 4n],
    [5n, 2n, 2n],
    [-5n, 2n, -2n],
    [-7n, 2n, -4n],
    [5n, -2n, -2n],
    [10n, 4n, 2n],
    [11n, 4n, 3n],
    [1n, 3n, 0n],
    [2n, 3n, 1n],
  ])('divideHalfEven(%s, %s) = %s', (a, b, q) => expect(divideHalfEven(a, b)).toBe(q));
});

describe('evaluateFormulaSeries', () => {
  it('evaluates each bucket and takes the total as the ratio of the totals', () => {
    // Bucket 1: 10 / 1 user; bucket 2: 20 / 4 users; the same 4 users in both, so the range has 4 distinct users.
    const r = evaluateFormulaSeries(parseFormula('revenue / users'), (o) =>
      o.name === 'revenue' ? { points: ['10', '20', '0'], total: '30' } : { points: ['1', '4', '0'], total: '4' },
    );
    expect(r.points).toEqual(['10', '5', null]);
    expect(r.total).toBe('7.5'); // not 10 + 5 = 15, nor the mean of the ratios
  });

  it('gives 0 per empty bucket with onZeroDivision: zero, and refuses misaligned operands', () => {
    const f = parseFormula('revenue / users');
    expect(evaluateFormulaSeries(f, () => ({ points: ['0'], total: '0' }), 'zero')).toEqual({ points: ['0'], total: '0' });
    expect(() => evaluateFormulaSeries(f, (o) => (o.name === 'revenue' ? { points: ['1', '2'], total: '3' } : { points: ['1'], total: '1' }))).toThrow(RangeError);
  });
});
