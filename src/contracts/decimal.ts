/**
 * Exact money. Amounts travel as decimal strings with at most 6 fractional digits and
 * are summed as integer micro-units in BigInt, so no sum ever passes through binary
 * floating point (ClickHouse stores them as Decimal(38, 6)).
 */
export const MONEY_SCALE = 6;
const SCALE_FACTOR = 10n ** BigInt(MONEY_SCALE);

/** A plain decimal literal: optional minus, digits, optional fraction of 1–6 digits. */
export const DECIMAL_PATTERN = /^-?(0|[1-9]\d{0,30})(\.\d{1,6})?$/;

/** Parses a decimal literal (already matching DECIMAL_PATTERN) into micro-units. */
export function toMicros(literal: string): bigint {
  if (!DECIMAL_PATTERN.test(literal)) throw new RangeError(`not a decimal with ≤${MONEY_SCALE} fractional digits: ${literal}`);
  const negative = literal.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? literal.slice(1) : literal).split('.');
  const micros = BigInt(whole) * SCALE_FACTOR + BigInt(fraction.padEnd(MONEY_SCALE, '0'));
  return negative ? -micros : micros;
}

/** Renders micro-units as the shortest exact decimal literal ("12.5", "3", "0.000001"). */
export function fromMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / SCALE_FACTOR;
  const fraction = (abs % SCALE_FACTOR).toString().padStart(MONEY_SCALE, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** What fromMicros renders: no leading zeros, no trailing fractional zeros, no "-0". */
const CANONICAL = /^(-(?=[1-9]|0\.)|)(0|[1-9]\d{0,30})(\.\d{0,5}[1-9])?$/;

/** Normalises a decimal string from any source (e.g. ClickHouse "12.500000") to canonical form. */
export function canonicalDecimal(literal: string): string {
  // ClickHouse sums usually arrive canonical already: thousands per dashboard read.
  if (CANONICAL.test(literal)) return literal;
  return fromMicros(toMicros(literal.includes('.') ? literal.replace(/0+$/, '').replace(/\.$/, '') : literal));
}

/**
 * An exact running sum of decimals, for adding thousands of stored values per read.
 * Micro-units are integers: while the sum and every addend stay within 2^53 they add
 * exactly as doubles (no fraction ever enters binary floating point); anything larger
 * goes through BigInt as toMicros does.
 */
export class MicroSum {
  private small = 0;
  private large = 0n;

  /** The micro-units of a decimal literal: a number where that is exact (below 10^15), else a bigint. Parse once, add many times. */
  static micros(literal: string): number | bigint {
    if (!DECIMAL_PATTERN.test(literal)) throw new RangeError(`not a decimal with ≤${MONEY_SCALE} fractional digits: ${literal}`);
    const dot = literal.indexOf('.');
    const fractionDigits = dot < 0 ? 0 : literal.length - dot - 1;
    const negative = literal.charCodeAt(0) === 45; // '-'
    // At most 15 digits once scaled to micro-units: every step stays below 10^15 < 2^53, so it is exact.
    if (literal.length - (dot < 0 ? 0 : 1) - (negative ? 1 : 0) + MONEY_SCALE - fractionDigits > 15) return toMicros(literal);
    const units = dot < 0 ? Number(literal) : Number(literal.slice(0, dot)) * 10 ** fractionDigits + (negative ? -1 : 1) * Number(literal.slice(dot + 1));
    return units * 10 ** (MONEY_SCALE - fractionDigits);
  }

  add(micros: number | bigint): void {
    if (typeof micros === 'number' && Number.isSafeInteger(this.small + micros)) this.small += micros;
    else this.large += BigInt(micros);
  }

  toString(): string {
    return fromMicros(BigInt(this.small) + this.large);
  }
}

/** a / b rounded to an integer, ties to even. b must be non-zero. */
export function divideHalfEven(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new RangeError('division by zero');
  if (b < 0n) return divideHalfEven(-a, -b);
  const q = a / b; // truncates toward zero
  const r = a - q * b;
  if (r === 0n) return q;
  const twice = 2n * (r < 0n ? -r : r);
  const away = a < 0n ? q - 1n : q + 1n;
  if (twice > b) return away;
  if (twice < b) return q;
  return q % 2n === 0n ? q : away;
}
