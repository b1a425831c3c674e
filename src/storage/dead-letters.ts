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

    /** Newest first, optionally one reason, paged by `before` (received_at ms). */
    async list(o: { tenantId: string; reason?: string; beforeMs?: number; limit: number }): Promise<DeadLetterRow[]> {
      return db.query({
        queryId: 'dead_letters.list',
        sql: `SELECT toString(id) AS id, tenant_id, source, reason, issues, raw, toUnixTimestamp64Milli(received_at) AS received_at_ms
              FROM dead_letters
              WHERE tenant_id = {tenant:String}
                AND ({reason:String} = '' OR reason = {reason:String})
                AND received_at < fromUnixTimestamp64Milli({before:Int64}, 'UTC')
              ORDER BY received_at DESC, id
              LIMIT {limit:UInt32}`,
        params: { tenant: o.tenantId, reason: o.reason ?? '', before: o.beforeMs ?? 253_402_300_799_999, limit: o.limit },
        row,
      });
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
