/** Decimal strings: canonical form whichever way a literal arrives (the fast path must agree with the exact one). */
import { describe, expect, it } from 'vitest';
import { canonicalDecimal, fromMicros, toMicros } from '../../src/contracts/decimal.ts';

describe('canonicalDecimal', () => {
  it.each([
    ['12.500000', '12.5'],
    ['12.5', '12.5'],
    ['100', '100'],
    ['0', '0'],
    ['0.000000', '0'],
    ['-0', '0'],
    ['-0.0', '0'],
    ['-0.5', '-0.5'],
    ['0.000001', '0.000001'],
    ['1234567890123456789012345678901.000010', '1234567890123456789012345678901.00001'],
  ])('%s → %s', (literal, canonical) => expect(canonicalDecimal(literal)).toBe(canonical));

  it('refuses what is not a decimal of ≤ 6 fractional digits', () => {
    for (const bad of ['0.1234567', '1e5', '', '.5', '--1']) expect(() => canonicalDecimal(bad), bad).toThrow(RangeError);
  });

  it('equals the micro-unit round trip on generated literals', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2_000; i++) {
      const whole = rnd() < 0.3 ? '0' : String(Math.floor(rnd() * 1e9));
      const fraction = rnd() < 0.4 ? '' : `.${String(Math.floor(rnd() * 1e6)).padStart(6, '0').slice(0, 1 + Math.floor(rnd() * 6))}`;
      const literal = `${rnd() < 0.2 ? '-' : ''}${whole}${fraction}`;
      const trimmed = literal.includes('.') ? literal.replace(/0+$/, '').replace(/\.$/, '') : literal;
      expect(canonicalDecimal(literal), literal).toBe(fromMicros(toMicros(trimmed)));
    }
  });
});
