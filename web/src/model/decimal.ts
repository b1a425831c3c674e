/**
 * Exact decimals for the browser: the API sends money and counts as decimal strings;
 * live updates add and subtract them as BigInt micro-units (6 fractional digits, the
 * API's scale), so a tile never drifts from what the API would answer.
 */
const SCALE = 6;
const FACTOR = 10n ** BigInt(SCALE);
const PATTERN = /^(-)?(\d+)(?:\.(\d{1,6}))?$/;

export function toMicros(literal: string): bigint {
  const m = PATTERN.exec(literal.trim());
  if (!m) throw new RangeError(`not a decimal with ≤${SCALE} fractional digits: "${literal}"`);
  const micros = BigInt(m[2]!) * FACTOR + BigInt((m[3] ?? '').padEnd(SCALE, '0'));
  return m[1] ? -micros : micros;
}

/** Shortest exact literal, the same canonical form the API renders ("12.5", "3"). */
export function fromMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const fraction = (abs % FACTOR).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${abs / FACTOR}${fraction ? `.${fraction}` : ''}`;
}

/** For display only (formatting, percentages): a float is fine once nothing adds to it. */
export const toNumber = (micros: bigint): number => Number(micros) / Number(FACTOR);

/** Relative change in percent, or null when there is nothing to compare with. */
export function percentChange(current: bigint, previous: bigint): number | null {
  if (previous === 0n) return null;
  return (Number(current - previous) / Number(previous < 0n ? -previous : previous)) * 100;
}
