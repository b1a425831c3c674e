/**
 * Exact money. Amounts travel as decimal strings with at most 6 fractional digits and
 * are summed as integer micro-units in BigInt, so no sum ever passes through binary
 * floating point (ClickHouse stores them as Decimal(38, 6)).
 */
export const MONEY_SCALE = 6;
const SCALE_FACTOR = 10n ** BigInt(MONEY_SCALE);

/** A plain decimal literal: optional minus, digits, optional fraction of 1–6 digits. */
export const DECIMAL_PATTERN = /^-?(0|[1-9]\d{0,30})(\.\d{1,6})?$/;

const FRACTION_SCALE = [1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Parses a decimal literal (matching DECIMAL_PATTERN, else a RangeError) into micro-units.
 * Literals of at most 9 whole digits (every realistic value) are read by one scan into an
 * exact double (≤ 15 digits of micro-units); others by BigInt arithmetic.
 */
export function toMicros(literal: string): bigint {
  const n = literal.length;
  const negative = literal.charCodeAt(0) === 45; // '-'
  let i = negative ? 1 : 0;
  const start = i;
  let whole = 0;
  for (let c = literal.charCodeAt(i); i < n && isDigit(c); c = literal.charCodeAt(++i)) whole = whole * 10 + (c - 48);
  const wholeDigits = i - start;
  let fraction = 0;
  let fractionDigits = 0;
  if (i < n && literal.charCodeAt(i) === 46) {
    for (let c = literal.charCodeAt(++i); i < n && isDigit(c); c = literal.charCodeAt(++i)) {
      fraction = fraction * 10 + (c - 48);
      fractionDigits++;
    }
    if (fractionDigits === 0) i = -1; // "1." is not a literal
  }
  const plain = i === n && wholeDigits >= 1 && wholeDigits <= 9 && fractionDigits <= MONEY_SCALE && !(wholeDigits > 1 && literal.charCodeAt(start) === 48);
  if (plain) {
    const micros = BigInt(whole * 1e6 + fraction * FRACTION_SCALE[fractionDigits]!);
    return negative ? -micros : micros;
  }
  if (!DECIMAL_PATTERN.test(literal)) throw new RangeError(`not a decimal with ≤${MONEY_SCALE} fractional digits: ${literal}`);
  const [w = '0', f = ''] = (negative ? literal.slice(1) : literal).split('.');
  const micros = BigInt(w) * SCALE_FACTOR + BigInt(f.padEnd(MONEY_SCALE, '0'));
  return negative ? -micros : micros;
}

const SAFE_MICROS = BigInt(Number.MAX_SAFE_INTEGER);

/** Renders micro-units as the shortest exact decimal literal ("12.5", "3", "0.000001"). */
export function fromMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  let whole: bigint | number;
  let rest: bigint | number;
  if (abs <= SAFE_MICROS) {
    // A safe integer: the same division in doubles, exactly (no BigInt division).
    const n = Number(abs);
    rest = n % 1e6;
    whole = (n - rest) / 1e6;
  } else {
    whole = abs / SCALE_FACTOR;
    rest = abs % SCALE_FACTOR;
  }
  if (rest === 0 || rest === 0n) return `${negative ? '-' : ''}${whole}`;
  const fraction = rest.toString().padStart(MONEY_SCALE, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
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
