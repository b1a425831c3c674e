/**
 * A ClickHouse RowBinaryWithNamesAndTypes encoder for hot-path inserts (the event log):
 * a header naming every column and its exact table type, then rows of little-endian
 * binary values. ClickHouse reads it without parsing text, and the header makes a body
 * self-describing, so the same bytes go to a server in an `INSERT … FORMAT` body and to
 * embedded chdb through `file(…, RowBinaryWithNamesAndTypes)` (chdb's inserts take text
 * only; see `insertRowBinary` in clickhouse.ts).
 *
 * Each writer method writes one value of one type, in the column order of the header;
 * the caller writes every column of a row, in order. ASCII strings (ids, enum values,
 * decimals: nearly everything on the ingest path) are copied byte by byte, which is much
 * cheaper than a `Buffer.write` call per short string; others go through `Buffer.write`.
 */

/** Decimal(38, S) as Int128: values within ±2⁵³ (every realistic amount) skip BigInt. */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;
const TWO_32 = 2 ** 32;

/**
 * `text` × 10^scale as a number, in one scan without allocating, when it is plain decimal
 * text (-?digits[.digits], at most `scale` fractional digits) of at most 15 digits once
 * scaled, so exact in a double; otherwise null (the caller's general path decides, and
 * words any error).
 */
function scaledDigits(text: string, scale: number): number | null {
  const len = text.length;
  let i = text.charCodeAt(0) === 45 ? 1 : 0;
  const neg = i === 1;
  let v = 0;
  let whole = 0;
  let frac = -1;
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && frac < 0) {
      frac = 0;
      continue;
    }
    if (c < 48 || c > 57) return null;
    v = v * 10 + (c - 48);
    if (frac >= 0) frac++;
    else whole++;
  }
  const fracDigits = frac < 0 ? 0 : frac;
  if (whole === 0 || frac === 0 || fracDigits > scale || whole + scale > 15) return null;
  v *= 10 ** (scale - fracDigits);
  return neg ? -v : v;
}

export class RowBinaryWriter {
  private buf: Buffer;
  private at = 0;
  private rowCount = 0;

  /** Starts a body with its header: the column names and their exact ClickHouse types. */
  constructor(readonly columns: readonly (readonly [name: string, type: string])[], sizeHint = 1 << 16) {
    this.buf = Buffer.allocUnsafe(sizeHint);
    this.varint(columns.length);
    for (const [name] of columns) this.string(name);
    for (const [, type] of columns) this.string(type);
  }

  /** The body so far (a view of the writer's buffer: copy it before writing more). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** Rows written (counted by `endRow`). */
  get rows(): number {
    return this.rowCount;
  }

  endRow(): void {
    this.rowCount++;
  }

  private room(n: number): Buffer {
    if (this.at + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
      this.buf.copy(grown, 0, 0, this.at);
      this.buf = grown;
    }
    return this.buf;
  }

  private varint(v: number): void {
    const buf = this.room(10);
    while (v >= 0x80) {
      buf[this.at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[this.at++] = v;
  }

  /** String and LowCardinality(String): byte length (varint), then UTF-8 bytes. */
  string(s: string): void {
    const len = s.length;
    const buf = this.room(len * 3 + 10);
    if (len < 0x80) {
      // One length byte, then the characters themselves while they are ASCII.
      let o = this.at + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[o++] = c;
      }
      if (i === len) {
        buf[this.at] = len;
        this.at = o;
        return;
      }
    }
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.at += this.buf.write(s, this.at);
  }

  /** UInt8 (also Bool), and the null flag of a Nullable (1 = null). */
  uint8(v: number): void {
    this.room(1)[this.at++] = v;
  }

  /** UInt32 (also DateTime: seconds since the epoch). */
  uint32(v: number): void {
    this.room(4).writeUInt32LE(v, this.at);
    this.at += 4;
  }

  /** Int64 and UInt64 from a safe integer. */
  int64(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not a safe integer: ${v}`);
    const buf = this.room(8);
    const lo = v % TWO_32;
    buf.writeUInt32LE(lo < 0 ? lo + TWO_32 : lo, this.at);
    buf.writeInt32LE(Math.floor(v / TWO_32), this.at + 4);
    this.at += 8;
  }

  /** Decimal(38, scale) from decimal text with at most `scale` fractional digits. */
  decimal128(text: string, scale: number): void {
    const scaled = scaledDigits(text, scale);
    const buf = this.room(16);
    if (scaled !== null) {
      this.int64(scaled);
      buf.fill(scaled < 0 ? 0xff : 0, this.at, this.at + 8);
      this.at += 8;
      return;
    }
    const m = DECIMAL.exec(text);
    if (!m || (m[3]?.length ?? 0) > scale) throw new RangeError(`not a decimal with at most ${scale} fractional digits: ${text}`);
    let v = BigInt(`${m[2]}${(m[3] ?? '').padEnd(scale, '0')}`);
    if (m[1]) v = (1n << 128n) - v; // two's complement
    buf.writeBigUInt64LE(v & 0xffff_ffff_ffff_ffffn, this.at);
    buf.writeBigUInt64LE((v >> 64n) & 0xffff_ffff_ffff_ffffn, this.at + 8);
    this.at += 16;
  }

  /** Nullable(Decimal(38, scale)): the null flag, then the value when there is one. */
  nullableDecimal128(text: string | null | undefined, scale: number): void {
    if (text === null || text === undefined) return this.uint8(1);
    this.uint8(0);
    this.decimal128(text, scale);
  }

  /**
   * Map(String, String): the entry count (varint), then key and value of each entry, the
   * values as `text` renders them (written in place: no object of texts per row).
   */
  stringMap<V>(m: Readonly<Record<string, V>>, text: (v: V) => string): void {
    let entries = 0;
    for (const _ in m) entries++;
    this.varint(entries);
    for (const k in m) {
      this.string(k);
      this.string(text(m[k]!));
    }
  }
}
