/** Dead letters (table `dead_letters`): rejected input kept with its reason and raw payload. */
import { z } from 'zod';
import type { ClickHouse } from './clickhouse.ts';

/** Raw payloads are cut here so one huge bad item cannot bloat the table. */
export const RAW_LIMIT_BYTES = 64 * 1024;

export interface DeadLetter {
  tenantId: string;
  source: 'http' | 'kafka';
  reason: string;
  issues: unknown;
  raw: string;
}

const row = z.object({
  id: z.string(),
  tenant_id: z.string(),
  source: z.string(),
  reason: z.string(),
  issues: z.string(),
  raw: z.string(),
  received_at_ms: z.coerce.number(),
});
export type DeadLetterRow = z.infer<typeof row>;

export function createDeadLetters(db: ClickHouse) {
  return {
    async append(letters: readonly DeadLetter[]): Promise<void> {
      await db.insert({
        queryId: 'dead_letters.append',
        table: 'dead_letters',
        rows: letters.map((l) => ({
          tenant_id: l.tenantId,
          source: l.source,
          reason: l.reason,
          issues: JSON.stringify(l.issues ?? null),
          raw: l.raw.length > RAW_LIMIT_BYTES ? l.raw.slice(0, RAW_LIMIT_BYTES) : l.raw,
        })),
      });
    },

    /**
     * Newest first, optionally one reason, keyset-paged: `after` is the (received_at ms,
     * id) of the last row of the previous page, so rows with equal times are neither
     * skipped nor repeated. (`id` below is the alias toString(id): order and comparison
     * both use the string form, one total order.)
     */
    async list(o: { tenantId: string; reason?: string; after?: { ms: number; id: string }; limit: number }): Promise<DeadLetterRow[]> {
      return db.query({
        queryId: 'dead_letters.list',
        sql: `SELECT toString(id) AS id, tenant_id, source, reason, issues, raw, toUnixTimestamp64Milli(received_at) AS received_at_ms
              FROM dead_letters
              WHERE tenant_id = {tenant:String}
                AND ({reason:String} = '' OR reason = {reason:String})
                AND (received_at, id) < (fromUnixTimestamp64Milli({after_ms:Int64}, 'UTC'), {after_id:String})
              ORDER BY received_at DESC, id DESC
              LIMIT {limit:UInt32}`,
        params: {
          tenant: o.tenantId,
          reason: o.reason ?? '',
          after_ms: o.after?.ms ?? 253_402_300_799_999,
          after_id: o.after?.id ?? 'ffffffff-ffff-ffff-ffff-ffffffffffff',
          limit: o.limit,
        },
        row,
      });
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
