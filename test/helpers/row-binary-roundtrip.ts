/**
 * A RowBinary body of awkward values (src/storage/row-binary.ts) and the check that
 * ClickHouse stored exactly them: run by the embedded wrapper test and, through
 * chdb-server's spool, by the server-mode one.
 */
import { expect } from 'vitest';
import { z } from 'zod';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { RowBinaryWriter } from '../../src/storage/row-binary.ts';

const COLUMNS = [
  ['id', 'UInt64'],
  ['s', 'String'],
  ['lc', 'LowCardinality(String)'],
  ['at', "DateTime('UTC')"],
  ['ms', 'Int64'],
  ['amount', 'Nullable(Decimal(38, 6))'],
  ['m', 'Map(String, String)'],
] as const;

const long = 'x'.repeat(200);
/** [s, lc, at (s), ms, amount, map]: ASCII and not, long, escapes, nulls, big and negative decimals. */
const VALUES: [string, string, number, number, string | null, Record<string, string>][] = [
  ['plain', 'USD', 1_700_000_040, 1_700_000_040_123, '12.5', { plan: 'pro' }],
  ["quote ' and \\ back\tslash\nline", '', 0, -1, null, {}],
  ['naïve café ✓ 🚀', 'EUR', 4_294_967_295, -9_007_199_254_740_991, '-0.000001', { 'clé': 'valeur ✓', empty: '' }],
  [long, long, 86_400, 9_007_199_254_740_991, '99999999999999999999999999999999.999999', { [long]: long }],
  [`${long}é`, 'x', 60, 0, '-12345678901234567890.123456', { a: '1', b: '2', c: '3' }],
  ['', 'JPY', 120, 42, '0', {}],
  // Both sides of the 15-digit double path, leading zeros, and forms that are not plain.
  ['edge', 'USD', 180, 1, '999999999.999999', {}],
  ['edge', 'USD', 240, 2, '-999999999.99999', {}],
  ['edge', 'USD', 300, 3, '1000000000.000001', {}],
  ['edge', 'USD', 360, 4, '007.50', {}],
  ['edge', 'USD', 420, 5, '-0', {}],
];

/** Creates `table`, inserts the awkward rows twice with one dedup token, and checks they are stored once, exactly. */
export async function checkRowBinaryRoundTrip(db: ClickHouse, table: string): Promise<void> {
  await db.command({
    queryId: 'test.rb_table',
    sql: `CREATE TABLE ${table} (${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')}) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`,
  });
  const body = new RowBinaryWriter(COLUMNS, 16); // tiny: the buffer must grow
  VALUES.forEach(([s, lc, at, ms, amount, m], i) => {
    body.int64(i);
    body.string(s);
    body.string(lc);
    body.uint32(at);
    body.int64(ms);
    body.nullableDecimal128(amount, 6);
    body.stringMap(m, (v) => v);
    body.endRow();
  });
  for (let i = 0; i < 2; i++) {
    await db.insertRowBinary({ queryId: 'test.rb_insert', table, body, settings: { insert_deduplication_token: `${table}-once` } });
  }
  const rows = await db.query({
    queryId: 'test.rb_read',
    sql: `SELECT id, s, lc, toUnixTimestamp(at) AS at, toString(ms) AS ms, toString(amount) AS amount, m FROM ${table} ORDER BY id`,
    row: z.object({ id: z.coerce.number(), s: z.string(), lc: z.string(), at: z.coerce.number(), ms: z.string(), amount: z.string().nullable(), m: z.record(z.string(), z.string()) }),
  });
  const canonical = (d: string | null) => (d === null ? null : d.replace(/^(-?)0*(\d)/, '$1$2').replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '').replace(/^-0$/, '0'));
  expect(rows).toEqual(
    VALUES.map(([s, lc, at, ms, amount, m], id) => ({ id, s, lc, at, ms: String(ms), amount: canonical(amount), m })),
  );
}
