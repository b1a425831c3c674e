/**
 * RowBinaryWriter's Decimal(38, 6): the one-scan double path and the BigInt path write the
 * same two's-complement Int128, and text that is not a plain decimal is refused.
 */
import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from '../../src/storage/row-binary.ts';

/** The Int128 `decimal128` wrote, as a BigInt (the body's last 16 bytes). */
function written(text: string): bigint {
  const w = new RowBinaryWriter([['d', 'Decimal(38, 6)']]);
  w.decimal128(text, 6);
  const b = w.bytes();
  const lo = b.readBigUInt64LE(b.length - 16);
  const hi = b.readBigInt64LE(b.length - 8);
  return (hi << 64n) + lo;
}

/** What it must be: the digits scaled by 10^6, exactly. */
function expected(text: string): bigint {
  const [, sign, whole, frac = ''] = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)!;
  const v = BigInt(`${whole}${frac.padEnd(6, '0')}`);
  return sign ? -v : v;
}

describe('RowBinaryWriter decimal128', () => {
  it('writes every plain decimal exactly, on both sides of the 15-digit double path', () => {
    const values = ['0', '-0', '1', '12.5', '0.000001', '-0.000001', '007.50', '999999999.999999', '-999999999.999999', '1000000000', '1000000000.000001',
      '-123456789012345678901234567890.123456', '99999999999999999999999999999999.999999', '4503599627370495', '9007199254.740991'];
    for (const v of values) expect(written(v), v).toBe(expected(v));
  });

  it('matches the BigInt path on random values of every length', () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
    for (let n = 0; n < 2000; n++) {
      const whole = String(next()).repeat(1 + (next() % 3)).slice(0, 1 + (next() % 20));
      const frac = String(next()).slice(0, next() % 7);
      const text = `${next() % 2 ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
      expect(written(text), text).toBe(expected(text));
    }
  });

  it('refuses text that is not a plain decimal of at most 6 fractional digits', () => {
    for (const bad of ['', '-', '.5', '5.', '1.2345678', '1e5', '--1', '1.2.3', ' 1', '+1', '0x10']) {
      expect(() => written(bad), bad).toThrow(RangeError);
    }
  });
});
