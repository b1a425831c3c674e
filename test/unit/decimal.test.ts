/** Decimal strings: canonical form whichever way a literal arrives (the fast path must agree with the exact one). */
import { describe, expect, it } from 'vitest';
import { canonicalDecimal, fromMicros, MicroSum, toMicros } from '../../src/contracts/decimal.ts';

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

describe('MicroSum', () => {
  it('equals the BigInt sum, across the switch to BigInt for large values', () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 50; run++) {
      const sum = new MicroSum();
      let exact = 0n;
      for (let i = 0; i < 200; i++) {
        const big = rnd() < 0.02;
        const whole = big ? `${Math.floor(rnd() * 9 + 1)}${'0'.repeat(12 + Math.floor(rnd() * 10))}` : String(Math.floor(rnd() * 1e7));
        const fraction = rnd() < 0.3 ? '' : `.${String(Math.floor(rnd() * 1e6)).padStart(6, '0').slice(0, 1 + Math.floor(rnd() * 6))}`;
        const literal = `${rnd() < 0.2 ? '-' : ''}${whole}${fraction}`;
        sum.add(MicroSum.micros(literal));
        exact += toMicros(literal);
      }
      expect(sum.toString()).toBe(fromMicros(exact));
    }
  });

  it('stays exact where doubles would not: 0.1 + 0.2, and sums past 2^53 micro-units', () => {
    const a = new MicroSum();
    a.add(MicroSum.micros('0.1'));
    a.add(MicroSum.micros('0.2'));
    expect(a.toString()).toBe('0.3');
    const b = new MicroSum();
    for (let i = 0; i < 10; i++) b.add(MicroSum.micros('999999999.999999')); // ~10^15 micro-units each: the sum passes 2^53
    b.add(MicroSum.micros('0.000001'));
    expect(b.toString()).toBe('9999999999.999991');
  });

  it('refuses what is not a decimal of ≤ 6 fractional digits', () => {
    for (const bad of ['0.1234567', '1e5', '', 'NaN']) expect(() => MicroSum.micros(bad), bad).toThrow(RangeError);
  });
});

describe('toMicros and fromMicros', () => {
  /** The BigInt-only ways both take beyond their double fast paths. */
  const slowTo = (literal: string) => {
    const negative = literal.startsWith('-');
    const [whole = '0', fraction = ''] = (negative ? literal.slice(1) : literal).split('.');
    const m = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
    return negative ? -m : m;
  };
  const slowFrom = (m: bigint) => {
    const abs = m < 0n ? -m : m;
    const fraction = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
    return `${m < 0n ? '-' : ''}${abs / 1_000_000n}${fraction ? `.${fraction}` : ''}`;
  };

  it('agree with the BigInt-only way on both sides of the double fast paths (2⁵³ micro-units, 9 whole digits)', () => {
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    const edges = [0n, 1n, 999_999n, 1_000_000n, 1_000_001n, safe - 1_000_001n, safe - 1n, safe, safe + 1n, safe + 999_999n, 10n ** 15n - 1n, 10n ** 15n, 10n ** 36n + 7n];
    let seed = 11n;
    const rnd = () => (seed = (seed * 6_364_136_223_846_793_005n + 1_442_695_040_888_963_407n) % 2n ** 64n);
    const generated = Array.from({ length: 2_000 }, (_, i) => rnd() % 10n ** BigInt(1 + (i % 25)));
    for (const m of [...edges, ...generated].flatMap((x) => [x, -x])) {
      const text = slowFrom(m);
      expect(fromMicros(m), String(m)).toBe(text);
      expect(toMicros(text), text).toBe(m);
      expect(toMicros(text.includes('.') ? text : `${text}.000000`), text).toBe(slowTo(text));
    }
  });

  it('toMicros refuses what is not a literal, on the fast path too', () => {
    for (const bad of ['', '-', '1.', '.5', '01', '-01', '+1', ' 1', '1 ', '1.1234567', '1e3', '1,5', '١']) expect(() => toMicros(bad), JSON.stringify(bad)).toThrow(RangeError);
  });
});
